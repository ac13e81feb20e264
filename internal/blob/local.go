package blob

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Local is a Backend on a local directory. Blobs up to 8 MiB are appended
// to pack files (see pack.go). Larger ones, and other files, are written
// to a temporary name, synced, renamed into place and the directory
// synced, so that a crash leaves either the whole file or nothing;
// committed files are read-only.
type Local struct {
	dir string
	// made holds the shard directories known to exist: creating one that
	// exists still costs a system call that took 0.3 ms a blob here.
	made  sync.Map
	packs *packs
}

// OpenLocal uses dir, creating it if needed.
func OpenLocal(dir string) (*Local, error) {
	return openLocal(dir, defaultPackFile, defaultPackSize)
}

// openLocal packs files up to packFile bytes (none if 0) in packs of up to
// packSize.
func openLocal(dir string, packFile int, packSize int64) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	l := &Local{dir: dir}
	if packFile > 0 {
		p, err := openPacks(filepath.Join(dir, packDir), packFile, packSize)
		if err != nil {
			return nil, err
		}
		l.packs = p
	}
	// Blob names are hex: their 256 shard directories are made up front,
	// so that a fresh store's first writes do not each make one.
	have := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	for _, e := range entries {
		have[e.Name()] = e.IsDir()
	}
	made := false
	for i := range 256 {
		shard := fmt.Sprintf("%02x", i)
		if !have[shard] {
			if err := os.Mkdir(filepath.Join(dir, shard), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("blob store: %w", err)
			}
			made = true
		}
		l.made.Store(filepath.Join(dir, shard), true)
	}
	if made {
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("blob store: %w", err)
		}
	}
	return l, nil
}

func (l *Local) path(name string) (string, error) {
	if len(name) < 4 || strings.ContainsAny(name, `/\.`) {
		return "", fmt.Errorf("blob store: bad name %q", name)
	}
	return filepath.Join(l.dir, name[:2], name), nil
}

type localPending struct {
	f      *os.File
	target string
	done   bool
}

// packDir is the folder of the packs, beside the 256 shard folders.
const packDir = "packs"

// Close seals the pack being appended to, so that the next opening reads
// its index rather than scanning it. The store is not used after.
func (l *Local) Close() error {
	if l.packs == nil {
		return nil
	}
	return l.packs.close()
}

// Compact removes from the packs the blob versions a key rotation (or a
// removal) left there, and reports the bytes freed. After a rotation it
// leaves no blob wrapped under the old key.
func (l *Local) Compact(ctx context.Context) (int64, error) {
	if l.packs == nil {
		return 0, nil
	}
	return l.packs.compact(ctx)
}

// Damaged reports the bytes of torn or damaged records found at the end of
// packs when the store was opened: a crash in the middle of an append
// leaves some, never acknowledged.
func (l *Local) Damaged() int64 {
	if l.packs == nil {
		return 0
	}
	return l.packs.skipped
}

func (l *Local) packed(name string) ([32]byte, bool) {
	if l.packs == nil {
		return [32]byte{}, false
	}
	return packKey(name)
}

func (l *Local) Create(_ context.Context, name string) (PendingFile, error) {
	if key, ok := l.packed(name); ok {
		if _, err := l.path(name); err != nil {
			return nil, err
		}
		return l.newPackPending(name, key), nil
	}
	return l.createFile(name)
}

// createFile makes a pending file of its own.
func (l *Local) createFile(name string) (PendingFile, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	if _, ok := l.made.Load(dir); !ok {
		if err := l.makeShard(dir); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if errors.Is(err, fs.ErrNotExist) {
		// Removed behind our back: make it again.
		if err = l.makeShard(dir); err == nil {
			f, err = os.CreateTemp(dir, ".tmp-*")
		}
	}
	if err != nil {
		return nil, err
	}
	return &localPending{f: f, target: p}, nil
}

// makeShard makes a shard directory and syncs the store's directory, so
// that the new entry survives a crash along with the files in it.
func (l *Local) makeShard(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.made.Store(dir, true)
	return nil
}

func (p *localPending) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *localPending) Commit() error {
	if p.done {
		return errors.New("blob store: file already committed or aborted")
	}
	p.done = true
	err := p.f.Chmod(0o400)
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.f.Name(), p.target)
	}
	if err != nil {
		os.Remove(p.f.Name())
		return fmt.Errorf("blob store: commit: %w", err)
	}
	return syncDir(filepath.Dir(p.target))
}

func (p *localPending) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.f.Close()
	return os.Remove(p.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (l *Local) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if key, ok := l.packed(name); ok {
		if at, ok := l.packs.lookup(key); ok {
			return l.packs.open(at)
		}
	}
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

func (l *Local) Exists(_ context.Context, name string) (bool, error) {
	if key, ok := l.packed(name); ok {
		if _, ok := l.packs.lookup(key); ok {
			return true, nil
		}
	}
	p, err := l.path(name)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l *Local) List(ctx context.Context, fn func(string) error) error {
	if l.packs != nil {
		for _, k := range l.packs.keys() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := fn(hex.EncodeToString(k[:])); err != nil {
				return err
			}
		}
	}
	return filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() && p != l.dir && d.Name() == packDir {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if key, ok := l.packed(d.Name()); ok {
			if _, ok := l.packs.lookup(key); ok {
				return nil // listed from the packs
			}
		}
		return fn(d.Name())
	})
}

func (l *Local) Remove(_ context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if key, ok := l.packed(name); ok {
		if _, ok := l.packs.lookup(key); ok {
			if err := l.packs.add(kindRemove, key, nil); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// CleanTemp removes temporary files a crash left behind.
func (l *Local) CleanTemp() error {
	return filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".tmp-") {
			os.Remove(p)
		}
		return nil
	})
}
