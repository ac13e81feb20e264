package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/media"
)

func newBenchCommand(g *globalOptions) *cobra.Command {
	var cpuProfile string
	var stopProfile func()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ivid's hot paths on this machine",
		Long: `Benchmarks that print figures a user can compare between machines and
versions. Absolute times on shared machines are noisy: compare ratios and
medians measured in one run.`,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
			stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if stopProfile != nil {
				stopProfile()
			}
		},
	}
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (go tool pprof) to this file")
	cmd.AddCommand(newBenchHashCommand(g), newBenchIndexCommand(g), newBenchVideoCommand(g), newBenchIngestCommand(g), newBenchMatchAPICommand(g), newBenchHashListCommand(g))
	return cmd
}

type benchHashOptions struct {
	hash    hashOptions
	repeat  int
	warmups int
}

func newBenchHashCommand(g *globalOptions) *cobra.Command {
	o := benchHashOptions{hash: hashOptions{maxPixels: media.DefaultMaxPixels}}
	cmd := &cobra.Command{
		Use:   "hash DIR...",
		Short: "Hash every file under DIR and report images/s, MB/s and time per stage",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBenchHash(cmd.Context(), o, args, g.stdout)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.hash.workers, "jobs", "j", runtime.NumCPU(), "workers")
	f.StringVar(&o.hash.mode, "pdq-mode", "full", "full or cli512")
	f.BoolVar(&o.hash.fast, "fast", false, fastUsage)
	f.BoolVar(&o.hash.dihedral, "dihedral", false, "also compute dihedral hashes")
	o.hash.decoders.add(f)
	f.IntVar(&o.repeat, "repeat", 3, "measured passes; the median pass is reported")
	f.IntVar(&o.warmups, "warmup", 1, "unmeasured passes first (fills the page cache)")
	return cmd
}

type benchPass struct {
	wall          time.Duration
	files, images int
	bytes         int64
	stages        filehash.Timing
	failed        int
}

func runBenchHash(ctx context.Context, o benchHashOptions, dirs []string, out io.Writer) error {
	if o.repeat < 1 || o.hash.workers < 1 {
		return usageError{fmt.Errorf("--repeat and -j must be at least 1")}
	}
	fopts, err := o.hash.fileOptions()
	if err != nil {
		return err
	}
	var stop func()
	fopts.Decoders, stop = o.hash.decoders.start(out)
	defer stop()
	pass := func() (benchPass, error) {
		var p benchPass
		jobs := make(chan filehash.Job)
		go filehash.Walk(ctx, dirs, filehash.WalkOptions{Recursive: true}, jobs) //nolint:errcheck // errors arrive as jobs
		start := time.Now()
		err := filehash.Run(ctx, jobs, o.hash.workers, fopts, func(r filehash.Result) error {
			p.files++
			p.bytes += r.Record.Size
			if r.Err != nil {
				p.failed++
				return nil
			}
			if r.Record.PDQ != nil {
				p.images++
			}
			p.stages.Add(r.Timing)
			return nil
		})
		p.wall = time.Since(start)
		return p, err
	}
	for range o.warmups {
		if _, err := pass(); err != nil {
			return err
		}
	}
	var passes []benchPass
	for range o.repeat {
		p, err := pass()
		if err != nil {
			return err
		}
		passes = append(passes, p)
	}
	slices.SortFunc(passes, func(a, b benchPass) int { return int(a.wall - b.wall) })
	p := passes[len(passes)/2]
	if p.images == 0 {
		return fmt.Errorf("no image could be hashed under %v", dirs)
	}
	secs := p.wall.Seconds()
	cpu := p.stages.Read + p.stages.Decode + p.stages.PDQ
	per := func(d time.Duration) string {
		return fmt.Sprintf("%8.2f ms/image  %5.1f %%", float64(d.Microseconds())/1000/float64(p.images), 100*d.Seconds()/cpu.Seconds())
	}
	fmt.Fprintf(out, "ivid bench hash: %d files (%d images, %d failed), %.1f MB, mode %s, %d workers, median of %d passes; decoded in worker processes: %v\n",
		p.files, p.images, p.failed, float64(p.bytes)/1e6, fopts.Mode, o.hash.workers, o.repeat, fopts.Decoders != nil)
	fmt.Fprintf(out, "  wall time          %8.3f s\n", secs)
	fmt.Fprintf(out, "  images/s           %8.1f\n", float64(p.images)/secs)
	fmt.Fprintf(out, "  images/s per core  %8.1f   (images / busy worker-seconds)\n", float64(p.images)/cpu.Seconds())
	fmt.Fprintf(out, "  MB/s               %8.1f\n", float64(p.bytes)/1e6/secs)
	fmt.Fprintf(out, "  read+digests       %s\n", per(p.stages.Read))
	fmt.Fprintf(out, "  decode             %s\n", per(p.stages.Decode))
	fmt.Fprintf(out, "  pdq                %s\n", per(p.stages.PDQ))
	return nil
}
