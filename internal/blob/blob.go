// Package blob stores media content encrypted at rest and addressed by its
// SHA-256: each blob has its own data key, wrapped by a master key, and is
// verified against its address whenever it is read.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// ID is a blob's address: the SHA-256 of its plaintext.
type ID [32]byte

// ParseID reads 64 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("blob id: want 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("blob id: %w", err)
	}
	return id, nil
}

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Sum returns the ID of content.
func Sum(b []byte) ID { return sha256.Sum256(b) }

var (
	// ErrNotFound means no blob has the ID.
	ErrNotFound = errors.New("blob not found")
	// ErrCorrupt means a blob failed authentication or its content does not
	// hash to its ID: it was damaged or tampered with.
	ErrCorrupt = errors.New("blob corrupt or tampered with")
	// ErrMismatch means content given to Put does not hash to the ID given.
	ErrMismatch = errors.New("content does not match its SHA-256")
	// ErrWrongKey means no configured master key opens the blob.
	ErrWrongKey = errors.New("blob sealed under an unknown master key")
)

// Backend keeps opaque files by name. Local disk implements it; an
// S3-compatible store can follow.
type Backend interface {
	// Create returns a file that becomes visible under name only when
	// Commit returns without error; Abort discards it.
	Create(ctx context.Context, name string) (PendingFile, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	Exists(ctx context.Context, name string) (bool, error)
	// List calls fn with every committed name.
	List(ctx context.Context, fn func(name string) error) error
	Remove(ctx context.Context, name string) error
}

// PendingFile is a file being written.
type PendingFile interface {
	io.Writer
	Commit() error
	Abort() error
}
