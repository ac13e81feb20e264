package jpegluma

import (
	"fmt"
	"os"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile(benchFile())
	if err != nil {
		b.Fatal(err)
	}
	for _, scale := range []int{8, 4, 2, 1} {
		b.Run(fmt.Sprintf("1/%d", scale), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data, Options{MaxPixels: 1 << 30, Scale: func(int, int) int { return scale }}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchFile is the JPEG benchmarked: $IVID_BENCH_JPEG, or a fixture.
func benchFile() string {
	if f := os.Getenv("IVID_BENCH_JPEG"); f != "" {
		return f
	}
	return "testdata/q100.jpg"
}
