package pdq

import (
	"fmt"
	"image"
	"image/color"
)

// Mode chooses how an image reaches the PDQ core.
type Mode int

const (
	// Full hashes at full resolution, as the Java reference and the pdqhash
	// package behind HMA and python-threatexchange do. It is the default.
	Full Mode = iota
	// CLI512 first squashes images larger than 512 px on a side to 512x512 by
	// nearest neighbour, as Meta's pdq-photo-hasher does.
	CLI512
)

func (m Mode) String() string {
	switch m {
	case Full:
		return "full"
	case CLI512:
		return "cli512"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads "full" or "cli512".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "full", "":
		return Full, nil
	case "cli512":
		return CLI512, nil
	}
	return 0, fmt.Errorf("pdq: unknown mode %q (want full or cli512)", s)
}

const cliSquash = 512

// HashImage hashes an image in the given mode. Alpha is ignored (the stored,
// non-premultiplied colour is used) and so is EXIF orientation, as in the
// reference. Sixteen-bit samples are reduced to their high byte: the
// reference keeps the low byte, which yields noise (see NOTES.md, section 0).
func (h *Hasher) HashImage(img image.Image, mode Mode, dihedral bool) (Result, *Dihedral) {
	b := img.Bounds()
	w, ht := b.Dx(), b.Dy()
	if mode == CLI512 && (w > cliSquash || ht > cliSquash) {
		luma := h.lumaBuf(cliSquash * cliSquash)
		squashLuma(img, luma)
		return h.HashLuma(luma, cliSquash, cliSquash, dihedral)
	}
	luma := h.lumaBuf(w * ht)
	Luma(img, luma)
	return h.HashLuma(luma, ht, w, dihedral)
}

func (h *Hasher) lumaBuf(n int) []float32 {
	if cap(h.luma) < n {
		h.luma = make([]float32, n)
	}
	return h.luma[:n]
}

// lumaTab holds the reference's float32 products 0.299f*v, 0.587f*v and
// 0.114f*v for every byte value v, so that luma is two additions.
var lumaTab = func() (t [3][256]float32) {
	for v := range 256 {
		f := float32(v)
		t[0][v] = float32(0.299 * f)
		t[1][v] = float32(0.587 * f)
		t[2][v] = float32(0.114 * f)
	}
	return t
}()

// lumaRGB is the reference's luminance, evaluated left to right in float32:
// (0.299f*R + 0.587f*G) + 0.114f*B. With the products tabulated, no fused
// multiply-add can creep in.
func lumaRGB(r, g, b uint8) float32 {
	return lumaTab[0][r] + lumaTab[1][g] + lumaTab[2][b]
}

// greyFix turns RGB-path luma of an all-grey image back into grey levels.
// ImageMagick hands the reference a grey PNM whenever every pixel is grey,
// and the grey path takes the byte value itself as luma; the RGB path is
// within a few ulps of it, so rounding recovers the level.
func greyFix(dst []float32) {
	for i, v := range dst {
		dst[i] = float32(int(v + 0.5))
	}
}

// Luma fills dst (width*height, row-major) with the reference's luminance of
// img.
func Luma(img image.Image, dst []float32) {
	b := img.Bounds()
	w := b.Dx()
	grey := true
	switch m := img.(type) {
	case *image.Gray:
		for y := range b.Dy() {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+w]
			out := dst[y*w : (y+1)*w]
			for x, v := range row {
				out[x] = float32(v)
			}
		}
		return
	case *image.Gray16:
		for y := range b.Dy() {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+2*w]
			out := dst[y*w : (y+1)*w]
			for x := range out {
				out[x] = float32(row[2*x])
			}
		}
		return
	case *image.YCbCr:
		grey = lumaYCbCr(m, dst)
	default:
		rows := newRowReader(img)
		rgb := make([]uint8, 3*w)
		for y := range b.Dy() {
			rows(y, rgb)
			out := dst[y*w : (y+1)*w]
			for x := range out {
				r, g, bl := rgb[3*x], rgb[3*x+1], rgb[3*x+2]
				if r != g || g != bl {
					grey = false
				}
				out[x] = lumaRGB(r, g, bl)
			}
		}
	}
	if grey {
		greyFix(dst)
	}
}

// lumaYCbCr converts with image/color's integer YCbCr->RGB formula (JFIF
// coefficients scaled by 2^16, rounding term 257*Y), inlined for speed.
func lumaYCbCr(m *image.YCbCr, dst []float32) bool {
	b := m.Rect
	w := b.Dx()
	var shift uint
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		shift = 1
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		shift = 2
	}
	x0 := b.Min.X
	var diff uint8
	for y := b.Min.Y; y < b.Max.Y; y++ {
		out := dst[(y-b.Min.Y)*w : (y-b.Min.Y+1)*w]
		yi := m.YOffset(x0, y)
		ci0 := m.COffset(x0, y)
		ys := m.Y[yi : yi+w]
		cw := (x0+w-1)>>shift - x0>>shift + 1
		cbs, crs := m.Cb[ci0:ci0+cw], m.Cr[ci0:ci0+cw]
		if shift == 1 && x0%2 == 0 {
			// Two pixels share each chroma sample (4:2:0 and 4:2:2).
			for c := range w / 2 {
				cb1, cr1 := int32(cbs[c])-128, int32(crs[c])-128
				dr, dg, db := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
				for k := 2 * c; k < 2*c+2; k++ {
					yy1 := int32(ys[k]) * 0x10101
					r, g, bl := clamp16(yy1+dr), clamp16(yy1+dg), clamp16(yy1+db)
					diff |= (r ^ g) | (g ^ bl)
					out[k] = lumaTab[0][r] + lumaTab[1][g] + lumaTab[2][bl]
				}
			}
			if w%2 == 1 {
				diff |= yccLuma(ys[w-1], cbs[w/2], crs[w/2], &out[w-1])
			}
			continue
		}
		for x, yy := range ys {
			c := (x+x0)>>shift - x0>>shift
			diff |= yccLuma(yy, cbs[c], crs[c], &out[x])
		}
	}
	return diff == 0
}

// yccLuma stores the luma of one YCbCr pixel and returns a non-zero value
// if the pixel is not grey.
func yccLuma(yy, cb, cr uint8, out *float32) uint8 {
	cb1, cr1 := int32(cb)-128, int32(cr)-128
	yy1 := int32(yy) * 0x10101
	r := clamp16(yy1 + 91881*cr1)
	g := clamp16(yy1 - 22554*cb1 - 46802*cr1)
	bl := clamp16(yy1 + 116130*cb1)
	*out = lumaTab[0][r] + lumaTab[1][g] + lumaTab[2][bl]
	return (r ^ g) | (g ^ bl)
}

// clamp16 takes a 16.16 fixed-point value to a byte, saturating, without
// branches (min and max compile to conditional moves).
func clamp16(v int32) uint8 {
	return uint8(min(max(v>>16, 0), 255))
}

// squashLuma fills dst (512x512) with the luma of the nearest-neighbour
// squash of pdq-photo-hasher: source index floor(x*W/512.0), in double.
// Whether the PNM was grey depends on the whole image, not the sample.
func squashLuma(img image.Image, dst []float32) {
	b := img.Bounds()
	w, ht := b.Dx(), b.Dy()
	rows := newRowReader(img)
	rgb := make([]uint8, 3*w)
	sx := make([]int, cliSquash)
	for x := range cliSquash {
		sx[x] = int(float64(x) * float64(w) / cliSquash)
	}
	grey := true
	next := 0 // next output row
	for y := range ht {
		rows(y, rgb)
		if grey {
			for x := range w {
				if rgb[3*x] != rgb[3*x+1] || rgb[3*x+1] != rgb[3*x+2] {
					grey = false
					break
				}
			}
		}
		for next < cliSquash && int(float64(next)*float64(ht)/cliSquash) == y {
			out := dst[next*cliSquash : (next+1)*cliSquash]
			for x, s := range sx {
				out[x] = lumaRGB(rgb[3*s], rgb[3*s+1], rgb[3*s+2])
			}
			next++
		}
	}
	if grey {
		greyFix(dst)
	}
}

// newRowReader returns a function filling an RGB row (3 bytes a pixel) of
// img with its non-premultiplied 8-bit colour, alpha dropped.
func newRowReader(img image.Image) func(y int, rgb []uint8) {
	b := img.Bounds()
	w := b.Dx()
	switch m := img.(type) {
	case *image.NRGBA:
		return func(y int, rgb []uint8) {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		return func(y int, rgb []uint8) {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				r, g, bl, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 255 && a != 0 {
					r, g, bl = unpremul(r, a), unpremul(g, a), unpremul(bl, a)
				}
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = r, g, bl
			}
		}
	case *image.Gray:
		return func(y int, rgb []uint8) {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x, v := range m.Pix[o : o+w] {
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = v, v, v
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, 256)
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		return func(y int, rgb []uint8) {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x, idx := range m.Pix[o : o+w] {
				p := pal[idx]
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = p[0], p[1], p[2]
			}
		}
	case *image.YCbCr:
		return func(y int, rgb []uint8) {
			yi := m.YOffset(b.Min.X, b.Min.Y+y)
			for x, yy := range m.Y[yi : yi+w] {
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = color.YCbCrToRGB(yy, m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.NYCbCrA:
		return func(y int, rgb []uint8) {
			for x := range w {
				c := m.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			}
		}
	case *image.CMYK:
		return func(y int, rgb []uint8) {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[o : o+4*w]
			for x := range w {
				rgb[3*x], rgb[3*x+1], rgb[3*x+2] = color.CMYKToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	}
	// Generic path, including 16-bit types: non-premultiplied, high byte.
	return func(y int, rgb []uint8) {
		for x := range w {
			c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
		}
	}
}

func unpremul(c, a uint8) uint8 {
	return uint8(min(255, (uint32(c)*255+uint32(a)/2)/uint32(a)))
}

// HashRGB24 hashes packed 8-bit RGB pixels (3 bytes a pixel, rows of
// 3*width bytes), as video frames arrive from ffmpeg's rgb24 output. It takes
// the full frame, with no 512 squash and no grey-level rounding, as vPDQ's
// reference does.
func (h *Hasher) HashRGB24(pix []byte, width, height int, dihedral bool) (Result, *Dihedral) {
	n := width * height
	luma := h.lumaBuf(n)
	pix = pix[:3*n]
	for i := range luma {
		p := pix[3*i : 3*i+3 : 3*i+3]
		luma[i] = lumaTab[0][p[0]] + lumaTab[1][p[1]] + lumaTab[2][p[2]]
	}
	return h.HashLuma(luma, height, width, dihedral)
}
