package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/client"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/server"
)

// benchServer is a server on loopback over a temporary data folder, with a
// specialist's, an industry partner's and a monitor's API tokens and a case.
type benchServer struct {
	srv        *server.Server
	base       string
	specialist string
	industry   string
	monitor    string
	caseID     int64
	stop       func()
}

// startBenchServer starts a server on loopback over dir, and over the
// PostgreSQL database at databaseURL if set (which must be empty).
func startBenchServer(ctx context.Context, dir, databaseURL string, hashers int, decoders *filehash.Decoders) (*benchServer, error) {
	srv, err := server.Open(ctx, server.Config{DataDir: dir, DatabaseURL: databaseURL, Addr: "127.0.0.1:0", TOTPOptional: true, Hashers: hashers, Decoders: decoders})
	if err != nil {
		return nil, err
	}
	root, err := srv.DB.UserByName(ctx, "admin")
	if err != nil {
		return nil, err
	}
	hub, _ := srv.DB.Agency(ctx, root.AgencyID)
	ra := ivid.Actor{User: root, Agency: hub}
	fr, err := srv.Svc.CreateAgency(ctx, ra, ivid.Agency{Name: "Bench unit", Country: "FR", Kind: ivid.NationalUnit})
	if err != nil {
		return nil, err
	}
	ind, _ := srv.Svc.CreateAgency(ctx, ra, ivid.Agency{Name: "Bench partner", Kind: ivid.Industry})
	spec, _, err := srv.Svc.CreateUser(ctx, ra, "bench.specialist", fr.ID, ivid.Roles{ivid.RoleSpecialist}, "")
	if err != nil {
		return nil, err
	}
	iu, _, err := srv.Svc.CreateUser(ctx, ra, "bench.industry", ind.ID, ivid.Roles{ivid.RoleIndustry}, "")
	if err != nil {
		return nil, err
	}
	sa := ivid.Actor{User: spec, Agency: fr}
	st, _, err := srv.Svc.CreateToken(ctx, sa, 0, "bench", 0)
	if err != nil {
		return nil, err
	}
	it, _, err := srv.Svc.CreateToken(ctx, ra, iu.ID, "bench", 0)
	if err != nil {
		return nil, err
	}
	mu, _, err := srv.Svc.CreateUser(ctx, ra, "bench.monitor", hub.ID, ivid.Roles{ivid.RoleMonitor}, "")
	if err != nil {
		return nil, err
	}
	mt, _, err := srv.Svc.CreateToken(ctx, ra, mu.ID, "bench", 0)
	if err != nil {
		return nil, err
	}
	c, err := srv.Svc.CreateCase(ctx, sa, ivid.Case{Reference: "BENCH"})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.ServeListener(sctx, ln, nil); close(done) }()
	return &benchServer{srv: srv, base: "http://" + ln.Addr().String(), specialist: st, industry: it, monitor: mt, caseID: int64(c.ID),
		stop: func() { cancel(); <-done; srv.Close() }}, nil
}

type benchIngestOptions struct {
	dir      string
	n        int
	workers  int
	repeat   int
	batch    int
	size     string
	decoders decoderFlag
}

func newBenchIngestCommand(g *globalOptions) *cobra.Command {
	var o benchIngestOptions
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Contribute photos through the API (hash, encrypt, store, index, compare) against hashing them alone",
		Long: `Measures, in one run and on the same files, 'ivid hash' (digests, PDQ,
EXIF) and contribution through the HTTP API of a server on loopback (the
same hashing, plus encryption, storage, the database, the index and the
comparison), and prints the overhead. Hashing runs --jobs workers; the
server hashes as many files at once, and the client sends --batch files a
streamed request, as 'ivid contribute' does. Without --dir, synthetic
JPEG photos of --size are generated.

Each run measures both, one after the other, in turns of order, and prints
their times and CPU; the overhead is the median of the runs' own ratios, so
that a shared machine's changing load weighs on both sides of each pair.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchIngest(cmd.Context(), o, g.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "folder of photos (default: generated)")
	f.IntVar(&o.n, "n", 60, "photos to generate")
	f.StringVar(&o.size, "size", "1600x1067", "size of the generated photos (4032x3024: a 12-megapixel phone camera's)")
	o.decoders.add(f)
	f.IntVarP(&o.workers, "jobs", "j", runtime.NumCPU(), "hashing workers, and files the server hashes at once")
	f.IntVar(&o.batch, "batch", 256, "files a contribution request (1: one request per file, --jobs requests at once)")
	f.IntVar(&o.repeat, "repeat", 3, "measured runs of each; medians are reported")
	return cmd
}

func runBenchIngest(ctx context.Context, o benchIngestOptions, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "ivid-bench-ingest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var files []string
	var width, height int
	if _, err := fmt.Sscanf(o.size, "%dx%d", &width, &height); err != nil || width < 64 || height < 64 || width*height > 50_000_000 {
		return usageError{fmt.Errorf("--size: want WIDTHxHEIGHT, 64 to 50 megapixels, got %q", o.size)}
	}
	if o.dir == "" {
		for i := range o.n {
			b, _, err := demo.Encode(demo.Apply(demo.Scene(i+1, width, height), demo.Brighter), demo.Brighter)
			if err != nil {
				return err
			}
			p := filepath.Join(tmp, fmt.Sprintf("photo-%03d.jpg", i))
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return err
			}
			files = append(files, p)
		}
	} else {
		filepath.WalkDir(o.dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
	}
	if o.workers < 1 || o.batch < 1 {
		return usageError{fmt.Errorf("--jobs and --batch must be at least 1")}
	}
	var total int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	serverProcs()
	procs := runtime.GOMAXPROCS(0)
	clientProcs()
	// Both sides decode alike: in process, or with --isolate-decoders in
	// worker processes.
	decoders, stop := o.decoders.start(out)
	defer stop()
	// used is the processor time of this process and its decoders.
	used := func() time.Duration {
		if decoders == nil {
			return cpuTime()
		}
		return cpuTime() + decoders.ProcessTime()
	}
	fmt.Fprintf(out, "ivid bench ingest: %d files (%.1f MiB), %d workers, %d files a request, %d runs; GOMAXPROCS %d for hashing, %d for the server; images decoded in worker processes: %v\n",
		len(files), float64(total)/(1<<20), o.workers, o.batch, o.repeat, runtime.GOMAXPROCS(0), procs, decoders != nil)
	// Each side runs with its command's processors: see serverProcs.
	hashOnce := func() (time.Duration, time.Duration, error) {
		clientProcs()
		start, cpu := time.Now(), used()
		jobs := make(chan filehash.Job)
		go func() {
			for _, f := range files {
				jobs <- filehash.Job{Path: f}
			}
			close(jobs)
		}()
		// The server hashes with the 8 rotations and flips (it compares
		// them), so the baseline is 'ivid hash --dihedral'.
		err := filehash.Run(ctx, jobs, o.workers, filehash.Options{Dihedral: true, Decoders: decoders}, func(filehash.Result) error { return nil })
		return time.Since(start), used() - cpu, err
	}
	// contributeOnce contributes the files into a fresh server, and
	// counts its group commits (each syncs the disk).
	var commits float64
	contributeOnce := func(run int) (time.Duration, time.Duration, error) {
		serverProcs()
		bs, err := startBenchServer(ctx, filepath.Join(tmp, fmt.Sprintf("server-%d", run)), "", o.workers, decoders)
		if err != nil {
			return 0, 0, err
		}
		defer bs.stop()
		cl := &client.Client{Base: bs.base, Token: bs.specialist}
		start, cpu := time.Now(), used()
		var firstErr atomic.Value
		if o.batch == 1 {
			// One request per file, as many at once as workers.
			var next atomic.Int64
			var wg sync.WaitGroup
			for range o.workers {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(files) {
							return
						}
						if _, err := cl.Contribute(ctx, bs.caseID, files[i]); err != nil {
							firstErr.CompareAndSwap(nil, err)
						}
					}
				})
			}
			wg.Wait()
		} else {
			for b := range slices.Chunk(files, o.batch) {
				err := cl.ContributeFiles(ctx, bs.caseID, b, func(_ string, _ client.Result, err error) {
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
					}
				})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}
		wall, spent := time.Since(start), used()-cpu
		err, _ = firstErr.Load().(error)
		if err == nil {
			commits, err = bs.metric(ctx, "ivid_contribution_commits_total")
		}
		return wall, spent, err
	}

	var hashT, ingestT, hashCPU, ingestCPU []time.Duration
	var ratios []float64
	for run := range o.repeat {
		// Each run measures both, in turns of order, so that the pair
		// shares the machine's load of the moment, and a drift in it does
		// not favour either.
		var h, hc, c, cc time.Duration
		var err error
		// Labelled, so that a --cpuprofile splits by side (pprof
		// -tagfocus side=contribution); the server's goroutines inherit it.
		hash := func() {
			pprof.Do(ctx, pprof.Labels("side", "hash"), func(context.Context) { h, hc, err = hashOnce() })
		}
		contribute := func() {
			pprof.Do(ctx, pprof.Labels("side", "contribution"), func(context.Context) { c, cc, err = contributeOnce(run) })
		}
		if run%2 == 0 {
			if hash(); err == nil {
				contribute()
			}
		} else {
			if contribute(); err == nil {
				hash()
			}
		}
		if err != nil {
			return err
		}
		hashT, hashCPU = append(hashT, h), append(hashCPU, hc)
		ingestT, ingestCPU = append(ingestT, c), append(ingestCPU, cc)
		ratios = append(ratios, c.Seconds()/h.Seconds()-1)
		fmt.Fprintf(out, "  run %d: hash %.2f s (CPU %.2f s), contribution %.2f s (CPU %.2f s, %.0f commits): %+.0f %%\n", run+1, h.Seconds(), hc.Seconds(), c.Seconds(), cc.Seconds(), commits, 100*ratios[run])
	}
	h, i := median(hashT), median(ingestT)
	fmt.Fprintf(out, "%-34s %8.2f s  %7.1f files/s  CPU %.2f s\n", "ivid hash --dihedral", h.Seconds(), float64(len(files))/h.Seconds(), median(hashCPU).Seconds())
	fmt.Fprintf(out, "%-34s %8.2f s  %7.1f files/s  CPU %.2f s (server and client)\n", "contribution through the API", i.Seconds(), float64(len(files))/i.Seconds(), median(ingestCPU).Seconds())
	fmt.Fprintf(out, "overhead of contribution over hashing: %+.0f %% (median of %d runs' pairs, %+.0f to %+.0f %%; the issue's bar is 20 %%)\n",
		100*median(ratios), o.repeat, 100*slices.Min(ratios), 100*slices.Max(ratios))
	var cpuRatios []float64
	for k, hc := range hashCPU {
		if hc > 0 { // zero where the system gives no process times
			cpuRatios = append(cpuRatios, ingestCPU[k].Seconds()/hc.Seconds()-1)
		}
	}
	if len(cpuRatios) > 0 {
		// Beside it, the extra processor time alone: the difference between
		// the two is time a core stood idle (syncs, the pipeline's ends).
		fmt.Fprintf(out, "processor time of contribution over hashing: %+.0f %% (median of the pairs, %+.0f to %+.0f %%)\n",
			100*median(cpuRatios), 100*slices.Min(cpuRatios), 100*slices.Max(cpuRatios))
	}
	return nil
}

// metric reads one unlabelled value from the server's /metrics.
func (bs *benchServer) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", bs.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+bs.monitor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("/metrics: no %s", name)
}

// median is the middle value (the upper one of an even count).
func median[T cmp.Ordered](ds []T) T {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

type benchMatchOptions struct {
	hashes   int
	batch    int
	clients  int
	duration time.Duration
	pdqShare float64
}

func newBenchMatchAPICommand(g *globalOptions) *cobra.Command {
	var o benchMatchOptions
	cmd := &cobra.Command{
		Use:   "match-api",
		Short: "Load the industry match API on loopback and report lookups/s and latency",
		Long: `Starts a server on loopback whose Baseline index holds --hashes synthetic
PDQ hashes (clustered like real data; seeded into the in-memory index only,
not the database), then POSTs /api/v1/match from --clients concurrent
clients with --batch hashes per request for --duration. Half the PDQ queries
are near an indexed hash. Prints lookups/s and request latency percentiles.

Latency is a request's, and grows with the lookups in flight (--clients
times --batch) whatever the server's speed: at 8 clients of 100 hashes, 800
lookups queue on the cores, 40 ms of work at 20,000 lookups/s. The defaults
keep 40 in flight, enough to keep every core busy.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchMatchAPI(cmd.Context(), o, g.stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.hashes, "hashes", 1_000_000, "Baseline hashes in the index")
	f.IntVar(&o.batch, "batch", 10, "hashes per request")
	f.IntVar(&o.clients, "clients", 4, "concurrent clients")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "measured time")
	f.Float64Var(&o.pdqShare, "pdq-share", 1, "share of PDQ lookups (the rest are MD5)")
	return cmd
}

func runBenchMatchAPI(ctx context.Context, o benchMatchOptions, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "ivid-bench-match")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bs, err := startBenchServer(ctx, tmp, "", serverProcs(), nil)
	if err != nil {
		return err
	}
	defer bs.stop()
	bs.srv.API.SetIndustryRate(1e9)
	t0 := time.Now()
	codes := hamming.Generate(hamming.Clustered, o.hashes, 1)
	indexBytes := bs.srv.Svc.SeedBaselineIndex(1<<40, codes)
	fmt.Fprintf(out, "ivid bench match-api: %d hashes indexed in %.1f s, RSS %.0f MiB; %d clients, %d hashes a request, %d cores, GOMAXPROCS %d\n",
		o.hashes, time.Since(t0).Seconds(), rssMB(), o.clients, o.batch, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	printReadCost(out, "memory: ", indexBytes)
	tr := &http.Transport{MaxIdleConnsPerHost: o.clients}
	hc := &http.Client{Transport: tr}
	var lookups atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	// Request bodies are made before the clock starts, so that the clients
	// (on the same cores) spend their time on HTTP only, as remote ones
	// would. 50,000 lookups a client, cycled, are far too many for the
	// processor's caches to hold what they read.
	bodies := make([][][]byte, o.clients)
	for c := range bodies {
		r := rand.New(rand.NewPCG(uint64(c), 7))
		for range max(1, 50_000/o.batch) {
			qs := make([]ivid.MatchQuery, o.batch)
			for i := range qs {
				if r.Float64() < o.pdqShare {
					h := hamming.FlipBits(codes[r.IntN(len(codes))], r.IntN(20), r)
					if i%2 == 1 {
						h = hamming.Generate(hamming.Uniform, 1, r.Uint64())[0]
					}
					qs[i] = ivid.MatchQuery{Type: "pdq", Value: h.String()}
				} else {
					qs[i] = ivid.MatchQuery{Type: "md5", Value: fmt.Sprintf("%032x", r.Uint64())}
				}
			}
			body, _ := json.Marshal(map[string]any{"hashes": qs})
			bodies[c] = append(bodies[c], body)
		}
	}
	deadline := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	for c := range o.clients {
		wg.Go(func() {
			var local []time.Duration
			for n := 0; time.Now().Before(deadline); n++ {
				body := bodies[c][n%len(bodies[c])]
				req, _ := http.NewRequest("POST", bs.base+"/api/v1/match", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+bs.industry)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				local = append(local, time.Since(start))
				lookups.Add(int64(o.batch))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(lat) == 0 {
		return fmt.Errorf("no request succeeded (%d failed)", failed.Load())
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(out, "requests %d (failed %d), lookups/s %.0f, request latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		len(lat), failed.Load(), float64(lookups.Load())/o.duration.Seconds(),
		ms(pct(0.5)), ms(pct(0.99)), ms(lat[len(lat)-1]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
