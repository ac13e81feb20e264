package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

type hashOptions struct {
	recursive      bool
	followSymlinks bool
	json, csv      bool
	dihedral       bool
	mode           string
	fast           bool
	workers        int
	maxPixels      int64
	decodeLimit    time.Duration
	decoders       decoderFlag
	video          videoFlags
}

// videoFlags configure vPDQ for the commands that hash videos.
type videoFlags struct {
	on             bool
	secondsPerHash float64
	exactC         bool
	crop           bool
	ffmpeg         string
	ffprobe        string
	maxFrames      int
	timeLimit      time.Duration
}

func (v *videoFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&v.on, "video", true, "hash videos with vPDQ through ffmpeg (--video=false: digests only)")
	f.Float64Var(&v.secondsPerHash, "seconds-per-hash", 1, "vPDQ: one frame hashed per this many seconds of frames; 0 hashes every frame")
	f.BoolVar(&v.exactC, "vpdq-exact", false, "vPDQ: decode with FFmpeg's C path (-cpuflags 0), bit-exact with reference hashes made that way; slower")
	f.BoolVar(&v.crop, "vpdq-crop", false, "vPDQ: strip black bars (letterbox, pillarbox) found by ffmpeg's cropdetect before hashing, so that copies with bars added match; the hashes of videos with bars then differ from the reference's")
	f.StringVar(&v.ffmpeg, "ffmpeg", "", "path of the ffmpeg program (default: from PATH)")
	f.StringVar(&v.ffprobe, "ffprobe", "", "path of the ffprobe program (default: from PATH)")
	f.IntVar(&v.maxFrames, "max-video-frames", vpdq.DefaultMaxFrames, "refuse a video with more frames than this to hash (video bombs: still frames take a few bytes each)")
	f.DurationVar(&v.timeLimit, "video-limit", vpdq.DefaultTimeLimit, "stop ffmpeg and report a video not hashed within this time (0: no limit); it is also stopped after 10 minutes without a frame")
}

func (v videoFlags) options(maxPixels int64) (*vpdq.Options, error) {
	if !v.on {
		return nil, nil
	}
	if v.secondsPerHash < 0 {
		return nil, usageError{fmt.Errorf("--seconds-per-hash must be 0 or more")}
	}
	if v.maxFrames <= 0 {
		return nil, usageError{fmt.Errorf("--max-video-frames must be positive")}
	}
	return &vpdq.Options{FFmpeg: v.ffmpeg, FFprobe: v.ffprobe, SecondsPerHash: v.secondsPerHash, ExactC: v.exactC, Crop: v.crop, MaxPixels: min(maxPixels, vpdq.DefaultMaxPixels),
		MaxFrames: v.maxFrames, TimeLimit: limitOption(v.timeLimit)}, nil
}

func newHashCommand(g *globalOptions) *cobra.Command {
	var o hashOptions
	cmd := &cobra.Command{
		Use:   "hash [flags] PATH...",
		Short: "Print MD5, SHA-1, SHA-256 and PDQ of files (- reads standard input)",
		Long: `Hash files: size, content type (sniffed from the bytes, not the name), MD5,
SHA-1 and SHA-256 in one pass, and for images width, height, PDQ hash and
quality, interoperable with Meta's reference; for videos the stream's codec,
size, frame rate, duration and rotation and the vPDQ frame hashes (decoded by
ffmpeg, which must be installed). EXIF camera, capture time and GPS, and the
vPDQ frames, appear in --json output. Failing files are reported on stderr and the run
goes on; the exit status is 0 if all went well, 1 if some files failed, 2 for
a usage error.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHash(cmd.Context(), o, args, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.recursive, "recursive", "r", false, "hash the files in directories, recursively")
	f.BoolVar(&o.followSymlinks, "follow-symlinks", false, "follow symbolic links found in directories")
	f.BoolVar(&o.json, "json", false, "print JSON Lines (one object per file, with EXIF metadata)")
	f.BoolVar(&o.csv, "csv", false, "print CSV with a header row")
	f.BoolVar(&o.dihedral, "dihedral", false, "add the 8 rotation/flip PDQ hashes")
	f.StringVar(&o.mode, "pdq-mode", "full", "full (hash at full resolution, as Java/pdqhash/HMA) or cli512 (512x512 squash, as pdq-photo-hasher)")
	f.BoolVar(&o.fast, "fast", false, fastUsage)
	f.IntVarP(&o.workers, "jobs", "j", runtime.NumCPU(), "files hashed in parallel")
	f.Int64Var(&o.maxPixels, "max-pixels", media.DefaultMaxPixels, "refuse images and video frames with more pixels than this (decompression bombs)")
	f.DurationVar(&o.decodeLimit, "decode-limit", filehash.DefaultDecodeLimit, decodeLimitUsage)
	o.decoders.add(f)
	o.video.add(f)
	return cmd
}

const decodeLimitUsage = "report an image whose decoding takes longer than this and go on (0: no limit)"

// limitOption turns a time-limit flag, where 0 means none, into the
// options' convention (0: the default, negative: none), as for
// filehash.Options.DecodeLimit and vpdq.Options.TimeLimit.
func limitOption(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

const fastUsage = "triage first pass: PDQ of baseline JPEGs from their 1/8-scale luma (DC coefficients only), within a few bits of full mode"

func (o hashOptions) fileOptions() (filehash.Options, error) {
	mode, err := pdq.ParseMode(o.mode)
	if err != nil {
		return filehash.Options{}, usageError{err}
	}
	if o.maxPixels <= 0 {
		return filehash.Options{}, usageError{fmt.Errorf("--max-pixels must be positive")}
	}
	if o.fast && mode != pdq.Full {
		return filehash.Options{}, usageError{fmt.Errorf("--fast works with --pdq-mode full only")}
	}
	video, err := o.video.options(o.maxPixels)
	if err != nil {
		return filehash.Options{}, err
	}
	return filehash.Options{Mode: mode, Fast: o.fast, Dihedral: o.dihedral, MaxPixels: o.maxPixels, DecodeLimit: limitOption(o.decodeLimit), Video: video}, nil
}

func runHash(ctx context.Context, o hashOptions, args []string, stdout, stderr io.Writer) error {
	if o.json && o.csv {
		return usageError{fmt.Errorf("--json and --csv are exclusive")}
	}
	if o.workers < 1 {
		return usageError{fmt.Errorf("-j must be at least 1")}
	}
	fopts, err := o.fileOptions()
	if err != nil {
		return err
	}
	var stop func()
	fopts.Decoders, stop = o.decoders.start(stderr)
	defer stop()
	format := filehash.Text
	switch {
	case o.json:
		format = filehash.JSON
	case o.csv:
		format = filehash.CSV
	}
	w, err := filehash.NewWriter(format, stdout, o.dihedral)
	if err != nil {
		return err
	}
	jobs := make(chan filehash.Job)
	walkErr := make(chan error, 1)
	go func() {
		walkErr <- filehash.Walk(ctx, args, filehash.WalkOptions{Recursive: o.recursive, FollowSymlinks: o.followSymlinks}, jobs)
	}()
	failed := 0
	err = filehash.Run(ctx, jobs, o.workers, fopts, func(r filehash.Result) error {
		if r.Err != nil {
			failed++
			fmt.Fprintf(stderr, "ivid: %s: %v\n", r.Record.Path, r.Err)
			if r.Record.SHA256 == "" {
				return nil // nothing was read: nothing to print
			}
		}
		return w.Write(r.Record)
	})
	if werr := <-walkErr; err == nil && werr != nil {
		err = werr
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return partialError{failed}
	}
	return nil
}
