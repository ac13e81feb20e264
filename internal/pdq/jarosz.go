package pdq

// The Jarosz filter of the reference: two iterations of a box filter along
// rows then along columns, then decimation to 64x64. The running sums must
// see the reference's additions and subtractions in the reference's order;
// everything else here is free to change for speed:
//   - rows are swept four at a time, so four independent sums hide the
//     latency of the add-then-subtract chain;
//   - the division by the window count is a float64 multiply by the
//     reciprocal, rounded once to float32: for integer counts this is the
//     correctly rounded float32 quotient (see TestReciprocalDivision);
//   - the second iteration only computes the 64 columns and rows that
//     decimation samples.

// boxWindow describes box1DFloat's phases for one line length and window.
type boxWindow struct {
	n, w, half int
}

func newBoxWindow(n, w int) boxWindow { return boxWindow{n: n, w: w, half: (w + 2) / 2} }

// count returns how many inputs the running sum holds at output index i.
func (b boxWindow) count(i int) int {
	lo := max(0, i-(b.w-b.half))
	hi := min(b.n-1, i+b.half-1)
	return hi - lo + 1
}

// rowSums4 writes the reference's running-sum value at every output index
// of four rows (not yet divided by the count).
func (b boxWindow) rowSums4(in, out *[4][]float32) {
	i0, i1, i2, i3 := in[0][:b.n], in[1][:b.n], in[2][:b.n], in[3][:b.n]
	o0, o1, o2, o3 := out[0][:b.n], out[1][:b.n], out[2][:b.n], out[3][:b.n]
	var s0, s1, s2, s3 float32
	ri, li, oi := 0, 0, 0
	for range b.half - 1 {
		s0 += i0[ri]
		s1 += i1[ri]
		s2 += i2[ri]
		s3 += i3[ri]
		ri++
	}
	for range b.w - b.half + 1 {
		s0 += i0[ri]
		s1 += i1[ri]
		s2 += i2[ri]
		s3 += i3[ri]
		o0[oi], o1[oi], o2[oi], o3[oi] = s0, s1, s2, s3
		ri++
		oi++
	}
	for range b.n - b.w {
		s0 += i0[ri]
		s1 += i1[ri]
		s2 += i2[ri]
		s3 += i3[ri]
		s0 -= i0[li]
		s1 -= i1[li]
		s2 -= i2[li]
		s3 -= i3[li]
		o0[oi], o1[oi], o2[oi], o3[oi] = s0, s1, s2, s3
		li++
		ri++
		oi++
	}
	for range b.half - 1 {
		s0 -= i0[li]
		s1 -= i1[li]
		s2 -= i2[li]
		s3 -= i3[li]
		o0[oi], o1[oi], o2[oi], o3[oi] = s0, s1, s2, s3
		li++
		oi++
	}
}

// divide turns running sums into means in place.
func (b boxWindow) divide(row []float32) {
	row = row[:b.n]
	mid := b.w - b.half + 1 // first index with a full window
	end := b.n - b.half + 1 // first index past the full windows
	for i := 0; i < mid && i < b.n; i++ {
		row[i] = div(row[i], b.count(i))
	}
	inv := 1 / float64(b.w)
	for i := mid; i < end; i++ {
		row[i] = float32(float64(row[i]) * inv)
	}
	for i := max(end, mid); i < b.n; i++ {
		row[i] = div(row[i], b.count(i))
	}
}

func div(s float32, count int) float32 { return float32(float64(s) * (1 / float64(count))) }

// boxRows filters every row of in into out (rows x cols). With sumsOnly the
// running sums are left undivided, for a caller that needs few of them.
func boxRows(in, out []float32, rows, cols, w int, sumsOnly bool, scratch []float32) {
	b := newBoxWindow(cols, w)
	for r := 0; r < rows; r += 4 {
		var ins, outs [4][]float32
		for k := range 4 {
			if r+k < rows {
				ins[k] = in[(r+k)*cols : (r+k+1)*cols]
				outs[k] = out[(r+k)*cols : (r+k+1)*cols]
			} else { // pad the last group with a copy into scratch
				ins[k] = ins[0]
				outs[k] = scratch[:cols]
			}
		}
		b.rowSums4(&ins, &outs)
		if !sumsOnly {
			for k := range min(4, rows-r) {
				b.divide(outs[k])
			}
		}
	}
}

// boxColumns filters down every column of in (rows x cols) into out, sweeping
// row by row so that memory is read in order; each column's sum sees the
// reference's operations in the reference's order.
func boxColumns(in, out []float32, rows, cols, w int, sums []float32) {
	b := newBoxWindow(rows, w)
	sums = sums[:cols]
	clear(sums)
	row := func(i int) []float32 { return in[i*cols : (i+1)*cols] }
	orow := func(i int) []float32 { return out[i*cols : (i+1)*cols] }
	ri, li, oi := 0, 0, 0
	for range b.half - 1 {
		for j, v := range row(ri) {
			sums[j] += v
		}
		ri++
	}
	for range b.w - b.half + 1 {
		inv := 1 / float64(b.count(oi))
		o := orow(oi)[:cols]
		for j, v := range row(ri)[:cols] {
			s := sums[j] + v
			sums[j] = s
			o[j] = float32(float64(s) * inv)
		}
		ri++
		oi++
	}
	inv := 1 / float64(b.w)
	for range b.n - b.w {
		add, sub, o := row(ri)[:cols], row(li)[:cols], orow(oi)[:cols]
		for j, v := range add {
			s := sums[j] + v
			s -= sub[j]
			sums[j] = s
			o[j] = float32(float64(s) * inv)
		}
		li++
		ri++
		oi++
	}
	for range b.half - 1 {
		inv := 1 / float64(b.count(oi))
		o := orow(oi)[:cols]
		for j, v := range row(li)[:cols] {
			s := sums[j] - v
			sums[j] = s
			o[j] = float32(float64(s) * inv)
		}
		li++
		oi++
	}
}

// decimationIndex is the reference's sample index, computed in double.
func decimationIndex(i, n int) int { return int(((float64(i) + 0.5) * float64(n)) / 64) }

// filterDecimate runs the full Jarosz filter on buf (rows x cols, which it
// overwrites) and returns the 64x64 decimated result in out.
func (h *Hasher) filterDecimate(buf []float32, rows, cols int, out *[64 * 64]float32) {
	n := rows * cols
	if cap(h.tmp) < n {
		h.tmp = make([]float32, n)
	}
	tmp := h.tmp[:n]
	if cap(h.line) < max(cols, rows*64) {
		h.line = make([]float32, max(cols, rows*64))
	}
	wr := windowSize(cols) // along rows
	wc := windowSize(rows) // along columns

	// Iteration 1, everywhere.
	boxRows(buf, tmp, rows, cols, wr, false, h.line)
	boxColumns(tmp, buf, rows, cols, wc, h.line)

	// Iteration 2: row sums everywhere (each depends on all before it),
	// divided only at the 64 sampled columns, then the column filter on
	// those 64 columns alone.
	boxRows(buf, tmp, rows, cols, wr, true, h.line)
	var cj [64]int
	bw := newBoxWindow(cols, wr)
	var inv [64]float64
	for j := range 64 {
		cj[j] = decimationIndex(j, cols)
		inv[j] = 1 / float64(bw.count(cj[j]))
	}
	g := h.line[:rows*64]
	for r := range rows {
		src := tmp[r*cols : (r+1)*cols]
		dst := g[r*64 : r*64+64]
		for j, c := range cj {
			dst[j] = float32(float64(src[c]) * inv[j])
		}
	}
	if cap(h.cols64) < rows*64 {
		h.cols64 = make([]float32, rows*64)
	}
	f := h.cols64[:rows*64]
	var sums [64]float32
	boxColumns(g, f, rows, 64, wc, sums[:])
	for i := range 64 {
		ri := decimationIndex(i, rows)
		copy(out[i*64:i*64+64], f[ri*64:ri*64+64])
	}
}
