package blob

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Key is a 256-bit master key. Its ID, derived from the key, is written in
// every blob header so that a store knows which key seals which blob.
type Key struct {
	id [8]byte
	k  [32]byte
}

// ErrBadKey means a master key is not 32 bytes in base64 or hex.
var ErrBadKey = errors.New("master key must be 32 bytes, base64 or hex encoded")

// NewKey makes a Key of 32 raw bytes.
func NewKey(raw []byte) (Key, error) {
	var k Key
	if len(raw) != 32 {
		return k, ErrBadKey
	}
	copy(k.k[:], raw)
	sum := sha256.Sum256(append([]byte("ivid master key id\x00"), raw...))
	copy(k.id[:], sum[:8])
	return k, nil
}

// GenerateKey returns a new random key.
func GenerateKey() Key {
	raw := make([]byte, 32)
	rand.Read(raw)
	k, _ := NewKey(raw)
	return k
}

// ParseKey reads a key written by Encode (base64) or as 64 hex digits.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == 32 {
		return NewKey(raw)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return Key{}, ErrBadKey
	}
	return NewKey(raw)
}

// Encode writes the key in base64.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k.k[:]) }

// ID is the key's public identifier (never the key itself).
func (k Key) ID() string { return hex.EncodeToString(k.id[:]) }

// ReadKeyFile reads a key file; it refuses a file others can read.
func ReadKeyFile(path string) (Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Key{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("master key file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, err
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteKeyFile writes a key with mode 0600, atomically; it never
// overwrites an existing file.
func WriteKeyFile(path string, k Key) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(k.Encode() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path) // fails if path exists
	}
	os.Remove(tmp)
	return err
}
