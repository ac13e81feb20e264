package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ivid-project/ivid/internal/blob"
)

// RotateKeys re-wraps every blob's data key under a new master key and
// then makes it the key file's key; the old key is gone afterwards. It
// needs the server stopped (it takes the data folder's lock). Interrupted,
// it resumes: the next key waits in MasterKeyFile.new, and the server
// accepts both meanwhile.
func RotateKeys(ctx context.Context, cfg Config) (int, error) {
	cfg.defaults()
	if cfg.MasterKey != "" {
		return 0, fmt.Errorf("the master key comes from %s: rotation needs a key file (--master-key-file)", EnvMasterKey)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	old, err := blob.ReadKeyFile(cfg.MasterKeyFile)
	if err != nil {
		return 0, fmt.Errorf("current master key: %w", err)
	}
	newPath := cfg.MasterKeyFile + ".new"
	next, err := blob.ReadKeyFile(newPath)
	if errors.Is(err, fs.ErrNotExist) {
		next = blob.GenerateKey()
		if err := blob.WriteKeyFile(newPath, next); err != nil {
			return 0, err
		}
	} else if err != nil {
		return 0, err
	}
	be, err := blob.OpenLocal(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		return 0, err
	}
	defer be.Close()
	st, err := blob.Open(ctx, be, next, old)
	if err != nil {
		return 0, err
	}
	n, err := st.Rotate(ctx)
	if err != nil {
		return n, err
	}
	// Packed blobs were re-wrapped by appending: their versions under the
	// old key stay until the packs holding them are compacted. Before the
	// key file changes, so that an interrupted compaction resumes with the
	// rotation, under the same new key.
	if _, err := be.Compact(ctx); err != nil {
		return n, fmt.Errorf("removing the blobs' versions under the old key: %w", err)
	}
	if err := os.Rename(newPath, cfg.MasterKeyFile); err != nil {
		return n, err
	}
	d, err := os.Open(filepath.Dir(cfg.MasterKeyFile))
	if err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}
