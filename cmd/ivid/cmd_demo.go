package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/server"
	"github.com/ivid-project/ivid/internal/training"
	"github.com/ivid-project/ivid/internal/vpdq"
)

type demoOptions struct {
	dir    string
	scenes int
	triage bool
	addr   string
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the ivid server on the embedded defaults with a synthetic training data set",
		Long: `Starts the ivid database server in training mode ("exercices de
simulation") on the embedded defaults (SQLite, encrypted blob store, all in
DIR/server): agencies of four countries, users of every role, cases, series
in every status, identifications, claims and Baseline entries, over benign,
procedurally drawn landscapes with near-duplicate variants. It prints the
URL and the training accounts and serves until Ctrl-C; run it again to
continue with the same data. Second factors are optional in training mode.

--triage runs the offline triage exercise instead: it writes the data set as
evidence with a training hash set and a known-good list, scans it as a
forensic examiner would and prints where the report is.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.triage {
				return runTriageDemo(cmd.Context(), o, g.stdout, g.stderr)
			}
			return runServerDemo(cmd.Context(), o, g.stdout, g.stderr, nil)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "ivid-demo", "folder for the data set, the server's data and the report")
	cmd.Flags().StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address of the training server")
	cmd.Flags().BoolVar(&o.triage, "triage", false, "run the offline triage exercise instead of the server")
	cmd.Flags().IntVar(&o.scenes, "scenes", 8, "triage: number of scenes (at least 2)")
	return cmd
}

// runServerDemo seeds (on first run) and serves the training server.
func runServerDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer, ready func(addr string)) error {
	data := filepath.Join(o.dir, "server")
	cfg := server.Config{DataDir: data, Addr: o.addr, TOTPOptional: true, AdminPassword: training.Password,
		Video: &vpdq.Options{SecondsPerHash: 1}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Hashers: serverProcs()}
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	if srv.AdminPassword != "" {
		fmt.Fprintln(stdout, "ivid demo: seeding the training data set (first run)...")
		root, err := srv.DB.UserByName(ctx, "admin")
		if err != nil {
			return err
		}
		hub, err := srv.DB.Agency(ctx, root.AgencyID)
		if err != nil {
			return err
		}
		accounts, err := training.Seed(ctx, srv.Svc, ivid.Actor{User: root, Agency: hub}, filepath.Join(o.dir, "images"))
		if err != nil {
			return err
		}
		if err := writeAccounts(filepath.Join(o.dir, "accounts.txt"), accounts); err != nil {
			return err
		}
	}
	accounts, _ := os.ReadFile(filepath.Join(o.dir, "accounts.txt"))
	err = srv.Serve(ctx, func(addr string) {
		base := "http://" + addr
		fmt.Fprintf(stdout, "\nivid training server: open %s in a browser   (Ctrl-C stops it; data in %s)\n\n", base, data)
		fmt.Fprintf(stdout, "Training accounts (password %q for all; second factor optional in training):\n%s\n", training.Password, accounts)
		fmt.Fprintf(stdout, "Sign in as es.specialist to see what Spain learns from France's and Germany's work.\n")
		fmt.Fprintf(stdout, "API:\n  curl -c jar -H 'Content-Type: application/json' -d '{\"name\":\"es.specialist\",\"password\":\"%s\"}' %s/api/v1/login\n", training.Password, base)
		fmt.Fprintf(stdout, "  curl -b jar %s/api/v1/series      # every series, who investigates, who identified\n", base)
		fmt.Fprintf(stdout, "  curl -b jar %s/api/v1/stats\n", base)
		fmt.Fprintf(stdout, "  curl -H 'Authorization: Bearer TOKEN' %s/metrics   # TOKEN: hub.monitor's, for Prometheus\n", base)
		fmt.Fprintf(stdout, "  API description: %s/api/openapi.json\n", base)
		if ready != nil {
			ready(addr)
		}
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: is another ivid running? choose another address with --addr 127.0.0.1:8081", err)
	}
	return err
}

func writeAccounts(path string, accounts []training.Account) error {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-16s %-26s %-14s %s\n", "USER", "AGENCY", "ROLES", "API TOKEN")
	for _, a := range accounts {
		fmt.Fprintf(&b, "  %-16s %-26s %-14s %s\n", a.Name, a.Agency, a.Roles, a.Token)
	}
	fmt.Fprintf(&b, "  %-16s %-26s %-14s\n", "admin", "Hub", "hub-admin")
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// runTriageDemo is the offline triage exercise.
func runTriageDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) error {
	if o.scenes < 2 {
		return usageError{fmt.Errorf("--scenes must be at least 2")}
	}
	evidence := filepath.Join(o.dir, "evidence")
	report := filepath.Join(o.dir, "report")
	// A fresh exercise each time: the report of an earlier run would be
	// resumed, not redone.
	if err := os.RemoveAll(evidence); err != nil {
		return err
	}
	if err := os.RemoveAll(report); err != nil {
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
		video: videoFlags{on: true, secondsPerHash: 1, maxFrames: vpdq.DefaultMaxFrames, timeLimit: vpdq.DefaultTimeLimit}},
		[]string{evidence}, stdout, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nOpen %s in a browser; every file's classification is in %s.\n",
		filepath.Join(report, "summary.html"), filepath.Join(report, "items.jsonl"))
	fmt.Fprintf(stdout, "Try: ivid hash -r --json %s | head -1   (go build ./cmd/ivid makes the ivid binary)\n", filepath.Join(evidence, "scene-001"))
	return nil
}
