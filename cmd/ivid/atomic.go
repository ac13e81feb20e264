package main

import (
	"os"
	"path/filepath"
)

// atomicFile is written beside its target and renamed over it by Commit,
// so that a failed run leaves no half-written file. Close discards it
// unless committed.
type atomicFile struct {
	*os.File
	target string
	done   bool
}

func createAtomic(target string) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(target), ".ivid-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, target: target}, nil
}

// Commit syncs the file and renames it over the target.
func (a *atomicFile) Commit() error {
	if err := a.Sync(); err != nil {
		return err
	}
	if err := a.File.Close(); err != nil {
		return err
	}
	a.done = true
	if err := os.Rename(a.Name(), a.target); err != nil {
		os.Remove(a.Name())
		return err
	}
	return nil
}

// Close removes the temporary file if Commit did not happen.
func (a *atomicFile) Close() error {
	if a.done {
		return nil
	}
	a.done = true
	a.File.Close()
	return os.Remove(a.Name())
}

func writeFileAtomic(path string, data []byte) error {
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
