package filehash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrIsDir is returned for a directory given without recursion.
var ErrIsDir = errors.New("is a directory (use -r to hash its files)")

// ErrSymlink is returned for symbolic links found while walking: they are not
// followed unless asked, so that a scan never leaves the evidence tree.
var ErrSymlink = errors.New("symbolic link not followed")

// WalkOptions say how roots are expanded into files.
type WalkOptions struct {
	Recursive      bool
	FollowSymlinks bool
}

// Walk sends one Job per file under roots, in lexical order within each
// root, and closes jobs when done. Entries that are not regular files are
// sent with an error so that they are reported, never silently dropped.
func Walk(ctx context.Context, roots []string, opts WalkOptions, jobs chan<- Job) error {
	defer close(jobs)
	send := func(j Job) error {
		select {
		case jobs <- j:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, root := range roots {
		if root == "-" {
			if err := send(Job{Path: "-", Reader: os.Stdin}); err != nil {
				return err
			}
			continue
		}
		fi, err := os.Stat(root)
		if err != nil {
			if err := send(Job{Path: root, Err: err}); err != nil {
				return err
			}
			continue
		}
		if !fi.IsDir() {
			if err := send(Job{Path: root}); err != nil {
				return err
			}
			continue
		}
		if !opts.Recursive {
			if err := send(Job{Path: root, Err: ErrIsDir}); err != nil {
				return err
			}
			continue
		}
		err = walkDir(ctx, root, opts, send, map[string]bool{})
		if err != nil {
			return err
		}
	}
	return nil
}

func walkDir(ctx context.Context, root string, opts WalkOptions, send func(Job) error, seen map[string]bool) error {
	if real, err := filepath.EvalSymlinks(root); err == nil {
		if seen[real] {
			return send(Job{Path: root, Err: errors.New("symbolic link loop, not followed again")})
		}
		seen[real] = true
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return send(Job{Path: path, Err: err})
			}
			if serr := send(Job{Path: path, Err: err}); serr != nil {
				return serr
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		t := d.Type()
		switch {
		case d.IsDir():
			return nil
		case t.IsRegular():
			return send(Job{Path: path})
		case t&fs.ModeSymlink != 0:
			if !opts.FollowSymlinks {
				return send(Job{Path: path, Err: ErrSymlink})
			}
			fi, err := os.Stat(path)
			if err != nil {
				return send(Job{Path: path, Err: fmt.Errorf("broken symbolic link: %w", err)})
			}
			if fi.IsDir() {
				return walkDir(ctx, path, opts, send, seen)
			}
			return send(Job{Path: path})
		default:
			return send(Job{Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, fileType(t))})
		}
	})
}
