// Package demo generates ivid's synthetic training data set: benign,
// procedurally drawn landscapes with near-duplicate variants, so that every
// feature can be tried and tested without any real material.
package demo

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Scene draws landscape number n (deterministic): sky gradient, sun, rolling
// hills, a lake and a few houses.
func Scene(n, w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(uint64(n), 0x1d1d))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	skyTop := color.NRGBA{uint8(40 + r.IntN(60)), uint8(90 + r.IntN(80)), uint8(170 + r.IntN(80)), 255}
	skyLow := color.NRGBA{uint8(180 + r.IntN(70)), uint8(150 + r.IntN(90)), uint8(120 + r.IntN(100)), 255}
	ground := color.NRGBA{uint8(30 + r.IntN(80)), uint8(90 + r.IntN(100)), uint8(20 + r.IntN(60)), 255}
	horizon := 0.45 + 0.2*r.Float64()
	sunX, sunY, sunR := r.Float64(), horizon*r.Float64()*0.8, 0.04+0.06*r.Float64()
	var waves [4][3]float64
	for i := range waves {
		waves[i] = [3]float64{0.02 + 0.05*r.Float64(), 2 + 10*r.Float64(), 6.3 * r.Float64()}
	}
	lakeX, lakeW := r.Float64(), 0.15+0.3*r.Float64()
	type house struct {
		x, w, hgt float64
		c         color.NRGBA
	}
	houses := make([]house, 2+r.IntN(4))
	for i := range houses {
		houses[i] = house{r.Float64(), 0.04 + 0.06*r.Float64(), 0.05 + 0.08*r.Float64(),
			color.NRGBA{uint8(120 + r.IntN(130)), uint8(60 + r.IntN(120)), uint8(40 + r.IntN(100)), 255}}
	}
	for y := range h {
		fy := float64(y) / float64(h)
		for x := range w {
			fx := float64(x) / float64(w)
			hill := horizon
			for _, wv := range waves {
				hill += wv[0] * math.Sin(wv[1]*fx+wv[2])
			}
			var c color.NRGBA
			switch {
			case fy < hill:
				c = mix(skyTop, skyLow, fy/hill)
				if d := math.Hypot(fx-sunX, (fy-sunY)*float64(h)/float64(w)); d < sunR {
					c = color.NRGBA{255, 230, 120, 255}
				}
			case math.Abs(fx-lakeX) < lakeW*(fy-hill)*2:
				c = mix(color.NRGBA{40, 90, 160, 255}, color.NRGBA{20, 50, 110, 255}, fy)
			default:
				c = mix(ground, color.NRGBA{ground.R / 2, ground.G / 2, ground.B / 2, 255}, (fy-hill)/(1-hill))
			}
			for _, hs := range houses {
				if fx > hs.x && fx < hs.x+hs.w && fy < hill+0.02 && fy > hill+0.02-hs.hgt {
					c = hs.c
				}
			}
			// Fine texture, so that hashes have quality.
			t := uint8(r.IntN(9))
			img.SetNRGBA(x, y, color.NRGBA{sat(int(c.R) + int(t) - 4), sat(int(c.G) + int(t) - 4), sat(int(c.B) + int(t) - 4), 255})
		}
	}
	return img
}

func mix(a, b color.NRGBA, t float64) color.NRGBA {
	t = math.Max(0, math.Min(1, t))
	l := func(x, y uint8) uint8 { return uint8(float64(x)*(1-t) + float64(y)*t) }
	return color.NRGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 255}
}

func sat(v int) uint8 { return uint8(max(0, min(255, v))) }

// Variant names the near-duplicate transformations of a scene.
type Variant string

const (
	Original  Variant = "original"
	Resized   Variant = "resized"   // half size, JPEG
	Recoded   Variant = "recoded"   // JPEG quality 40
	Brighter  Variant = "brighter"  // +20 on every channel
	Mirrored  Variant = "mirrored"  // left-right flip (caught by dihedral hashes)
	Watermark Variant = "watermark" // a translucent box in a corner
)

// Variants lists every transformation.
var Variants = []Variant{Original, Resized, Recoded, Brighter, Mirrored, Watermark}

// Apply returns the transformed image.
func Apply(src *image.NRGBA, v Variant) *image.NRGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	switch v {
	case Resized:
		dst := image.NewNRGBA(image.Rect(0, 0, w/2, h/2))
		for y := range h / 2 {
			for x := range w / 2 {
				var s [3]int
				for _, p := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					c := src.NRGBAAt(2*x+p[0], 2*y+p[1])
					s[0], s[1], s[2] = s[0]+int(c.R), s[1]+int(c.G), s[2]+int(c.B)
				}
				dst.SetNRGBA(x, y, color.NRGBA{uint8(s[0] / 4), uint8(s[1] / 4), uint8(s[2] / 4), 255})
			}
		}
		return dst
	case Brighter:
		dst := image.NewNRGBA(b)
		for i := 0; i < len(src.Pix); i += 4 {
			for k := range 3 {
				dst.Pix[i+k] = sat(int(src.Pix[i+k]) + 20)
			}
			dst.Pix[i+3] = 255
		}
		return dst
	case Mirrored:
		dst := image.NewNRGBA(b)
		for y := range h {
			for x := range w {
				dst.SetNRGBA(w-1-x, y, src.NRGBAAt(x, y))
			}
		}
		return dst
	case Watermark:
		dst := image.NewNRGBA(b)
		copy(dst.Pix, src.Pix)
		for y := h - h/14; y < h-h/40; y++ {
			for x := w - w/9; x < w-w/40; x++ {
				dst.SetNRGBA(x, y, mix(src.NRGBAAt(x, y), color.NRGBA{255, 255, 255, 255}, 0.35))
			}
		}
		return dst
	}
	return src
}

// Encode writes the image as the variant's file format: PNG for originals,
// JPEG for the rest (quality 40 for Recoded, 90 otherwise).
func Encode(img image.Image, v Variant) ([]byte, string, error) {
	var buf bytes.Buffer
	switch v {
	case Original:
		err := png.Encode(&buf, img)
		return buf.Bytes(), ".png", err
	case Recoded:
		err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 40})
		return buf.Bytes(), ".jpg", err
	}
	err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes(), ".jpg", err
}

// File is one generated file of the data set.
type File struct {
	Path    string
	Scene   int
	Variant Variant
}

// WriteSet writes scenes 1..n in every variant under dir/scene-NNN/ and
// returns the files written. Sizes are w x h for the originals.
func WriteSet(dir string, n, w, h int) ([]File, error) {
	var files []File
	for s := 1; s <= n; s++ {
		src := Scene(s, w, h)
		sub := filepath.Join(dir, fmt.Sprintf("scene-%03d", s))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		for _, v := range Variants {
			data, ext, err := Encode(Apply(src, v), v)
			if err != nil {
				return nil, fmt.Errorf("encode scene %d %s: %w", s, v, err)
			}
			p := filepath.Join(sub, string(v)+ext)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return nil, err
			}
			files = append(files, File{Path: p, Scene: s, Variant: v})
		}
	}
	return files, nil
}
