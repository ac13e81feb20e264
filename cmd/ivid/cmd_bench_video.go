package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/vpdq"
)

type benchVideoOptions struct {
	input      string
	duration   int
	runs       int
	everyFrame bool
}

func newBenchVideoCommand(g *globalOptions) *cobra.Command {
	var o benchVideoOptions
	cmd := &cobra.Command{
		Use:   "video",
		Short: "Measure vPDQ video hashing: seconds of video per CPU-second, against ffmpeg's decoding alone",
		Long: `Hashes a video with vPDQ at one hash a second (and every frame with
--every-frame) and decodes it with ffmpeg alone, side by side, with one
decoding thread. The headline is seconds of video per CPU-second of ffmpeg
and ivid together, that is the rate on one core. Without --input, a 720p
H.264 clip of ffmpeg's test pattern is made first (needs libx264).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchVideo(cmd.Context(), o, g.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.input, "input", "", "video to hash (default: a generated 720p30 H.264 clip)")
	f.IntVar(&o.duration, "duration", 60, "seconds of the generated clip")
	f.IntVar(&o.runs, "runs", 3, "measured runs of each mode; medians are reported")
	f.BoolVar(&o.everyFrame, "every-frame", true, "also hash every frame (one run)")
	return cmd
}

type videoRun struct {
	wall, cpuSelf, cpuFFmpeg time.Duration
	hashes                   int
}

func (r videoRun) cpu() time.Duration { return r.cpuSelf + r.cpuFFmpeg }

func measure(fn func() (int, error)) (videoRun, error) {
	s0, c0 := cpuTimes()
	t0 := time.Now()
	n, err := fn()
	wall := time.Since(t0)
	s1, c1 := cpuTimes()
	return videoRun{wall: wall, cpuSelf: s1 - s0, cpuFFmpeg: c1 - c0, hashes: n}, err
}

func runBenchVideo(ctx context.Context, o benchVideoOptions, out io.Writer) error {
	if o.runs < 1 || o.duration < 1 {
		return usageError{fmt.Errorf("--runs and --duration must be positive")}
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return fmt.Errorf("%w (%v)", vpdq.ErrNoFFmpeg, err)
	}
	in := o.input
	if in == "" {
		dir, err := os.MkdirTemp("", "ivid-bench-video")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		in = filepath.Join(dir, "720p30.mp4")
		fmt.Fprintf(out, "making a %d s 720p30 H.264 clip (testsrc2, 3.1 Mb/s)...\n", o.duration)
		cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi",
			"-i", fmt.Sprintf("testsrc2=size=1280x720:rate=30:duration=%d", o.duration),
			"-c:v", "libx264", "-b:v", "3.1M", "-pix_fmt", "yuv420p", in)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("making the clip: %v: %s", err, b)
		}
	}
	info, err := vpdq.Probe(ctx, in, vpdq.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ivid bench video: %s, %s %d×%d %.3f fps, %.1f s\n", filepath.Base(in), info.Codec, info.Width, info.Height, info.FrameRate, info.Duration)

	decode := func() (int, error) {
		cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-threads", "1", "-i", in, "-map", "0:v:0", "-f", "null", "-")
		b, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("ffmpeg: %v: %s", err, b)
		}
		return 0, nil
	}
	hash := func(sec float64) func() (int, error) {
		return func() (int, error) {
			n := 0
			_, err := vpdq.Hash(ctx, in, vpdq.Options{SecondsPerHash: sec, Threads: 1}, func(vpdq.Frame) error { n++; return nil })
			return n, err
		}
	}
	type mode struct {
		name string
		fn   func() (int, error)
		runs []videoRun
	}
	modes := []*mode{{name: "ffmpeg decode only", fn: decode}, {name: "vPDQ 1 hash/s", fn: hash(1)}}
	// Interleave the modes so that a noisy neighbour hits them alike.
	for range o.runs {
		for _, m := range modes {
			r, err := measure(m.fn)
			if err != nil {
				return err
			}
			m.runs = append(m.runs, r)
		}
	}
	if o.everyFrame {
		m := &mode{name: "vPDQ every frame", fn: hash(0)}
		r, err := measure(m.fn)
		if err != nil {
			return err
		}
		m.runs = append(m.runs, r)
		modes = append(modes, m)
	}
	fmt.Fprintf(out, "%-20s %7s %10s %10s %12s %12s\n", "mode", "hashes", "cpu s", "wall s", "video s/cpu-s", "video s/wall-s")
	med := map[string]float64{}
	for _, m := range modes {
		slices.SortFunc(m.runs, func(a, b videoRun) int { return int(a.cpu() - b.cpu()) })
		r := m.runs[len(m.runs)/2]
		perCPU := info.Duration / r.cpu().Seconds()
		med[m.name] = perCPU
		fmt.Fprintf(out, "%-20s %7d %10.2f %10.2f %12.1f %12.1f\n", m.name, r.hashes, r.cpu().Seconds(), r.wall.Seconds(), perCPU, info.Duration/r.wall.Seconds())
	}
	fmt.Fprintf(out, "vPDQ 1 hash/s reaches %.0f %% of decode-only speed on one core (medians of %d runs; the issue's bar is 15 s of video per second)\n",
		100*med["vPDQ 1 hash/s"]/med["ffmpeg decode only"], o.runs)
	return nil
}
