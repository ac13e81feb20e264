package filehash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/media"
)

// TestMain makes the test binary a decoder worker when Decoders starts it
// as one. The worker's hook stands in for hostile files: stuck* never
// ends, panic* panics and exit* ends the process as a fatal error would.
func TestMain(m *testing.M) {
	if os.Getenv(decoderEnv) != "" {
		hook := func(name string) {
			base := filepath.Base(name)
			switch {
			case strings.HasPrefix(base, "stuck"):
				select {}
			case strings.HasPrefix(base, "panic"):
				panic("decoder bug on " + base)
			case strings.HasPrefix(base, "environ"):
				panic(fmt.Sprint("environment: ", os.Environ()))
			case strings.HasPrefix(base, "exit"):
				fmt.Fprintln(os.Stderr, "fatal error: stack overflow (a test's stand-in)")
				os.Exit(2)
			}
		}
		testHookDecode.Store(&hook)
		ServeDecoder()
	}
	os.Exit(m.Run())
}

// jsonOf is a record as ivid prints it.
func jsonOf(t *testing.T, rec Record) string {
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testDecoders(t *testing.T) *Decoders {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoders(exe)
	t.Cleanup(func() { d.Close() })
	return d
}

// TestIsolatedSameRecords: images hashed in a worker process give the
// same records as in process, errors included (with the class callers
// test), in every mode.
func TestIsolatedSameRecords(t *testing.T) {
	d := testDecoders(t)
	files, _ := filepath.Glob(filepath.Join(mediaTestdata, "*.*"))
	for _, opts := range []Options{{Dihedral: true}, {Fast: true}, {MaxPixels: 1000}} {
		in := New(opts)
		opts.Decoders = d
		iso := New(opts)
		for _, f := range files {
			want, _, werr := in.File(f)
			got, _, gerr := iso.File(f)
			if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
				t.Errorf("%s %+v:\n got %s\nwant %s", filepath.Base(f), opts, g, w)
			}
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Errorf("%s: error %v, want %v", filepath.Base(f), gerr, werr)
			}
			for _, class := range []error{media.ErrTooLarge, media.ErrCorrupt, media.ErrUnsupported} {
				if errors.Is(werr, class) != errors.Is(gerr, class) {
					t.Errorf("%s: %v is %v: %v, want %v", filepath.Base(f), gerr, class, errors.Is(gerr, class), errors.Is(werr, class))
				}
			}
		}
	}
	if n := d.running(); n != 1 {
		t.Errorf("%d worker processes for one hasher at a time, want 1", n)
	}
	if runtime.GOOS == "linux" && d.ProcessTime() <= 0 {
		t.Errorf("the workers' processor time is %v", d.ProcessTime())
	}
}

// TestIsolatedStopped: a decoding past the limit in a worker is stopped
// (its process killed), not left running; the next file is hashed by a
// new worker.
func TestIsolatedStopped(t *testing.T) {
	d := testDecoders(t)
	photo, err := os.ReadFile(filepath.Join(mediaTestdata, "exif-full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := New(Options{Dihedral: true}).Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo)))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Dihedral: true, DecodeLimit: 300 * time.Millisecond, Decoders: d})
	start := time.Now()
	rec, _, err := h.Reader("stuck.jpg", bytes.NewReader(photo), int64(len(photo)))
	if !errors.Is(err, ErrDecodeLimit) || rec.SHA256 != want.SHA256 || rec.PDQ != nil {
		t.Fatalf("stuck file: %v, %+v", err, rec)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("answered after %v", el)
	}
	if n := d.running(); n != 0 {
		t.Fatalf("%d worker processes left running", n)
	}
	got, _, err := h.Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo)))
	if g, w := jsonOf(t, got), jsonOf(t, want); err != nil || g != w {
		t.Fatalf("next file: %v\n got %s\nwant %s", err, g, w)
	}
}

// TestIsolatedFatal: a worker that dies on a file (a fatal error recover
// cannot catch) fails that file as corrupt, with the reason it printed,
// and the next file is hashed; a worker's panic is raised again in the
// caller, as in process.
func TestIsolatedFatal(t *testing.T) {
	d := testDecoders(t)
	photo, err := os.ReadFile(filepath.Join(mediaTestdata, "exif-full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Decoders: d})
	_, _, err = h.Reader("exit.jpg", bytes.NewReader(photo), int64(len(photo)))
	if !errors.Is(err, media.ErrCorrupt) || !strings.Contains(err.Error(), "stack overflow") {
		t.Fatalf("dying decoder: %v", err)
	}
	if _, _, err := h.Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo))); err != nil {
		t.Fatalf("next file: %v", err)
	}
	func() {
		defer func() {
			p, ok := recover().(*decoderPanic)
			if !ok || !strings.Contains(p.String(), "decoder bug on panic.jpg") {
				t.Fatalf("worker's panic raised as %v", p)
			}
		}()
		h.Reader("panic.jpg", bytes.NewReader(photo), int64(len(photo)))
	}()
	if _, _, err := h.Reader("ok.jpg", bytes.NewReader(photo), int64(len(photo))); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}

// TestIsolatedEnvironment: a worker gets none of ivid's environment
// (database URLs, passwords and tokens are passed that way).
func TestIsolatedEnvironment(t *testing.T) {
	t.Setenv("IVID_TEST_SECRET", "s3cret")
	photo, err := os.ReadFile(filepath.Join(mediaTestdata, "exif-full.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Decoders: testDecoders(t)})
	defer func() {
		p, ok := recover().(*decoderPanic)
		if !ok || !strings.Contains(p.String(), "environment: [") || strings.Contains(p.String(), "s3cret") {
			t.Fatalf("worker's environment: %v", p)
		}
	}()
	h.Reader("environ.jpg", bytes.NewReader(photo), int64(len(photo)))
}

// FuzzReadFrame: whatever a worker (one taken over by a crafted file,
// say) writes back, reading it neither panics nor takes more than the
// frame's bounds, and a frame written is read back the same.
func FuzzReadFrame(f *testing.F) {
	var good bytes.Buffer
	writeFrame(&good, decodeResponse{Record: Record{Path: "a.jpg", Width: 3}}, nil)
	f.Add(good.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp decodeResponse
		if err := readFrame(bytes.NewReader(b), &resp, nil, 0); err != nil {
			return
		}
		var again bytes.Buffer
		if err := writeFrame(&again, resp, nil); err != nil {
			t.Fatal(err)
		}
		var back decodeResponse
		if err := readFrame(&again, &back, nil, 0); err != nil || jsonOf(t, back.Record) != jsonOf(t, resp.Record) {
			t.Fatalf("a frame read does not read back the same: %v", err)
		}
	})
}
