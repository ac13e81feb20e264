package media

import (
	"os"
	"testing"
)

const photo2MP = "../../testdata/pdq/images/python-threatexchange/letterboxed_sample-b.jpg" // 2000x1404

func BenchmarkDecodeJPEG2MP(b *testing.B) {
	data, err := os.ReadFile(photo2MP)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, "image/jpeg", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePNG(b *testing.B) {
	data := read(b, "sample.png")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, "image/png", 0); err != nil {
			b.Fatal(err)
		}
	}
}
