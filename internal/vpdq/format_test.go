package vpdq

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/vpdq/hashes*/*.txt")
	if len(files) < 20 {
		t.Fatalf("found %d hash files, want the 30 copied from upstream", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := ReadLines(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var out bytes.Buffer
		if err := WriteLines(&out, frames); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("%s: round trip differs", f)
		}
		back, err := ParseHMA(FormatHMA(frames))
		if err != nil {
			t.Fatalf("%s: HMA round trip: %v", f, err)
		}
		for i := range frames {
			if back[i].Hash != frames[i].Hash || back[i].Quality != frames[i].Quality {
				t.Fatalf("%s: HMA round trip changed frame %d", f, i)
			}
		}
	}
}

func TestPyFormat3(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0.0"}, {0.033, "0.033"}, {0.9666, "0.967"}, {1, "1.0"}, {9.999, "10.0"},
		{18.733, "18.7"}, {99.4, "99.4"}, {99.96, "1e+02"}, {100, "1e+02"}, {123.4, "1.23e+02"},
		{3600, "3.6e+03"}, {0.00001, "1e-05"}, {0.0001234, "0.000123"},
	} {
		if got := pyFormat3(c.v); got != c.want {
			t.Errorf("pyFormat3(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestParseHMA(t *testing.T) {
	h := strings.Repeat("ab", 32)
	frames, err := ParseHMA(`["` + h + `,100,0.0", "` + h + `,49,1.23e+02", "` + h + `,7,1e+02"]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 || frames[1].Timestamp != 123 || frames[2].Timestamp != 100 || frames[1].Quality != 49 {
		t.Fatalf("got %+v", frames)
	}
	if f, err := ParseHMA("  "); err != nil || len(f) != 0 {
		t.Fatalf("empty signal: %v %v", f, err)
	}
	for _, bad := range []string{`[`, `[1]`, `["` + h + `,100"]`, `["` + h[1:] + `,100,0.0"]`, `["` + h + `,101,0.0"]`, `["` + h + `,10,-1"]`, `["` + h + `,10,nan"]`} {
		if _, err := ParseHMA(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHMA(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestReadLinesErrors(t *testing.T) {
	h := strings.Repeat("0f", 32)
	for _, c := range []struct {
		in   string
		line int
	}{
		{"0,100," + h + ",0.000\n1,100," + h + "\n", 2},
		{"x,100," + h + ",0.000\n", 1},
		{"\n\n0,100,zz,0.000\n", 3},
		{"0,-1," + h + ",0.000\n", 1},
		{"0,100," + h + ",inf\n", 1},
	} {
		_, err := ReadLines(strings.NewReader(c.in))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != c.line || !errors.Is(err, ErrMalformed) {
			t.Errorf("ReadLines(%q) = %v, want a ParseError at line %d", c.in, err, c.line)
		}
	}
	if _, err := ReadLines(strings.NewReader(strings.Repeat("1", 5000))); !errors.Is(err, ErrMalformed) {
		t.Errorf("over-long line: %v", err)
	}
}

func FuzzReadLines(f *testing.F) {
	f.Add([]byte("0,100," + strings.Repeat("e2", 32) + ",0.000\n"))
	f.Add([]byte("12,0,0000000000000000000000000000000000000000000000000000000000000000,1e+02\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := ReadLines(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteLines(&out, frames); err != nil {
			t.Fatal(err)
		}
		again, err := ReadLines(&out)
		if err != nil || len(again) != len(frames) {
			t.Fatalf("re-reading written frames: %v", err)
		}
		for i := range frames {
			if again[i].Hash != frames[i].Hash || again[i].Number != frames[i].Number || again[i].Quality != frames[i].Quality {
				t.Fatalf("frame %d changed", i)
			}
		}
	})
}

func FuzzParseHMA(f *testing.F) {
	f.Add(`["` + strings.Repeat("e2", 32) + `,100,1.23e+02"]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		frames, err := ParseHMA(s)
		if err != nil {
			return
		}
		if _, err := ParseHMA(FormatHMA(frames)); err != nil {
			t.Fatalf("re-reading %q: %v", FormatHMA(frames), err)
		}
	})
}

// FuzzPPMHeader: the frame reader never panics or over-allocates on a
// damaged stream.
func FuzzPPMHeader(f *testing.F) {
	f.Add([]byte("P6\n4 2\n255\n" + strings.Repeat("\x01\x02\x03", 8)))
	f.Add([]byte("P6 99999999 99999999 255\n"))
	f.Add([]byte("P5\n1 1\n255\n\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		readFrames(bufio.NewReader(bytes.NewReader(data)), Options{MaxPixels: 1 << 16}, 30, 1, func(Frame) error { n++; return nil })
	})
}
