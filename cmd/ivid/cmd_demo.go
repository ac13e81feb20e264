package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/demo"
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
		Short: "Generate the synthetic training data set and run ivid on it",
		Long: `Generate ivid's synthetic training data set (benign, procedurally drawn
landscapes, each with near-duplicate variants: resized, re-encoded, brighter,
mirrored, watermarked) and hash it. Nothing to set up; no real material.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), o, g.stdout, g.stderr)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "ivid-demo", "folder for the generated data set")
	cmd.Flags().IntVar(&o.scenes, "scenes", 8, "number of scenes")
	return cmd
}

func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	if o.scenes < 1 {
		return usageError{fmt.Errorf("--scenes must be at least 1")}
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	files, err := demo.WriteSet(o.dir, o.scenes, 640, 426)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "ivid demo: wrote %d synthetic images (%d scenes x %d variants) to %s\n\n",
		len(files), o.scenes, len(demo.Variants), o.dir)
	return runHash(ctx, hashOptions{recursive: true, workers: runtime.NumCPU(), mode: "full", maxPixels: media.DefaultMaxPixels}, []string{o.dir}, stdout, stderr)
}
