package filehash

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stuckDecoder makes the decoding of files named stuck* wait until the
// test ends or release is called, as a decoder looping on a crafted file
// would.
func stuckDecoder(t *testing.T) (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	hook := func(name string) {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "stuck") {
			<-ch
		}
		if strings.Contains(base, "panic") {
			panic("decoder bug on " + base)
		}
	}
	testHookDecode.Store(&hook)
	t.Cleanup(func() { release(); testHookDecode.Store(nil) })
	return release
}

// TestStuckCounted: Options.Stuck counts the abandoned decodings while
// they run, and each one off when it ends.
func TestStuckCounted(t *testing.T) {
	release := stuckDecoder(t)
	photo, err := os.ReadFile(filepath.Join(mediaTestdata, "exif-full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var stuck atomic.Int64
	h := New(Options{DecodeLimit: 50 * time.Millisecond, Stuck: &stuck})
	for range 2 {
		if _, _, err := h.Reader("stuck.jpg", bytes.NewReader(photo), int64(len(photo))); !errors.Is(err, ErrDecodeLimit) {
			t.Fatal(err)
		}
	}
	if _, _, err := h.Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo))); err != nil {
		t.Fatal(err)
	}
	if n := stuck.Load(); n != 2 {
		t.Fatalf("%d stuck, want 2", n)
	}
	release()
	for deadline := time.Now().Add(10 * time.Second); stuck.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d still counted stuck after their decodings ended", stuck.Load())
		}
	}
}

// TestDecodeLimit: an image whose decoding passes the time limit is
// reported with its digests and ErrDecodeLimit, and the same Hasher goes
// on to hash the next file correctly with buffers of its own.
func TestDecodeLimit(t *testing.T) {
	stuckDecoder(t)
	photo, err := os.ReadFile(filepath.Join(mediaTestdata, "exif-full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := New(Options{Dihedral: true, DecodeLimit: -1}).Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo)))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Dihedral: true, DecodeLimit: 200 * time.Millisecond})
	start := time.Now()
	rec, _, err := h.Reader("stuck.jpg", bytes.NewReader(photo), int64(len(photo)))
	if !errors.Is(err, ErrDecodeLimit) || rec.SHA256 != want.SHA256 || rec.MD5 != want.MD5 || rec.Kind != Image || rec.PDQ != nil || rec.Error == "" {
		t.Fatalf("stuck file: %v, %+v", err, rec)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("answered after %v, want about 200ms", d)
	}
	for range 2 {
		got, _, err := h.Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo)))
		if err != nil || got.PDQ == nil || *got.PDQ != *want.PDQ || *got.Dihedral != *want.Dihedral {
			t.Fatalf("next file: %v, %+v; want %+v", err, got, want)
		}
	}
}

// TestRunPastStuckFile: a run with one worker reports the stuck file in
// its place and hashes the files after it.
func TestRunPastStuckFile(t *testing.T) {
	stuckDecoder(t)
	dir := t.TempDir()
	var jobs []Job
	for _, name := range []string{"a.jpg", "stuck.jpg", "b.png"} {
		src := "exif-full.jpg"
		if filepath.Ext(name) == ".png" {
			src = "sample.png"
		}
		copyFile(t, filepath.Join(mediaTestdata, src), filepath.Join(dir, name))
		jobs = append(jobs, Job{Path: filepath.Join(dir, name)})
	}
	ch := make(chan Job, len(jobs))
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	var got []Result
	err := Run(t.Context(), ch, 1, Options{DecodeLimit: 200 * time.Millisecond}, func(r Result) error {
		got = append(got, r)
		return nil
	})
	if err != nil || len(got) != 3 {
		t.Fatalf("run: %v, %d results", err, len(got))
	}
	for i, r := range got {
		stuck := i == 1
		if r.Record.Path != jobs[i].Path || errors.Is(r.Err, ErrDecodeLimit) != stuck || (!stuck && (r.Err != nil || r.Record.PDQ == nil)) || r.Record.SHA256 == "" {
			t.Errorf("result %d: %s %v", i, r.Record.Path, r.Err)
		}
	}
}

// TestDecoderPanic: a decoder's panic reaches the caller's goroutine, with
// the decoder's stack, where the server recovers it and fails the file;
// a decoding abandoned at the limit that panics later harms nothing.
func TestDecoderPanic(t *testing.T) {
	stuckDecoder(t)
	photo, err := os.ReadFile(filepath.Join(mediaTestdata, "exif-full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []time.Duration{time.Minute, -1} {
		h := New(Options{DecodeLimit: limit})
		func() {
			defer func() {
				p := recover()
				if p == nil || !strings.Contains(fmt.Sprint(p), "decoder bug on panic.jpg") {
					t.Errorf("limit %v: recovered %v, want the decoder's panic", limit, p)
				}
				if limit > 0 && !strings.Contains(fmt.Sprint(p), "filehash.(*Hasher).decode(") {
					t.Errorf("limit %v: the panic lacks the decoder's stack: %v", limit, p)
				}
			}()
			h.Reader("panic.jpg", bytes.NewReader(photo), int64(len(photo)))
		}()
		if _, _, err := h.Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo))); err != nil {
			t.Errorf("limit %v: after the panic: %v", limit, err)
		}
	}
	// Abandoned, then panicking when the test ends and releases it.
	h := New(Options{DecodeLimit: 50 * time.Millisecond})
	if _, _, err := h.Reader("stuck-then-panic.jpg", bytes.NewReader(photo), int64(len(photo))); !errors.Is(err, ErrDecodeLimit) {
		t.Fatal(err)
	}
}
