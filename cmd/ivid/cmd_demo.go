package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/media"
)

type demoOptions struct {
	dir    string
	scenes int
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a triage exercise on the synthetic training data set",
		Long: `Generate ivid's synthetic training data set (benign, procedurally drawn
landscapes, each with near-duplicate variants: resized, re-encoded, brighter,
mirrored, watermarked), a training hash set that "knows" two of the scenes,
and a known-good list; then scan the set as a forensic examiner would and
print where the report is. Nothing to set up; no real material.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), o, g.stdout, g.stderr)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "ivid-demo", "folder for the data set and the report")
	cmd.Flags().IntVar(&o.scenes, "scenes", 8, "number of scenes (at least 2)")
	return cmd
}

func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	if o.scenes < 2 {
		return usageError{fmt.Errorf("--scenes must be at least 2")}
	}
	evidence := filepath.Join(o.dir, "evidence")
	report := filepath.Join(o.dir, "report")
	// A fresh exercise each time: the report of an earlier run would be
	// resumed, not redone.
	if err := os.RemoveAll(o.dir); err != nil {
		return err
	}
	files, err := demo.WriteSet(evidence, o.scenes, 640, 426)
	if err != nil {
		return err
	}
	system := filepath.Join(evidence, "system", "drivers.txt")
	if err := os.MkdirAll(filepath.Dir(system), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(system, []byte("synthetic operating-system file\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ivid demo: wrote %d synthetic images (%d scenes x %d variants) to %s\n",
		len(files), o.scenes, len(demo.Variants), evidence)

	// The training set: scene 1 is in a series whose child was identified;
	// scene 2 in one still unidentified.
	known := filepath.Join(o.dir, "training-known.vics.json")
	good := filepath.Join(o.dir, "training-known-good.txt")
	h := filehash.New(filehash.Options{})
	kf, err := os.Create(known)
	if err != nil {
		return err
	}
	vw := hashset.NewVICSWriter(kf)
	yes, no := true, false
	for _, f := range files {
		if f.Variant != demo.Original || f.Scene > 2 {
			continue
		}
		rec, _, err := h.File(f.Path)
		if err != nil {
			return err
		}
		e := hashset.Entry{MD5: rec.MD5, SHA1: rec.SHA1, SHA256: rec.SHA256, PDQ: rec.PDQ, Quality: rec.Quality,
			Category: hashset.CSAM, MediaID: fmt.Sprint(f.Scene), Series: "Training series A", VictimIdentified: &yes}
		if f.Scene == 2 {
			e.Category, e.Series, e.VictimIdentified = hashset.Exploitative, "Training series B", &no
		}
		if err := vw.Write(e); err != nil {
			return err
		}
	}
	if err := vw.Close(); err != nil {
		return err
	}
	kf.Close()
	sys, _, err := h.File(system)
	if err != nil {
		return err
	}
	if err := os.WriteFile(good, []byte(sys.MD5+"  drivers.txt\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ivid demo: training hash sets %s and %s\n\n", known, good)
	err = runScan(ctx, scanOptions{known: []string{known}, knownGood: []string{good}, out: report,
		workers: runtime.NumCPU(), dihedral: true, mode: "full", maxPixels: media.DefaultMaxPixels, quiet: true,
		video: videoFlags{on: true, secondsPerHash: 1}},
		[]string{evidence}, stdout, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nOpen %s in a browser; every file's classification is in %s.\n",
		filepath.Join(report, "summary.html"), filepath.Join(report, "items.jsonl"))
	fmt.Fprintf(stdout, "Try: ivid hash -r --json %s | head -1   (go build ./cmd/ivid makes the ivid binary)\n", filepath.Join(evidence, "scene-001"))
	return nil
}
