package hamming

import (
	"math/rand/v2"
	"runtime"
	"sync"

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
		generateCorrelated(out, r)
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

// generateCorrelated fills out with codes made by thresholding a random
// projection of a 16-dimensional Gaussian source (plus a little noise) at
// each code's median. Work is split over the cores, each part seeded from r,
// so the output is deterministic.
func generateCorrelated(out []pdq.Hash, r *rand.Rand) {
	const dim = 16
	var proj [pdq.Size][dim]float32
	for i := range proj {
		for j := range proj[i] {
			proj[i][j] = float32(r.NormFloat64())
		}
	}
	parts := runtime.NumCPU()
	var wg sync.WaitGroup
	for p := range parts {
		seed := r.Uint64()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(p)))
			var src [dim]float32
			var vals, work [pdq.Size]float32
			for i := p * len(out) / parts; i < (p+1)*len(out)/parts; i++ {
				for j := range src {
					src[j] = float32(r.NormFloat64())
				}
				for b := range vals {
					s := float32(0)
					for j, pj := range proj[b] {
						s += pj * src[j]
					}
					vals[b] = s + 0.3*float32(r.NormFloat64())
				}
				work = vals
				med := selectK(work[:], pdq.Size/2-1)
				var h pdq.Hash
				for b, v := range vals {
					if v > med {
						h[b/64] |= 1 << (b % 64)
					}
				}
				out[i] = h
			}
		})
	}
	wg.Wait()
}

// selectK returns the k-th smallest value (0-based), reordering a.
func selectK(a []float32, k int) float32 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		p := a[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}
