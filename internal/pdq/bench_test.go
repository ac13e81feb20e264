package pdq

import (
	"image"
	"math/rand/v2"
	"testing"
)

// syntheticPhoto returns a deterministic YCbCr 4:2:0 image like a decoded
// JPEG photo.
func syntheticPhoto(w, h int) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Y {
		img.Y[i] = uint8(i%w*255/w) ^ uint8(r.IntN(32))
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(100+r.IntN(50)), uint8(110+r.IntN(40))
	}
	return img
}

func benchmarkHashImage(b *testing.B, w, h int, mode Mode) {
	img := syntheticPhoto(w, h)
	var hs Hasher
	b.ReportAllocs()
	for b.Loop() {
		hs.HashImage(img, mode, false)
	}
}

func BenchmarkHash512(b *testing.B)       { benchmarkHashImage(b, 512, 512, Full) }
func BenchmarkHash2MP(b *testing.B)       { benchmarkHashImage(b, 1920, 1080, Full) }
func BenchmarkHash2MPCLI512(b *testing.B) { benchmarkHashImage(b, 1920, 1080, CLI512) }
func BenchmarkHash12MP(b *testing.B)      { benchmarkHashImage(b, 4032, 3024, Full) }

func BenchmarkLuma2MP(b *testing.B) {
	img := syntheticPhoto(1920, 1080)
	dst := make([]float32, 1920*1080)
	for b.Loop() {
		Luma(img, dst)
	}
}

func BenchmarkJarosz2MP(b *testing.B) {
	buf := make([]float32, 1920*1080)
	var hs Hasher
	var out [64 * 64]float32
	for b.Loop() {
		hs.filterDecimate(buf, 1080, 1920, &out)
	}
}

func BenchmarkDistance(b *testing.B) {
	x, y := Hash{1, 2, 3, 4}, Hash{5, 6, 7, 8}
	s := 0
	for b.Loop() {
		s += Distance(x, y)
	}
	_ = s
}
