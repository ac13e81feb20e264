package jpegluma

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// readPGM reads a binary PGM (djpeg's output).
func readPGM(t *testing.T, path string) *image.Gray {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w, h, maxv int
	r := bytes.NewReader(b)
	if _, err := fmt.Fscanf(r, "P5\n%d %d\n%d\n", &w, &h, &maxv); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	pix := b[len(b)-w*h:]
	return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
}

// TestMatchesLibjpeg: every pixel equals libjpeg-turbo's 1/8-scale luma
// (`djpeg -scale 1/8 -grayscale`, kept beside each fixture), for 4:2:0,
// 4:2:2 and 4:4:4 sampling, restart intervals, greyscale, optimised
// Huffman tables, one scan per component and quality 100.
func TestMatchesLibjpeg(t *testing.T) {
	for _, name := range []string{"s420", "s422", "s444", "restart", "grey", "optimized", "noninterleaved", "q100", "progressive"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data, Options{MaxPixels: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			want := readPGM(t, filepath.Join("testdata", name+".pgm"))
			if img.Width != 203 || img.Height != 157 || img.Scale != 8 {
				t.Errorf("size %dx%d scale %d, want 203x157 scale 8", img.Width, img.Height, img.Scale)
			}
			if img.Cols != want.Rect.Dx() || img.Rows != want.Rect.Dy() {
				t.Fatalf("luma %dx%d, want %v", img.Cols, img.Rows, want.Rect)
			}
			for y := range img.Rows {
				for x := range img.Cols {
					// libjpeg rounds half up.
					g := uint8(math.Floor(float64(img.Luma[y*img.Cols+x]) + 0.5))
					if w := want.GrayAt(x, y).Y; g != w {
						t.Fatalf("pixel (%d,%d) = %d, libjpeg %d", x, y, g, w)
					}
				}
			}
		})
	}
}

// TestFullMatchesLibjpeg: at full scale every luma sample equals
// libjpeg-turbo's accurate integer decoding (`djpeg -grayscale -dct int`,
// the `.y.pgm` beside each fixture), baseline and progressive.
func TestFullMatchesLibjpeg(t *testing.T) {
	for _, name := range []string{"s420", "s422", "s444", "restart", "grey", "optimized", "noninterleaved", "q100", "progressive", "progressive444"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data, Options{MaxPixels: 1 << 30, Scale: func(int, int) int { return 1 }})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := readPGM(t, filepath.Join("testdata", name+".y.pgm"))
		if img.Cols != want.Rect.Dx() || img.Rows != want.Rect.Dy() {
			t.Fatalf("%s: %dx%d, want %v", name, img.Cols, img.Rows, want.Rect)
		}
		for y := range img.Rows {
			for x := range img.Cols {
				if g, w := img.Luma[y*img.Cols+x], want.GrayAt(x, y).Y; g != float32(w) {
					t.Fatalf("%s: sample (%d,%d) = %v, libjpeg %d", name, x, y, g, w)
				}
			}
		}
	}
}

// TestBlockMeans: at 1/2 and 1/4 scale every value is the mean of its
// block in image/jpeg's full decoding (which rounds and clamps each pixel:
// hence a tolerance of one level on average and three at most).
func TestBlockMeans(t *testing.T) {
	for _, name := range []string{"s420", "s444", "restart", "grey", "noninterleaved", "q100"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		full, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var y []uint8
		var stride int
		switch m := full.(type) {
		case *image.YCbCr:
			y, stride = m.Y, m.YStride
		case *image.Gray:
			y, stride = m.Pix, m.Stride
		}
		for _, scale := range []int{2, 4, 8} {
			img, err := Decode(data, Options{MaxPixels: 1 << 30, Scale: func(int, int) int { return scale }})
			if err != nil {
				t.Fatalf("%s 1/%d: %v", name, scale, err)
			}
			worst, sum := 0.0, 0.0
			for r := range img.Rows {
				for c := range img.Cols {
					mean, n := 0.0, 0
					for yy := r * scale; yy < min((r+1)*scale, 157); yy++ {
						for xx := c * scale; xx < min((c+1)*scale, 203); xx++ {
							mean += float64(y[yy*stride+xx])
							n++
						}
					}
					d := math.Abs(mean/float64(n) - float64(img.Luma[r*img.Cols+c]))
					if (r+1)*scale > 157 || (c+1)*scale > 203 {
						continue // the block also averages the encoder's padding
					}
					worst, sum = max(worst, d), sum+d
				}
			}
			if avg := sum / float64(img.Rows*img.Cols); avg > 1 || worst > 3 {
				t.Errorf("%s 1/%d: mean difference %.2f, worst %.2f", name, scale, avg, worst)
			}
		}
	}
}

// TestProgressive: a progressive JPEG made losslessly from a baseline one
// (jpegtran: the same coefficients, spread over spectral-selection and
// successive-approximation scans) decodes to exactly the baseline's values
// at every scale, restart intervals included.
func TestProgressive(t *testing.T) {
	for _, pair := range [][2]string{{"progressive", "s420"}, {"progressive444", "s444"}, {"progressivegrey", "grey"}} {
		prog, err := os.ReadFile(filepath.Join("testdata", pair[0]+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		base, err := os.ReadFile(filepath.Join("testdata", pair[1]+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		for _, scale := range []int{1, 2, 4, 8, 80} {
			opts := Options{MaxPixels: 1 << 30, Scale: func(int, int) int { return min(scale, 8) }, Gradient: func(int, int) bool { return scale == 80 }}
			p, err := Decode(prog, opts)
			if err != nil {
				t.Fatalf("%s 1/%d: %v", pair[0], scale, err)
			}
			b, err := Decode(base, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Luma, b.Luma) || p.Rows != b.Rows || p.Cols != b.Cols || !slices.Equal(p.GradX, b.GradX) || !slices.Equal(p.GradY, b.GradY) {
				t.Errorf("%s 1/%d (80: 8 with slopes) differs from %s", pair[0], scale, pair[1])
			}
			if scale == 80 && (len(b.GradX) != b.Rows*b.Cols || slices.Max(b.GradX) == 0) {
				t.Errorf("%s: no slopes", pair[1])
			}
		}
	}
}

func TestRefused(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := read("s420.jpg")
	// The frame header's height and width (SOF0 at a fixed place in this file).
	sof := bytes.Index(good, []byte{0xff, 0xc0})
	huge := bytes.Clone(good)
	copy(huge[sof+5:], []byte{0xea, 0x60, 0xea, 0x60}) // 60000 x 60000
	cut := good[:len(good)*2/3]
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"arithmetic", read("arithmetic.jpg"), ErrUnsupported},
		{"rgb", read("rgb.jpg"), ErrUnsupported},
		{"bomb", huge, ErrTooLarge},
		{"truncated", cut, ErrCorrupt},
		{"empty", nil, ErrCorrupt},
		{"png", []byte("\x89PNG\r\n\x1a\n"), ErrCorrupt},
		{"soi only", []byte{0xff, 0xd8, 0xff, 0xd9}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data, Options{MaxPixels: 100_000_000})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"s420.jpg", "restart.jpg", "grey.jpg", "noninterleaved.jpg", "progressive444.jpg"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, scale := range []int{1, 2, 4, 8} {
			img, err := Decode(data, Options{MaxPixels: 1 << 22, Scale: func(int, int) int { return scale }, Gradient: func(int, int) bool { return scale == 8 }})
			if err == nil && (img.Cols != (img.Width+scale-1)/scale || img.Rows != (img.Height+scale-1)/scale || len(img.Luma) != img.Rows*img.Cols) {
				t.Fatalf("luma %dx%d for %dx%d at 1/%d", img.Cols, img.Rows, img.Width, img.Height, scale)
			}
		}
	})
}

// TestGradient: the slopes given at 1/8 scale follow the blocks' actual
// least-squares slopes in libjpeg's full decoding (they come from the
// lowest AC coefficient alone, so they are close, not equal).
func TestGradient(t *testing.T) {
	for _, name := range []string{"s444", "grey", "q100"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data, Options{MaxPixels: 1 << 30, Gradient: func(int, int) bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		y := readPGM(t, filepath.Join("testdata", name+".y.pgm"))
		var errSum, slopeSum float64
		n := 0
		for by := 0; by+8 <= y.Rect.Dy(); by += 8 {
			for bx := 0; bx+8 <= y.Rect.Dx(); bx += 8 {
				var sx, sy float64
				for j := range 8 {
					for i := range 8 {
						v := float64(y.GrayAt(bx+i, by+j).Y)
						sx += v * (float64(i) - 3.5)
						sy += v * (float64(j) - 3.5)
					}
				}
				sx, sy = sx/(8*42), sy/(8*42) // least-squares slopes
				k := (by/8)*img.Cols + bx/8
				errSum += math.Abs(sx-float64(img.GradX[k])) + math.Abs(sy-float64(img.GradY[k]))
				slopeSum += math.Abs(sx) + math.Abs(sy)
				n++
			}
		}
		if rel := errSum / slopeSum; rel > 0.15 {
			t.Errorf("%s: slopes off by %.0f %% of their size", name, 100*rel)
		} else {
			t.Logf("%s: %d blocks, slopes off by %.0f %% of their size", name, n, 100*rel)
		}
	}
}

// TestSegments walks the segments before the image data, and stops with
// ErrCorrupt, or at the end of the image, on damaged headers.
func TestSegments(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "grey.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := Segments(data, func(m byte, _ []byte) bool { got = append(got, m); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, 0xc0) && !slices.Contains(got, 0xc2) || !slices.Contains(got, 0xdb) || slices.Contains(got, 0xda) {
		t.Errorf("markers %x: want a frame and a quantisation table, and no scan", got)
	}
	tail := bytes.Repeat([]byte{0xff, 0xe1, 0x00, 0x10}, 32)
	for _, c := range []struct {
		name    string
		data    []byte
		corrupt bool
	}{
		{"end of image then markers", append([]byte{0xff, 0xd8, 0xff, 0xd9}, tail...), false},
		{"no start of image", tail, true},
		{"segment past the end", []byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x'}, true},
		{"no marker after the start", append([]byte{0xff, 0xd8, 0x00}, tail...), true},
	} {
		n := 0
		err := Segments(c.data, func(byte, []byte) bool { n++; return true })
		if errors.Is(err, ErrCorrupt) != c.corrupt || c.name == "end of image then markers" && n != 0 {
			t.Errorf("%s: %d segments, %v", c.name, n, err)
		}
	}
}
