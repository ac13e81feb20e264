package hamming

import (
	"math"
	"math/bits"

	"github.com/ivid-project/ivid/internal/pdq"
)

// permutation reorders the 256 bits before they are cut into chunks, so
// that each chunk holds bits as little correlated with one another as the
// data allows. Real PDQ bits are correlated; a chunk of correlated bits
// takes few of its possible values, its buckets crowd, and queries verify
// more candidates. Measured on correlated codes (4 M, 24-bit chunks): half
// the candidates at the 90th percentile, a quarter fewer at the median.
// Distances are unchanged by a permutation, so the index stores and
// compares permuted codes and permutes back only what it returns.
type permutation struct {
	fwd, inv [pdq.Size / 8][256]pdq.Hash // by byte of the input: its bits' contribution
}

// permuteMin is the size from which building an index computes a
// permutation (below it, a query costs microseconds anyway).
const permuteMin = 1 << 16

// bitAt returns bit p of h, counting from the most significant bit of h[0]
// (the order extract uses).
func bitAt(h *pdq.Hash, p int) uint64 { return h[p/64] >> (63 - p%64) & 1 }

func setPos(h *pdq.Hash, p int) { h[p/64] |= 1 << (63 - p%64) }

// newPermutation assigns bits to chunks of the given widths greedily, each
// chunk in turn taking the bit least correlated (sum of squared phi
// coefficients, over a sample of codes) with the bits it holds.
func newPermutation(sample []pdq.Hash, widths []uint) *permutation {
	// Bit columns of the sample, 64 codes a word.
	words := (len(sample) + 63) / 64
	cols := make([][]uint64, pdq.Size)
	for b := range cols {
		cols[b] = make([]uint64, words)
	}
	for i := range sample {
		for b := range pdq.Size {
			cols[b][i/64] |= bitAt(&sample[i], b) << (i % 64)
		}
	}
	n := float64(len(sample))
	var ones [pdq.Size]float64
	for b, c := range cols {
		for _, w := range c {
			ones[b] += float64(bits.OnesCount64(w))
		}
	}
	corr2 := make([][pdq.Size]float64, pdq.Size)
	for i := range pdq.Size {
		for j := i + 1; j < pdq.Size; j++ {
			both := 0
			for k, w := range cols[i] {
				both += bits.OnesCount64(w & cols[j][k])
			}
			den := ones[i] * (n - ones[i]) * ones[j] * (n - ones[j])
			if den > 0 {
				phi := (float64(both)*n - ones[i]*ones[j]) / math.Sqrt(den)
				corr2[i][j], corr2[j][i] = phi*phi, phi*phi
			}
		}
	}
	groups := make([][]int, len(widths))
	var used [pdq.Size]bool
	for left := pdq.Size; left > 0; {
		for t, w := range widths {
			if len(groups[t]) >= int(w) {
				continue
			}
			best, cost := -1, math.Inf(1)
			for b := range pdq.Size {
				if used[b] {
					continue
				}
				c := 0.0
				for _, a := range groups[t] {
					c += corr2[a][b]
				}
				if c < cost {
					best, cost = b, c
				}
			}
			used[best] = true
			groups[t] = append(groups[t], best)
			left--
		}
	}
	// order[i] is the input bit placed at position i.
	var order []int
	for _, g := range groups {
		order = append(order, g...)
	}
	p := new(permutation)
	for i, src := range order {
		setPos(&p.fwd[src/8][1<<(7-src%8)], i)
		setPos(&p.inv[i/8][1<<(7-i%8)], src)
	}
	// Each table entry is the union of its single-bit entries.
	for _, tab := range []*[pdq.Size / 8][256]pdq.Hash{&p.fwd, &p.inv} {
		for j := range tab {
			for v := 1; v < 256; v++ {
				if low := v & -v; low != v {
					a, b := tab[j][low], tab[j][v^low]
					tab[j][v] = pdq.Hash{a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]}
				}
			}
		}
	}
	return p
}

func apply(tab *[pdq.Size / 8][256]pdq.Hash, h pdq.Hash) pdq.Hash {
	var o pdq.Hash
	for j := range tab {
		t := &tab[j][byte(h[j/8]>>(56-8*(j%8)))]
		o[0] |= t[0]
		o[1] |= t[1]
		o[2] |= t[2]
		o[3] |= t[3]
	}
	return o
}

// forward permutes a code into the index's bit order; nil is the identity.
func (p *permutation) forward(h pdq.Hash) pdq.Hash {
	if p == nil {
		return h
	}
	return apply(&p.fwd, h)
}

// back undoes forward.
func (p *permutation) back(h pdq.Hash) pdq.Hash {
	if p == nil {
		return h
	}
	return apply(&p.inv, h)
}
