package pdq

import (
	"math"
	"slices"
)

// minHashableDim is the reference's MIN_HASHABLE_DIM: smaller images get a
// zero hash and quality 0.
const minHashableDim = 5

// dct is the 16x64 DCT-II matrix of the reference (frequencies 1..16), each
// entry computed in double and rounded to float32 once, as the C++ does.
var dct = func() (d [16][64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64.0)))
	for i := range 16 {
		for j := range 64 {
			d[i][j] = float32(scale * math.Cos((math.Pi/2.0/64.0)*float64(i+1)*float64(2*j+1)))
		}
	}
	return d
}()

// Result is a hash with its quality (0..100): low-quality hashes come from
// flat or featureless images and should not be matched on.
type Result struct {
	Hash    Hash
	Quality int
}

// Dihedral holds the hashes of the eight rotations and flips of an image, in
// the reference's order: original, rot90, rot180, rot270, flipX, flipY,
// flipPlus1 (transpose), flipMinus1.
type Dihedral [8]Hash

// DihedralNames names the entries of [Dihedral], as the reference prints them.
var DihedralNames = [8]string{"orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipp", "flipm"}

// Hasher hashes luma buffers. It keeps its scratch buffers between calls, so
// one Hasher per goroutine avoids re-allocating megabytes per image.
// The zero value is ready to use.
type Hasher struct {
	tmp    []float32
	line   []float32
	cols64 []float32
	luma   []float32
}

// HashLuma hashes a row-major luma buffer of rows*cols values, exactly as the
// reference's pdqHash256FromFloatLuma. The buffer is overwritten.
// With dihedral set it also returns the eight dihedral hashes, computed as
// the reference's pdqDihedralHash256esFromFloatLuma.
func (h *Hasher) HashLuma(luma []float32, rows, cols int, dihedral bool) (Result, *Dihedral) {
	if rows < minHashableDim || cols < minHashableDim {
		var d *Dihedral
		if dihedral {
			d = new(Dihedral)
		}
		return Result{}, d
	}
	var buf64 [64 * 64]float32
	if rows == 64 && cols == 64 {
		// The reference copies a 64x64 input without filtering, in the
		// non-dihedral entry point only.
		copy(buf64[:], luma[:64*64])
		r, _ := finish(&buf64, false)
		if !dihedral {
			return r, nil
		}
		h.filterDecimate(luma, rows, cols, &buf64)
		d := dihedralFrom(&buf64)
		return r, &d
	}
	h.filterDecimate(luma, rows, cols, &buf64)
	return finish(&buf64, dihedral)
}

// finish computes the quality, hash and, if asked, dihedral hashes of a
// filtered and decimated 64x64 luma.
func finish(buf64 *[64 * 64]float32, dihedral bool) (Result, *Dihedral) {
	q := quality(buf64)
	var b [16][16]float32
	dct64To16(buf64, &b)
	r := Result{Hash: threshold(&b), Quality: q}
	if !dihedral {
		return r, nil
	}
	d := dihedralHashes(&b)
	return r, &d
}

func dihedralFrom(buf64 *[64 * 64]float32) Dihedral {
	var b [16][16]float32
	dct64To16(buf64, &b)
	return dihedralHashes(&b)
}

// windowSize is the reference's computeJaroszFilterWindowSize for a 64 output.
func windowSize(dim int) int { return (dim + 127) / 128 }

// quality is the reference's gradient sum, in float32 with truncation.
func quality(a *[64 * 64]float32) int {
	sum := 0
	for i := range 63 {
		for j := range 64 {
			d := int(((a[i*64+j] - a[(i+1)*64+j]) * 100) / 255)
			sum += abs(d)
		}
	}
	for i := range 64 {
		for j := range 63 {
			d := int(((a[i*64+j] - a[i*64+j+1]) * 100) / 255)
			sum += abs(d)
		}
	}
	return min(sum/90, 100)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// dct64To16 computes B = D * A * D^T with float32 accumulators, k ascending,
// and every product rounded to float32 before it is added (no fused
// multiply-add, which arm64 would otherwise emit).
func dct64To16(a *[64 * 64]float32, b *[16][16]float32) {
	var t [16][64]float32
	for i := range 16 {
		di := &dct[i]
		ti := &t[i]
		for k := range 64 {
			d := di[k]
			ak := (*[64]float32)(a[k*64 : k*64+64])
			for j := range 64 {
				ti[j] += float32(d * ak[j])
			}
		}
	}
	for i := range 16 {
		for j := range 16 {
			var s float32
			ti, dj := &t[i], &dct[j]
			for k := range 64 {
				s += float32(ti[k] * dj[k])
			}
			b[i][j] = s
		}
	}
}

// threshold sets bit i*16+j where B[i][j] exceeds the lower median.
func threshold(b *[16][16]float32) Hash {
	var sorted [256]float32
	for i := range 16 {
		copy(sorted[i*16:], b[i][:])
	}
	slices.Sort(sorted[:])
	median := sorted[127]
	var h Hash
	for i := range 16 {
		for j := range 16 {
			if b[i][j] > median {
				h.setBit(i*16 + j)
			}
		}
	}
	return h
}

func dihedralHashes(a *[16][16]float32) Dihedral {
	var d Dihedral
	var out [16][16]float32
	neg := func(cond bool, v float32) float32 {
		if cond {
			return -v
		}
		return v
	}
	d[0] = threshold(a)
	for t := 1; t < 8; t++ {
		for i := range 16 {
			for j := range 16 {
				v := a[i][j]
				switch t {
				case 1: // rot90
					out[j][i] = neg(j%2 == 0, v)
				case 2: // rot180
					out[i][j] = neg((i+j)%2 == 1, v)
				case 3: // rot270
					out[j][i] = neg(i%2 == 0, v)
				case 4: // flipX
					out[i][j] = neg(i%2 == 0, v)
				case 5: // flipY
					out[i][j] = neg(j%2 == 0, v)
				case 6: // flipPlus1
					out[j][i] = v
				case 7: // flipMinus1
					out[j][i] = neg((i+j)%2 == 1, v)
				}
			}
		}
		d[t] = threshold(&out)
	}
	return d
}
