package blob

import (
	"bytes"
	"testing"
)

// BenchmarkPut stores distinct 240 kB blobs (a 1600×1067 JPEG's size):
// encryption, the SHA-256 check, the write and the syncs, appended to a
// pack or each a file of its own.
func BenchmarkPut(b *testing.B) {
	for _, c := range []struct {
		name     string
		packFile int
	}{{"packed", defaultPackFile}, {"files", 0}} {
		b.Run(c.name, func(b *testing.B) {
			be, err := openLocal(b.TempDir(), c.packFile, defaultPackSize)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			s, err := Open(b.Context(), be, GenerateKey())
			if err != nil {
				b.Fatal(err)
			}
			data := content(240<<10, 1)
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
				if _, err := s.Put(b.Context(), Sum(data), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
