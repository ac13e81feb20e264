package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/pdq"
)

type benchIndexOptions struct {
	n       int
	radius  int
	dist    string
	queries int
	brute   int
	inserts int
	rate    int
}

func newBenchIndexCommand(g *globalOptions) *cobra.Command {
	var o benchIndexOptions
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Build a Hamming index of synthetic hashes and measure queries against brute force",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchIndex(cmd.Context(), o, g.stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.n, "n", 1_000_000, "number of hashes")
	f.IntVar(&o.radius, "radius", 31, "query radius")
	f.StringVar(&o.dist, "dist", "uniform", "uniform, clustered or correlated")
	f.IntVar(&o.queries, "queries", 2000, "queries for latency and throughput")
	f.IntVar(&o.brute, "brute-queries", 20, "queries also answered by brute force (recall and its latency)")
	f.IntVar(&o.inserts, "inserts", 0, "then insert this many new hashes while queries run, as contributions do, and measure the queries meanwhile")
	f.IntVar(&o.rate, "insert-rate", 20000, "inserts a second during --inserts (0: as fast as they go)")
	return cmd
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return float64(res*int64(os.Getpagesize())) / (1 << 20)
}

// peakRSSMB is the process's high-water mark (VmHWM), build input included.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}

func runBenchIndex(ctx context.Context, o benchIndexOptions, out io.Writer) error {
	d := hamming.Distribution(o.dist)
	if d != hamming.Uniform && d != hamming.Clustered && d != hamming.Correlated {
		return usageError{fmt.Errorf("--dist must be uniform, clustered or correlated")}
	}
	if o.n < 1 || o.queries < 1 || o.radius < 0 || o.radius > pdq.Size || o.inserts < 0 || o.rate < 0 {
		return usageError{fmt.Errorf("--n and --queries must be positive, --radius 0..256, --inserts and --insert-rate not negative")}
	}
	fmt.Fprintf(out, "ivid bench index: n=%d dist=%s radius=%d, %d cores\n", o.n, d, o.radius, runtime.NumCPU())
	t0 := time.Now()
	codes := hamming.Generate(d, o.n, 1)
	entries := make([]hamming.Entry, len(codes))
	for i, c := range codes {
		entries[i] = hamming.Entry{ID: uint64(i), Hash: c}
	}
	fmt.Fprintf(out, "  generate           %8.2f s\n", time.Since(t0).Seconds())
	// Queries: half near an indexed code (a near-duplicate), half random.
	r := rand.New(rand.NewPCG(2, 3))
	qs := make([]pdq.Hash, o.queries)
	for i := range qs {
		if i%2 == 0 {
			qs[i] = hamming.FlipBits(codes[r.IntN(len(codes))], r.IntN(o.radius+1), r)
		} else {
			qs[i] = hamming.Generate(d, 1, uint64(1000+i))[0]
		}
	}
	codes = nil
	t0 = time.Now()
	x := hamming.Build(entries)
	build := time.Since(t0)
	entries = nil
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Fprintf(out, "  build              %8.2f s\n", build.Seconds())
	if b, err := os.ReadFile("/proc/self/smaps_rollup"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "AnonHugePages:"); ok {
				var kb float64
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
				fmt.Fprintf(out, "  on 2 MiB pages     %8.0f MiB\n", kb/1024)
			}
		}
	}
	fmt.Fprintf(out, "  RSS                %8.0f MiB (the index and the queries, input freed; peak %.0f MiB)\n", rssMB(), peakRSSMB())
	printReadCost(out, "  memory             ", x.Bytes())

	lat := make([]time.Duration, len(qs))
	found := 0
	for i, q := range qs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s := time.Now()
		found += len(x.Range(q, o.radius))
		lat[i] = time.Since(s)
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return quantileMs(lat, q) }
	fmt.Fprintf(out, "  index  p50 %7.3f ms  p99 %7.3f ms  (one goroutine, %d queries, %d matches)\n", p(0.5), p(0.99), len(qs), found)

	var next atomic.Int64
	var wg sync.WaitGroup
	t0 = time.Now()
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(qs)) {
					return
				}
				x.Range(qs[i], o.radius)
			}
		})
	}
	wg.Wait()
	fmt.Fprintf(out, "  index  %10.0f queries/s on %d cores\n", float64(len(qs))/time.Since(t0).Seconds(), runtime.NumCPU())

	// Brute force on the same entries, same process: latency and recall.
	all := x.Entries()
	nb := min(o.brute, len(qs))
	blat := make([]time.Duration, nb)
	want, got := 0, 0
	for i := range nb {
		s := time.Now()
		var bm []hamming.Match
		for _, e := range all {
			if dd := pdq.Distance(e.Hash, qs[i]); dd <= o.radius {
				bm = append(bm, hamming.Match{ID: e.ID, Distance: dd})
			}
		}
		blat[i] = time.Since(s)
		want += len(bm)
		im := x.Range(qs[i], o.radius)
		ids := map[uint64]bool{}
		for _, m := range im {
			ids[m.ID] = true
		}
		for _, m := range bm {
			if ids[m.ID] {
				got++
			}
		}
	}
	slices.Sort(blat)
	recall := 100.0
	if want > 0 {
		recall = 100 * float64(got) / float64(want)
	}
	if nb > 0 {
		bp50 := float64(blat[nb/2].Microseconds()) / 1000
		fmt.Fprintf(out, "  brute  p50 %7.3f ms  (%d queries)  -> index is %.0fx faster\n", bp50, nb, bp50/max(p(0.5), 0.001))
		fmt.Fprintf(out, "  recall %.2f %% (%d of %d brute-force matches)\n", recall, got, want)
	}
	if o.inserts > 0 {
		benchIndexWhileInserting(ctx, out, x, d, qs, o)
	}
	return nil
}

// benchIndexWhileInserting inserts new hashes, at o.rate a second, while
// every core but one queries: the index must stay fast while it grows, as
// the server's does with every contribution.
func benchIndexWhileInserting(ctx context.Context, out io.Writer, x *hamming.Index, d hamming.Distribution, qs []pdq.Hash, o benchIndexOptions) {
	fresh := hamming.Generate(d, o.inserts, 7)
	first := uint64(x.Len())
	var (
		done    atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		lat     []time.Duration
		started = time.Now()
	)
	readers := max(1, runtime.NumCPU()-1)
	for g := range readers {
		wg.Go(func() {
			var mine []time.Duration
			for i := g; !done.Load() && ctx.Err() == nil; i++ {
				s := time.Now()
				x.Range(qs[i%len(qs)], o.radius)
				mine = append(mine, time.Since(s))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	var slowest time.Duration
	for i, h := range fresh {
		if ctx.Err() != nil {
			break
		}
		if o.rate > 0 {
			if wait := time.Duration(float64(i)/float64(o.rate)*float64(time.Second)) - time.Since(started); wait > 0 {
				time.Sleep(wait)
			}
		}
		s := time.Now()
		x.Insert(hamming.Entry{ID: first + uint64(i), Hash: h})
		slowest = max(slowest, time.Since(s))
	}
	elapsed := time.Since(started)
	done.Store(true)
	wg.Wait()
	slices.Sort(lat)
	p := func(q float64) float64 { return quantileMs(lat, q) }
	fmt.Fprintf(out, "  while inserting %d hashes (%.0f a second, %d readers): p50 %.3f ms  p99 %.3f ms  max %.1f ms  %.0f queries/s; slowest insert %.1f ms\n",
		len(fresh), float64(len(fresh))/elapsed.Seconds(), readers, p(0.5), p(0.99), quantileMs(lat, 1), float64(len(lat))/elapsed.Seconds(), float64(slowest.Microseconds())/1000)
}

// quantileMs returns quantile q of sorted latencies, in milliseconds.
func quantileMs(sorted []time.Duration, q float64) float64 {
	return float64(sorted[int(q*float64(len(sorted)-1))].Microseconds()) / 1000
}

// printReadCost prints what a random read costs over a table the size of
// the index being measured: the figure that decides an index's speed on a
// machine more than its processor does.
func printReadCost(out io.Writer, prefix string, size int64) {
	what := "the index's size"
	if size > maxReadTable {
		// The table sits beside the index: at 100 million codes a table of
		// the index's 14 GiB would not fit beside it in 24.
		what = fmt.Sprintf("the index's %.0f MiB is more than the table measured may take", float64(size)/(1<<20))
		size = maxReadTable
	}
	lat, par := hamming.ReadCost(int(size), 1_000_000, readChains)
	fmt.Fprintf(out, "%sa random read over %.0f MiB (%s): %.0f ns one at a time, %.0f ns each with %d in flight\n",
		prefix, float64(size)/(1<<20), what, float64(lat.Nanoseconds()), float64(par.Nanoseconds()), readChains)
}

// maxReadTable bounds the table printReadCost reads over.
const maxReadTable = 4 << 30

// readChains is about how many reads an index query keeps in flight.
const readChains = 16
