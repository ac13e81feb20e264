package filehash

import (
	"os"
	"testing"
	"time"
)

// BenchmarkFile is the whole pipeline on a 2.8 MP JPEG photo: read, three
// digests, EXIF, decode and PDQ.
// Sub-benchmarks: the decoding on a goroutine of its own under the time
// limit (the default), or on the caller's.
func BenchmarkFile(b *testing.B) {
	for _, tc := range []struct {
		name  string
		limit time.Duration
	}{{"limit", 0}, {"nolimit", -1}} {
		b.Run(tc.name, func(b *testing.B) { benchmarkFile(b, tc.limit) })
	}
}

func benchmarkFile(b *testing.B, limit time.Duration) {
	const p = "../../testdata/pdq/images/python-threatexchange/letterboxed_sample-b.jpg"
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{DecodeLimit: limit})
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, _, err := h.File(p); err != nil {
			b.Fatal(err)
		}
	}
}
