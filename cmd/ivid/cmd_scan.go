package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/triage"
)

type scanOptions struct {
	known, knownGood []string
	out              string
	workers          int
	followSymlinks   bool
	dihedral         bool
	threshold        int
	strict           bool
	quiet            bool
	mode             string
	fast             bool
	maxPixels        int64
	decodeLimit      time.Duration
	decoders         decoderFlag
	video            videoFlags
}

func newScanCommand(g *globalOptions) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan DIR... --out REPORT [--known SET]... [--known-good SET]...",
		Short: "Triage seized media offline: hash, classify against hash sets, stack duplicates, report",
		Long: `Scan hashes every file under DIR (read-only, access times untouched, symbolic
links not followed unless asked, devices, FIFOs and sockets skipped and
reported) and classifies it: known (exact MD5/SHA-1/SHA-256 in a known set),
near-known (PDQ within the set's threshold; for videos, vPDQ frames matching
a known video's under HMA's rule), known-good (left out of review),
new image, new video, other, skipped or error. Identical and visually similar
files are stacked. REPORT receives items.jsonl, summary.json, vics.json (VICS
2.0, categories pre-filled from matches) and summary.html.

Interrupted (Ctrl-C), the same command continues where it stopped; the final
report is the same as an uninterrupted run's. Hash sets may be ivid, VICS,
ICSE CSV, plain CSV/TSV, PDQ lines, NSRL RDSv3 or vPDQ files (detected).
Videos are decoded by ffmpeg, which must be installed (--video=false: digests
only).`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), o, args, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.known, "known", nil, "known hash set (repeatable)")
	f.StringArrayVar(&o.knownGood, "known-good", nil, "known-good hash set, e.g. NSRL RDSv3 (repeatable)")
	f.StringVar(&o.out, "out", "", "report folder (required; never inside the evidence)")
	f.IntVarP(&o.workers, "jobs", "j", runtime.NumCPU(), "files hashed in parallel")
	f.BoolVar(&o.followSymlinks, "follow-symlinks", false, "follow symbolic links")
	f.BoolVar(&o.dihedral, "dihedral", false, "also match rotated and flipped copies")
	f.IntVar(&o.threshold, "pdq-threshold", 0, "PDQ distance for near-known matches and visual stacks (default: the set's, else 31)")
	f.BoolVar(&o.strict, "strict", false, "abort on the first malformed hash set row instead of skipping it")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress")
	f.StringVar(&o.mode, "pdq-mode", "full", "full or cli512")
	f.BoolVar(&o.fast, "fast", false, fastUsage)
	f.Int64Var(&o.maxPixels, "max-pixels", media.DefaultMaxPixels, "refuse images and video frames with more pixels than this")
	f.DurationVar(&o.decodeLimit, "decode-limit", filehash.DefaultDecodeLimit, decodeLimitUsage)
	o.decoders.add(f)
	o.video.add(f)
	return cmd
}

func runScan(ctx context.Context, o scanOptions, roots []string, stdout, stderr io.Writer) error {
	if o.out == "" {
		return usageError{fmt.Errorf("--out REPORT is required")}
	}
	if o.workers < 1 || o.threshold < 0 || o.threshold > pdq.Size {
		return usageError{fmt.Errorf("-j must be at least 1 and --pdq-threshold 0..256")}
	}
	mode, err := pdq.ParseMode(o.mode)
	if err != nil {
		return usageError{err}
	}
	if o.fast && mode != pdq.Full {
		return usageError{fmt.Errorf("--fast works with --pdq-mode full only")}
	}
	sets := triage.NewSets()
	for _, p := range o.known {
		if err := sets.Load(p, hashset.Known, o.threshold, o.strict); err != nil {
			return err
		}
	}
	for _, p := range o.knownGood {
		if err := sets.Load(p, hashset.KnownGood, o.threshold, o.strict); err != nil {
			return err
		}
	}
	for _, s := range sets.Stats {
		fmt.Fprintf(stderr, "ivid scan: %s set %s: %d entries", s.Kind, s.Name, s.Entries)
		if s.Skipped > 0 {
			fmt.Fprintf(stderr, ", %d malformed rows skipped (first: %s)", s.Skipped, s.Errors[0])
		}
		fmt.Fprintln(stderr)
	}
	var bar *progressBar
	opts := triage.Options{Roots: roots, Report: o.out, Workers: o.workers, FollowSymlinks: o.followSymlinks,
		Dihedral: o.dihedral, Threshold: o.threshold, Mode: mode, Fast: o.fast, MaxPixels: o.maxPixels, DecodeLimit: limitOption(o.decodeLimit)}
	if opts.Video, err = o.video.options(o.maxPixels); err != nil {
		return err
	}
	var stop func()
	opts.Decoders, stop = o.decoders.start(stderr)
	defer stop()
	if !o.quiet {
		bar = newProgressBar(stderr)
		opts.Progress = bar.update
	}
	sum, err := triage.Scan(ctx, sets, opts)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "ivid scan: interrupted; run the same command again to continue\n")
		}
		return err
	}
	fmt.Fprintf(stdout, "%d files, %.1f MB scanned; report in %s\n", sum.Files, float64(sum.Bytes)/1e6, o.out)
	for _, c := range triage.Classes {
		fmt.Fprintf(stdout, "  %-11s %8d\n", c, sum.Classes[c])
	}
	fmt.Fprintf(stdout, "  binary duplicates %d, visual duplicates %d; %d new items need review\n",
		sum.BinaryDuplicates, sum.VisualDuplicates, sum.NewForReview)
	return nil
}

// progressBar draws one updating line on a terminal, or a plain line every
// ten seconds when stderr is a file or a pipe.
type progressBar struct {
	label  string // prefix of the plain lines
	w      io.Writer
	tty    bool
	start  time.Time
	last   time.Time
	latest triage.Progress
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{label: "ivid scan", w: w, tty: tty, start: time.Now()}
}

func (b *progressBar) update(p triage.Progress) {
	b.latest = p
	every := 10 * time.Second
	if b.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(b.last) < every {
		return
	}
	b.last = time.Now()
	b.print(false)
}

func (b *progressBar) print(final bool) {
	p := b.latest
	el := time.Since(b.start).Seconds()
	rate := float64(p.Bytes) / 1e6 / max(el, 1e-9)
	files := int64(p.Resumed) + p.Files
	line := fmt.Sprintf("%d files, %.1f MB, %.1f MB/s, %.0f files/s", files, float64(p.Bytes)/1e6, rate, float64(p.Files)/max(el, 1e-9))
	if p.TotalFiles > 0 {
		pct := 100 * float64(files) / float64(p.TotalFiles)
		line = fmt.Sprintf("[%5.1f%%] %d/%d files", min(pct, 100), files, p.TotalFiles) + line[len(fmt.Sprint(files))+6:]
		if p.Bytes > 0 && !final {
			left := float64(p.TotalBytes-p.Bytes) / 1e6 / max(rate, 1e-9)
			line += fmt.Sprintf(", ETA %s", (time.Duration(max(left, 0)) * time.Second).Round(time.Second))
		}
	}
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(b.w)
		}
		return
	}
	fmt.Fprintf(b.w, "%s: %s\n", b.label, line)
}

func (b *progressBar) done() { b.print(true) }

func categoryLabel(c hashset.Category) string { return triage.CategoryName(c) }
