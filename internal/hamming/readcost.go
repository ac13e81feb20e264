package hamming

import (
	"math/rand/v2"
	"runtime"
	"time"
)

// ReadCost measures random reads of single cache lines over a table of
// size bytes, allocated as the index's tables are: one read at a time,
// each waiting for the last (the memory's latency), and chains reads
// at once (about what a query's prefetching keeps in flight). A query at
// radius 31 over 10 million codes makes about 2,900 such reads, so the
// second figure bounds its time, and explains why one machine answers
// several times faster than another with the same processor: in a virtual
// machine a random read's cost also grows with the table's size, as the
// host's page tables are walked.
func ReadCost(size, reads, chains int) (latency, parallel time.Duration) {
	const line = 64 / 8 // uint64s a line
	n := max(size/64, chains+2)
	owner := new(static)
	t := makeTable[uint64](owner, n*line)
	// One random cycle through every line (Sattolo's algorithm), so that
	// no read predicts the next.
	for i := range n {
		t[i*line] = uint64(i)
	}
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := n - 1; i > 0; i-- {
		j := r.IntN(i)
		t[i*line], t[j*line] = t[j*line], t[i*line]
	}
	p := uint64(0)
	start := time.Now()
	for range reads {
		p = t[p*line]
	}
	latency = time.Since(start) / time.Duration(max(reads, 1))
	// Chains start at random lines; over a large table they rarely meet
	// within the reads measured.
	at := make([]uint64, chains)
	for i := range at {
		at[i] = uint64(r.IntN(n))
	}
	start = time.Now()
	for range reads / chains {
		for i, q := range at {
			at[i] = t[q*line]
		}
	}
	parallel = time.Since(start) / time.Duration(max(reads/chains*chains, 1))
	// The walks' results are kept, and the table mapped, to the end.
	runtime.KeepAlive(p)
	runtime.KeepAlive(at)
	runtime.KeepAlive(owner)
	return latency, parallel
}
