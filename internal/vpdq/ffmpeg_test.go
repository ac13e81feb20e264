package vpdq

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/testenv"
)

// sampleVideos are the upstream samples in testdata, plus those of
// $IVID_VPDQ_VIDEOS (for example ../shared/vpdq/videos) when it is set.
func sampleVideos(t *testing.T) []string {
	t.Helper()
	v, _ := filepath.Glob("../../testdata/vpdq/videos/*.mp4")
	if dir := os.Getenv("IVID_VPDQ_VIDEOS"); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "*.mp4"))
		seen := map[string]bool{}
		for _, p := range v {
			seen[filepath.Base(p)] = true
		}
		for _, p := range more {
			if !seen[filepath.Base(p)] {
				v = append(v, p)
			}
		}
	}
	if len(v) < 5 {
		t.Fatalf("found %d sample videos", len(v))
	}
	return v
}

func hashAll(t testing.TB, path string, o Options) []Frame {
	t.Helper()
	var frames []Frame
	_, err := Hash(context.Background(), path, o, func(f Frame) error {
		frames = append(frames, f)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return frames
}

func linesOf(frames []Frame) []string {
	s := make([]string, len(frames))
	for i, f := range frames {
		s[i] = f.String()
	}
	return s
}

// madeWithSIMD: upstream made this file's hashes with swscale's SIMD path,
// so the C path is about a bit off on some frames (NOTES.md, section 4).
const madeWithSIMD = "test-padded-dimensions"

// withinTolerance is upstream's regtest.py rule: line by line, frames of
// quality >= 50 within distance 31 of the reference; numbers and
// timestamps equal.
func withinTolerance(t *testing.T, name string, got, want []Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, reference has %d", name, len(got), len(want))
	}
	maxd := 0
	for i := range got {
		g, w := got[i], want[i]
		if g.Number != w.Number || fmt.Sprintf("%.3f", g.Timestamp) != fmt.Sprintf("%.3f", w.Timestamp) {
			t.Fatalf("%s: frame %d is %d@%.3f, reference %d@%.3f", name, i, g.Number, g.Timestamp, w.Number, w.Timestamp)
		}
		if w.Quality >= pdq.MinQuality {
			d := pdq.Distance(g.Hash, w.Hash)
			maxd = max(maxd, d)
			if d >= 31 {
				t.Errorf("%s: frame %d at distance %d from the reference", name, g.Number, d)
			}
		}
	}
	t.Logf("%s: %d frames within tolerance, max distance %d", name, len(got), maxd)
}

func compareReference(t *testing.T, dir string, o Options) {
	testenv.NeedFFmpeg(t)
	for _, v := range sampleVideos(t) {
		name := strings.TrimSuffix(filepath.Base(v), ".mp4")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := readHashes(t, filepath.Join("../../testdata/vpdq", dir, name+".txt"))
			got := hashAll(t, v, o)
			if !o.ExactC || name == madeWithSIMD {
				withinTolerance(t, name, got, want)
				return
			}
			g, w := linesOf(got), linesOf(want)
			if len(g) != len(w) {
				t.Fatalf("%d frames, reference has %d", len(g), len(w))
			}
			for i := range g {
				if g[i] != w[i] {
					t.Fatalf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
				}
			}
		})
	}
}

// TestReferenceEveryFrameExact: with FFmpeg's C path (-cpuflags 0) every
// frame's line equals the reference's byte for byte.
func TestReferenceEveryFrameExact(t *testing.T) {
	compareReference(t, "hashes", Options{ExactC: true})
}

// TestReferenceOneSecondExact: the sampling rule and timestamps of
// vpdq-hash-video -r 1.
func TestReferenceOneSecondExact(t *testing.T) {
	compareReference(t, "hashes-1s", Options{ExactC: true, SecondsPerHash: 1})
}

// TestReferenceDefaultFlags: with FFmpeg's SIMD on, frames stay within the
// reference's own regression tolerance.
func TestReferenceDefaultFlags(t *testing.T) {
	compareReference(t, "hashes", Options{})
}

func TestFrameMod(t *testing.T) {
	for _, c := range []struct {
		sec, fps float64
		want     int
	}{
		{1, 30, 30}, {1, 30000.0 / 1001, 29}, {1, 1000000.0 / 66667, 14}, {0.5, 25, 12}, {1, 0.5, 1}, {2, 24, 48},
	} {
		if got := FrameMod(c.sec, c.fps); got != c.want {
			t.Errorf("FrameMod(%v, %v) = %d, want %d", c.sec, c.fps, got, c.want)
		}
	}
}

func TestProbe(t *testing.T) {
	testenv.NeedFFmpeg(t)
	info, err := Probe(context.Background(), "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Codec != "h264" || info.Width != 1280 || info.Height != 720 || info.FrameRate != 30 || info.Frames != 120 || info.Duration < 3.9 || info.Duration > 4.1 {
		t.Fatalf("got %+v", info)
	}
}

// makeVideo encodes a synthetic clip with ffmpeg's test source.
func makeVideo(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-nostdin", "-v", "error"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making %s: %v: %s", name, err, b)
	}
	return out
}

// rotate90 patches the first track header's display matrix of an MP4 to
// a quarter turn, as phones write it.
func rotate90(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("tkhd"))
	if i < 0 || b[i+4] != 0 {
		t.Fatal("no version-0 tkhd box")
	}
	m := b[i+4+40 : i+4+40+36] // after version, flags and 36 bytes of fields
	for k, v := range []uint32{0, 0x10000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000} {
		binary.BigEndian.PutUint32(m[4*k:], v)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRotationReported(t *testing.T) {
	testenv.NeedFFmpeg(t)
	v := makeVideo(t, "rot.mp4", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=1", "-c:v", "mpeg4")
	rotate90(t, v)
	info, err := Probe(context.Background(), v, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Rotation != 90 && info.Rotation != -90 {
		t.Fatalf("rotation %d, want ±90", info.Rotation)
	}
	// vPDQ hashes the frames as stored, not turned: the hashes equal those
	// of the same clip without the rotation.
	plain := makeVideo(t, "plain.mp4", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=1", "-c:v", "mpeg4")
	a, b := hashAll(t, v, Options{}), hashAll(t, plain, Options{})
	if len(a) != 10 || len(b) != 10 || a[3].Hash != b[3].Hash {
		t.Fatalf("rotated clip: %d frames, plain %d; frame 3 equal: %v", len(a), len(b), a[3].Hash == b[3].Hash)
	}
}

func TestBadInput(t *testing.T) {
	testenv.NeedFFmpeg(t)
	dir := t.TempDir()
	good, err := os.ReadFile("../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	audio := makeVideo(t, "audio.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
	for _, c := range []struct {
		name string
		path string
		o    Options
		want error
	}{
		{"garbage", write("garbage.mp4", []byte(strings.Repeat("not a video ", 500))), Options{}, ErrCorrupt},
		{"empty", write("empty.mp4", nil), Options{}, ErrCorrupt},
		{"truncated", write("truncated.mp4", good[:len(good)/3]), Options{}, ErrCorrupt},
		{"audio only", audio, Options{}, ErrNoVideo},
		{"over pixel limit", "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{MaxPixels: 1280*720 - 1}, ErrTooLarge},
		{"no ffmpeg", "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{FFmpeg: "/nonexistent/ffmpeg"}, ErrNoFFmpeg},
		{"no ffprobe", "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{FFprobe: "/nonexistent/ffprobe"}, ErrNoFFmpeg},
		{"missing file", filepath.Join(dir, "nope.mp4"), Options{}, ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			_, err := Hash(context.Background(), c.path, c.o, func(Frame) error { n++; return nil })
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v (after %d frames), want %v", err, n, c.want)
			}
			if c.name == "truncated" && n == 0 {
				t.Errorf("the frames before the cut were lost")
			}
			if c.want == ErrNoFFmpeg && !strings.Contains(err.Error(), "apt install ffmpeg") {
				t.Errorf("error does not say how to install ffmpeg: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestProtocolRefused: evidence is read as a local file only.
func TestProtocolRefused(t *testing.T) {
	testenv.NeedFFmpeg(t)
	// An HLS playlist pointing at the network must not make ffmpeg connect
	// anywhere: only the file protocol is allowed.
	p := filepath.Join(t.TempDir(), "list.m3u8")
	os.WriteFile(p, []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n"), 0o600)
	_, err := Hash(context.Background(), p, Options{}, func(Frame) error { return nil })
	if err == nil {
		t.Fatal("a playlist of network segments was hashed")
	}
}

// children lists the live or zombie processes whose parent is this test.
func children(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+" "+s[:i+1]+" "+f[0])
		}
	}
	return out
}

// TestCancelKillsFFmpeg: a cancelled hash or a failing consumer stops
// ffmpeg and reaps it: no process and no zombie is left.
func TestCancelKillsFFmpeg(t *testing.T) {
	testenv.NeedFFmpeg(t)
	v := "../../testdata/vpdq/videos/chair-19-sd-bar.mp4"
	stop := errors.New("consumer gave up")
	for _, c := range []struct {
		name string
		want error
		run  func(ctx context.Context, cancel func()) error
	}{
		{"cancel", context.Canceled, func(ctx context.Context, cancel func()) error {
			_, err := Hash(ctx, v, Options{ExactC: true}, func(Frame) error { cancel(); return nil })
			return err
		}},
		{"consumer error", stop, func(ctx context.Context, cancel func()) error {
			_, err := Hash(ctx, v, Options{ExactC: true}, func(Frame) error { return stop })
			return err
		}},
		{"deadline", context.DeadlineExceeded, func(ctx context.Context, cancel func()) error {
			ctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
			defer c()
			var n atomic.Int32
			_, err := Hash(ctx, v, Options{ExactC: true}, func(Frame) error { n.Add(1); time.Sleep(50 * time.Millisecond); return nil })
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			err := c.run(ctx, cancel)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if left := children(t); len(left) > 0 {
				t.Fatalf("processes left behind: %v", left)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("stopping took %v", d)
			}
		})
	}
}

// TestLongVideoStreams hashes a ten-minute clip at one hash a second: the
// frames stream through one buffer and the count is the clip's seconds.
func TestLongVideoStreams(t *testing.T) {
	testenv.NeedFFmpeg(t)
	v := makeVideo(t, "long.mkv", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=600", "-c:v", "mpeg4", "-q:v", "10")
	n := 0
	last := -1.0
	_, err := Hash(context.Background(), v, Options{SecondsPerHash: 1}, func(f Frame) error {
		n++
		if f.Timestamp <= last {
			t.Fatalf("timestamps not increasing: %v after %v", f.Timestamp, last)
		}
		last = f.Timestamp
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 600 {
		t.Fatalf("%d hashes, want 600", n)
	}
}

func TestContactSheet(t *testing.T) {
	testenv.NeedFFmpeg(t)
	var buf bytes.Buffer
	err := ContactSheet(context.Background(), "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{}, SheetOptions{Cols: 3, Rows: 2, Width: 600}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	img, format, err := image.Decode(&buf)
	if err != nil || format != "jpeg" {
		t.Fatalf("not a JPEG: %v", err)
	}
	// 3 tiles of 200×112 (16:9, even) side by side, 2 rows.
	if b := img.Bounds(); b.Dx() != 600 || b.Dy() != 224 {
		t.Fatalf("sheet is %v", b)
	}
	if err := ContactSheet(context.Background(), "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{}, SheetOptions{Cols: 40}, io.Discard); err == nil {
		t.Fatal("40 columns accepted")
	}
}

// TestVideoBombLimits: a video with more frames to hash than MaxFrames is
// refused, whether its container says so (MP4) or the count is only found
// while decoding (Matroska keeps none), and one not hashed within
// TimeLimit is stopped: both with their own error, ffmpeg reaped.
func TestVideoBombLimits(t *testing.T) {
	testenv.NeedFFmpeg(t)
	// 6,000 still frames (a minute at 100 frames a second) in about 160 kB.
	src := []string{"-f", "lavfi", "-i", "color=c=black:size=64x48:rate=100:duration=60", "-c:v", "mpeg4", "-q:v", "31"}
	mp4 := makeVideo(t, "bomb.mp4", src...)
	mkv := makeVideo(t, "bomb.mkv", src...)
	if fi, err := os.Stat(mkv); err != nil || fi.Size() > 200_000 {
		t.Fatalf("bomb fixture: %v, %d bytes", err, fi.Size())
	}
	for _, c := range []struct {
		name      string
		path      string
		o         Options
		want      error
		maxFrames int // emitted before the error
	}{
		{"frames declared", mp4, Options{MaxFrames: 1000}, ErrTooLarge, 0},
		{"frames counted", mkv, Options{MaxFrames: 1000}, ErrTooLarge, 1000},
		{"sampled within the limit", mkv, Options{MaxFrames: 1000, SecondsPerHash: 1}, nil, 60},
		{"time limit", mkv, Options{TimeLimit: 150 * time.Millisecond, Dihedral: true}, ErrTimeLimit, 6000},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			start := time.Now()
			_, err := Hash(context.Background(), c.path, c.o, func(Frame) error { n++; return nil })
			if !errors.Is(err, c.want) || n > c.maxFrames {
				t.Fatalf("got %v after %d frames, want %v and at most %d frames", err, n, c.want, c.maxFrames)
			}
			if c.want == ErrTimeLimit && time.Since(start) > 10*time.Second {
				t.Fatalf("stopped after %v", time.Since(start))
			}
			t.Logf("%d frames, %v: %v", n, time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// TestStalledDecoderStopped: an ffmpeg that produces no frame (here a
// stand-in that only sleeps, as a decoder looping on a crafted file
// would) is stopped after StallLimit, with ErrTimeLimit.
func TestStalledDecoderStopped(t *testing.T) {
	testenv.NeedFFmpeg(t)
	stuck := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(stuck, []byte("#!/bin/sh\nexec sleep 60\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := Hash(context.Background(), "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4", Options{FFmpeg: stuck, StallLimit: 200 * time.Millisecond}, func(Frame) error { return nil })
	if !errors.Is(err, ErrTimeLimit) || !strings.Contains(err.Error(), "no frame decoded for 200ms") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stopped after %v", d)
	}
}
