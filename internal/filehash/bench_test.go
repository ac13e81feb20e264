package filehash

import (
	"os"
	"testing"
	"time"
)

// BenchmarkFile is the whole pipeline on a 2.8 MP JPEG photo: read, three
// digests, EXIF, decode and PDQ.
// Sub-benchmarks: the decoding on a goroutine of its own under the time
// limit (the default), on the caller's, or in a worker process
// (Options.Decoders).
func BenchmarkFile(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	d := NewDecoders(exe)
	defer d.Close()
	for _, tc := range []struct {
		name     string
		limit    time.Duration
		decoders *Decoders
	}{{"limit", 0, nil}, {"nolimit", -1, nil}, {"isolated", 0, d}} {
		b.Run(tc.name, func(b *testing.B) { benchmarkFile(b, tc.limit, tc.decoders) })
	}
}

func benchmarkFile(b *testing.B, limit time.Duration, d *Decoders) {
	const p = "../../testdata/pdq/images/python-threatexchange/letterboxed_sample-b.jpg"
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{DecodeLimit: limit, Decoders: d})
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, _, err := h.File(p); err != nil {
			b.Fatal(err)
		}
	}
}
