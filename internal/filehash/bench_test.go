package filehash

import (
	"os"
	"testing"
)

// BenchmarkFile is the whole pipeline on a 2.8 MP JPEG photo: read, three
// digests, EXIF, decode and PDQ.
func BenchmarkFile(b *testing.B) {
	const p = "../../testdata/pdq/images/python-threatexchange/letterboxed_sample-b.jpg"
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{})
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, _, err := h.File(p); err != nil {
			b.Fatal(err)
		}
	}
}
