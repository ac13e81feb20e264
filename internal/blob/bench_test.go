package blob

import (
	"bytes"
	"testing"
)

// BenchmarkPut stores distinct 240 kB blobs (a 1600×1067 JPEG's size):
// encryption, the SHA-256 check, the write and the syncs.
func BenchmarkPut(b *testing.B) {
	s, _ := openTest(b, GenerateKey())
	data := content(240<<10, 1)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
		if _, err := s.Put(b.Context(), Sum(data), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
