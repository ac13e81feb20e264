package hamming

import (
	"math/rand/v2"
	"testing"

	"github.com/ivid-project/ivid/internal/pdq"
)

// benchmarkRange measures radius-31 queries over n codes, half of them near
// an indexed code. The 10-million figures come from `ivid bench index`.
func benchmarkRange(b *testing.B, d Distribution, n int) {
	codes := Generate(d, n, 1)
	x := Build(entriesOf(codes))
	r := rand.New(rand.NewPCG(1, 1))
	qs := make([]pdq.Hash, 256)
	for i := range qs {
		qs[i] = FlipBits(codes[r.IntN(n)], r.IntN(32), r)
		if i%2 == 1 {
			qs[i] = randomHash(r)
		}
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		x.Range(qs[i%len(qs)], 31)
		i++
	}
}

func BenchmarkRange1MUniform(b *testing.B)   { benchmarkRange(b, Uniform, 1_000_000) }
func BenchmarkRange1MClustered(b *testing.B) { benchmarkRange(b, Clustered, 1_000_000) }

func BenchmarkBrute1M(b *testing.B) {
	codes := Generate(Uniform, 1_000_000, 1)
	q := codes[7]
	for b.Loop() {
		n := 0
		for _, c := range codes {
			if pdq.Distance(c, q) <= 31 {
				n++
			}
		}
	}
}

// BenchmarkLatest measures a query's brute-force scan of the most inserts
// that may wait for a fold (maxLatest): what a bulk import adds to every
// query at worst.
func BenchmarkLatest(b *testing.B) {
	codes := Generate(Uniform, maxLatest+1, 9)
	x := New()
	t := *x.cur.Load()
	t.delta = entriesOf(codes[:maxLatest])
	x.cur.Store(&t)
	for b.Loop() {
		x.RangeFunc(codes[maxLatest], 31, func(Match) {})
	}
}
