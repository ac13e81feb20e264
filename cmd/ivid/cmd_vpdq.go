package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/vpdq"
)

func newVPDQCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vpdq",
		Short: "Hash, compare and preview videos with Meta's vPDQ (needs ffmpeg)",
		Long: `vPDQ hashes the frames of a video with PDQ, one frame a second by default.
Files are interoperable with Meta's reference (vpdq-hash-video) and HMA.`,
	}
	cmd.AddCommand(newVPDQHashCommand(g), newVPDQMatchCommand(g), newVPDQSheetCommand(g))
	return cmd
}

func newVPDQHashCommand(g *globalOptions) *cobra.Command {
	var v videoFlags
	var format, out string
	var maxPixels int64
	cmd := &cobra.Command{
		Use:   "hash VIDEO... [--out DIR]",
		Short: "Write a video's vPDQ hashes: reference lines (frame,quality,hash,timestamp) or HMA's JSON list",
		Long: `Hash videos with vPDQ. With one video and no --out the hashes go to standard
output; with --out each video gets DIR/NAME.txt (--format cli) or
DIR/NAME.json (--format hma). For a known video that clips should match,
hash every frame (--seconds-per-hash 0); for a query, one a second is enough.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "cli" && format != "hma" {
				return usageError{fmt.Errorf("--format must be cli or hma")}
			}
			if len(args) > 1 && out == "" {
				return usageError{fmt.Errorf("several videos need --out DIR")}
			}
			v.on = true
			o, err := v.options(maxPixels)
			if err != nil {
				return err
			}
			failed := 0
			for _, p := range args {
				if err := hashVideo(cmd.Context(), p, *o, format, out, g.stdout); err != nil {
					failed++
					fmt.Fprintf(g.stderr, "ivid: %s: %v\n", p, err)
				}
			}
			if failed > 0 {
				return partialError{failed}
			}
			return nil
		},
	}
	f := cmd.Flags()
	v.add(f)
	f.Lookup("video").Hidden = true
	f.StringVar(&format, "format", "cli", "cli (reference lines) or hma (JSON list of \"hash,quality,timestamp\")")
	f.StringVar(&out, "out", "", "folder for one hash file per video")
	f.Int64Var(&maxPixels, "max-pixels", media.DefaultMaxPixels, "refuse frames with more pixels than this")
	return cmd
}

func hashVideo(ctx context.Context, path string, o vpdq.Options, format, outDir string, stdout io.Writer) error {
	var frames []vpdq.Frame
	_, err := vpdq.Hash(ctx, path, o, func(f vpdq.Frame) error { frames = append(frames, f); return nil })
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	ext := ".txt"
	if format == "hma" {
		buf.WriteString(vpdq.FormatHMA(frames) + "\n")
		ext = ".json"
	} else if err := vpdq.WriteLines(&buf, frames); err != nil {
		return err
	}
	if outDir == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ext
	return writeFileAtomic(filepath.Join(outDir, name), buf.Bytes())
}

// loadFrames reads a vPDQ file (reference lines or HMA list), or hashes a
// video at one frame a second.
func loadFrames(ctx context.Context, path string, v videoFlags) ([]vpdq.Frame, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if media.IsVideo(media.Sniff(data)) {
		v.on = true
		o, err := v.options(media.DefaultMaxPixels)
		if err != nil {
			return nil, err
		}
		var frames []vpdq.Frame
		_, err = vpdq.Hash(ctx, path, *o, func(f vpdq.Frame) error { frames = append(frames, f); return nil })
		return frames, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		return vpdq.ParseHMA(string(t))
	}
	return vpdq.ReadLines(bytes.NewReader(data))
}

func newVPDQMatchCommand(g *globalOptions) *cobra.Command {
	var v videoFlags
	var convention string
	var distance, quality int
	var minQuery, minTarget float64
	cmd := &cobra.Command{
		Use:   "match QUERY TARGET",
		Short: "Compare two videos (vPDQ files, or videos hashed on the fly) and print the share of matching frames",
		Long: `Prints the percentage of QUERY's frames with a twin in TARGET and of TARGET's
frames with a twin in QUERY, as Meta's match-hashes-brute does, and the
verdict. Conventions:
  hma    python-threatexchange/HMA: duplicate hashes dropped, quality >= 50,
         distance <= 31; a match when query% >= 80 (default)
  brute  the C++ match-hashes-brute: quality >= 50, distance < 31, no dedup
Exit status 0 when the videos match, 1 when they do not.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o vpdq.MatchOptions
			switch convention {
			case "hma":
				o = vpdq.DefaultHMA
			case "brute":
				o = vpdq.DefaultBrute
			default:
				return usageError{fmt.Errorf("--convention must be hma or brute")}
			}
			if cmd.Flags().Changed("distance") {
				o.Distance = distance
			}
			if cmd.Flags().Changed("quality") {
				o.MinQuality = quality
			}
			q, err := loadFrames(cmd.Context(), args[0], v)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			t, err := loadFrames(cmd.Context(), args[1], v)
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			qp, tp := vpdq.Match(q, t, o)
			fmt.Fprintf(g.stdout, "%.2f Percentage Query Video match\n%.2f Percentage Target Video match\n", qp, tp)
			if qp >= minQuery && tp >= minTarget {
				fmt.Fprintln(g.stdout, "match")
				return nil
			}
			fmt.Fprintln(g.stdout, "no match")
			return partialError{0}
		},
	}
	f := cmd.Flags()
	v.add(f)
	f.Lookup("video").Hidden = true
	f.StringVar(&convention, "convention", "hma", "hma or brute")
	f.IntVar(&distance, "distance", 31, "frame distance (hma: inclusive; brute: exclusive)")
	f.IntVar(&quality, "quality", 50, "minimum frame quality")
	f.Float64Var(&minQuery, "query-percent", vpdq.DefaultQueryPercent, "minimum query% for a match")
	f.Float64Var(&minTarget, "target-percent", vpdq.DefaultTargetPercent, "minimum target% for a match")
	return cmd
}

func newVPDQSheetCommand(g *globalOptions) *cobra.Command {
	var v videoFlags
	var so vpdq.SheetOptions
	var out string
	cmd := &cobra.Command{
		Use:   "sheet VIDEO --out SHEET.jpg",
		Short: "Write a contact sheet: a grid of frames spread over the video, as one JPEG",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			v.on = true
			o, err := v.options(media.DefaultMaxPixels)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := vpdq.ContactSheet(cmd.Context(), args[0], *o, so, &buf); err != nil {
				return err
			}
			return writeFileAtomic(out, buf.Bytes())
		},
	}
	f := cmd.Flags()
	v.add(f)
	for _, n := range []string{"video", "seconds-per-hash", "vpdq-exact", "vpdq-crop"} {
		f.Lookup(n).Hidden = true
	}
	f.IntVar(&so.Cols, "cols", 4, "tiles across")
	f.IntVar(&so.Rows, "rows", 4, "tiles down")
	f.IntVar(&so.Width, "width", 1280, "sheet width in pixels")
	f.StringVar(&out, "out", "", "the JPEG to write")
	return cmd
}
