// Command ivid is the image and video database for identifying child victims
// of sexual exploitation: hashing, offline triage and (later) the server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/filehash"
)

// Exit codes: 0 all good, 1 some inputs failed, 2 usage error.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitAborted = 130
)

// usageError marks a mistake in the command line.
type usageError struct{ error }

// partialError reports that the run finished but some inputs failed.
type partialError struct{ failed int }

func (e partialError) Error() string { return fmt.Sprintf("%d input(s) failed", e.failed) }

type globalOptions struct {
	stdout, stderr io.Writer
}

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "ivid",
		Short: "Image and video database for identifying child victims of sexual exploitation",
		Long: `ivid hashes images and videos the way the child-protection community does
(MD5, SHA-1, SHA-256, Meta's PDQ), triages seized media offline against
hash sets, and links new material to known series.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newHashCommand(g), newScanCommand(g), newHashsetCommand(g), newVPDQCommand(g), newServeCommand(g), newContributeCommand(g),
		newMigrateCommand(g), newKeysCommand(g), newAuditCommand(g), newBenchCommand(g), newDemoCommand(g))
	return root
}

// usageArgs wraps a cobra argument validator so its errors exit with 2.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ue usageError
	var pe partialError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &pe):
		return exitFailed
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(stderr, "ivid: %v\nRun 'ivid --help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "ivid: interrupted")
		return exitAborted
	default:
		fmt.Fprintf(stderr, "ivid: %v\n", err)
		return exitFailed
	}
}

// isCobraUsage recognises cobra's own usage errors (unknown command).
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

func main() {
	filehash.ServeDecoder() // when started as a decoder worker
	os.Exit(runWithSignals(os.Args[1:], run))
}

// runWithSignals runs a command whose context an interrupt or SIGTERM
// cancels, for an orderly stop; a second one ends the process at once, as
// the orderly stop waits for work in progress, which a decoder stuck on a
// hostile file would never end.
func runWithSignals(args []string, run func(context.Context, []string, io.Writer, io.Writer) int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the signals' default action again: termination
	}()
	return run(ctx, args, os.Stdout, os.Stderr)
}
