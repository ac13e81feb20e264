package hamming

import (
	"math/rand/v2"
	"slices"

	"github.com/ivid-project/ivid/internal/pdq"
)

// Distribution names a synthetic data set for tests and benchmarks.
type Distribution string

const (
	// Uniform: independent fair bits.
	Uniform Distribution = "uniform"
	// Clustered: families of near-duplicates, each member 0-40 bits from
	// its family's root, as real PDQ data has.
	Clustered Distribution = "clustered"
	// Correlated: a random projection of a low-dimensional Gaussian source,
	// thresholded at each code's median so that every code has 128 ones, as
	// PDQ does. Bits are correlated, so multi-index buckets are uneven.
	Correlated Distribution = "correlated"
)

// Generate returns n synthetic codes of the distribution, deterministically.
func Generate(d Distribution, n int, seed uint64) []pdq.Hash {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]pdq.Hash, n)
	switch d {
	case Clustered:
		var root pdq.Hash
		for i := range out {
			if i%8 == 0 {
				root = randomHash(r)
			}
			out[i] = FlipBits(root, r.IntN(41), r)
		}
	case Correlated:
		const dim = 16
		var proj [pdq.Size][dim]float32
		for i := range proj {
			for j := range proj[i] {
				proj[i][j] = float32(r.NormFloat64())
			}
		}
		var src [dim]float32
		var vals, sorted [pdq.Size]float32
		for i := range out {
			for j := range src {
				src[j] = float32(r.NormFloat64())
			}
			for b := range vals {
				s := float32(0)
				for j, p := range proj[b] {
					s += p * src[j]
				}
				vals[b] = s + float32(0.3*r.NormFloat64())
			}
			sorted = vals
			slices.Sort(sorted[:])
			med := sorted[pdq.Size/2-1]
			var h pdq.Hash
			for b, v := range vals {
				if v > med {
					h[b/64] |= 1 << (b % 64)
				}
			}
			out[i] = h
		}
	default:
		for i := range out {
			out[i] = randomHash(r)
		}
	}
	return out
}

func randomHash(r *rand.Rand) pdq.Hash {
	return pdq.Hash{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
}

// FlipBits returns h with k distinct random bits flipped.
func FlipBits(h pdq.Hash, k int, r *rand.Rand) pdq.Hash {
	for _, b := range r.Perm(pdq.Size)[:k] {
		h[b/64] ^= 1 << (b % 64)
	}
	return h
}
