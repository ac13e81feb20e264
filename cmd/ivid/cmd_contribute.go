package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/client"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/triage"
)

type contributeOptions struct {
	server    string
	token     string
	caseID    int64
	recursive bool
	journal   string
	quiet     bool
	batch     int
	retries   int
	hashes    bool
	listBatch int
}

func newContributeCommand(g *globalOptions) *cobra.Command {
	var o contributeOptions
	cmd := &cobra.Command{
		Use:   "contribute PATH... --server URL --case ID",
		Short: "Contribute files to a case on an ivid server and print what is known about each",
		Long: `Uploads images and videos, --batch files a streamed request, and prints
each file's comparison: new or known, series, category, links. The API token comes from
--token or $IVID_TOKEN. Interrupted, the same command resumes: files the
server acknowledged are listed in a journal (default
.ivid-contribute-CASE.jsonl in the current folder) and skipped.

With --hashes, each PATH is a hash list instead (VICS JSON, ICSE CSV, a CSV
with md5/sha1/sha256/pdq columns, Meta's PDQ or vPDQ lines, or ivid's own
format), read and checked here, then sent --list-batch entries a request:
hashes only, no pixels. The journal records how many entries of each list
the server committed, and a second run sends the rest.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContribute(cmd.Context(), o, args, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", os.Getenv("IVID_SERVER"), "server URL ($IVID_SERVER)")
	f.StringVar(&o.token, "token", "", "API token (default $IVID_TOKEN)")
	f.Int64Var(&o.caseID, "case", 0, "case ID")
	f.BoolVarP(&o.recursive, "recursive", "r", false, "contribute the files in directories")
	f.StringVar(&o.journal, "journal", "", "journal of acknowledged files")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress and no per-file comparison")
	f.IntVar(&o.batch, "batch", 256, "files per request (the server hashes them in parallel and commits them in groups)")
	f.BoolVar(&o.hashes, "hashes", false, "PATHs are hash lists: contribute their entries (hashes only)")
	f.IntVar(&o.listBatch, "list-batch", 100_000, "hash-list entries a request (with --hashes)")
	f.IntVar(&o.retries, "retries", 3, "times a request's unacknowledged files are sent again after a broken connection or a server error (after 1 s, 2 s, 4 s…)")
	return cmd
}

type journalLine struct {
	Path   string `json:"path"`
	Media  int64  `json:"media_id"`
	New    bool   `json:"new"`
	Status string `json:"status"`
	// Entries is, for a hash list (status "list"), how many of its
	// entries the server committed, from the first on.
	Entries int `json:"entries,omitempty"`
}

func runContribute(ctx context.Context, o contributeOptions, args []string, stdout, stderr io.Writer) error {
	if o.token == "" {
		o.token = os.Getenv("IVID_TOKEN")
	}
	if o.server == "" || o.caseID <= 0 || o.token == "" {
		return usageError{fmt.Errorf("--server, --case and a token (--token or $IVID_TOKEN) are required")}
	}
	if o.batch < 1 || o.retries < 0 {
		return usageError{fmt.Errorf("--batch must be at least 1 and --retries at least 0")}
	}
	if o.journal == "" {
		o.journal = fmt.Sprintf(".ivid-contribute-%d.jsonl", o.caseID)
	}
	if o.hashes {
		if o.listBatch < 1 || o.listBatch > 1_000_000 {
			return usageError{fmt.Errorf("--list-batch: 1 to 1,000,000 entries (a request's limit)")}
		}
		return runContributeHashes(ctx, o, args, stdout, stderr)
	}
	done := map[string]bool{}
	if f, err := os.Open(o.journal); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l journalLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				done[l.Path] = true
			}
		}
		f.Close()
	}
	jf, err := os.OpenFile(o.journal, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer jf.Close()

	jobs := make(chan filehash.Job)
	walkErr := make(chan error, 1)
	go func() {
		walkErr <- filehash.Walk(ctx, args, filehash.WalkOptions{Recursive: o.recursive}, jobs)
	}()
	c := &client.Client{Base: o.server, Token: o.token}
	sent, skipped, failed := 0, 0, 0
	var sentBytes int64
	var bar *progressBar
	if !o.quiet {
		bar = newProgressBar(stderr)
		bar.label = "ivid contribute"
	}
	progress := func() {
		if bar != nil {
			bar.update(triage.Progress{Files: int64(sent + failed), Bytes: sentBytes, TotalFiles: -1, TotalBytes: -1, Resumed: skipped})
		}
	}
	var fatal error
	var batch []string
	send := func() {
		if len(batch) == 0 || fatal != nil || ctx.Err() != nil {
			batch = batch[:0]
			return
		}
		pending := batch
		for attempt := 0; ; attempt++ {
			answered := map[string]bool{}
			err := c.ContributeFiles(ctx, o.caseID, pending, func(path string, res client.Result, err error) {
				answered[path] = true
				if err != nil {
					failed++
					fmt.Fprintf(stderr, "ivid: %s: %v\n", path, err)
					return
				}
				abs, _ := filepath.Abs(path)
				sent++
				sentBytes += res.Comparison.Media.Size
				progress()
				cmp := res.Comparison
				b, _ := json.Marshal(journalLine{Path: abs, Media: int64(cmp.Media.ID), New: cmp.New, Status: "ok"})
				jf.Write(append(b, '\n'))
				if !o.quiet {
					fmt.Fprintln(stdout, describe(path, res))
				}
			})
			if err == nil {
				break
			}
			if errors.Is(err, client.ErrFatal) {
				fatal = err
				break
			}
			// A broken connection or a server restarting: the files it did
			// not answer are sent again, a few times, then left to the next
			// run. One stored whose answer was lost is found by its SHA-256
			// and not stored twice (its submission is recorded again).
			pending = slices.DeleteFunc(slices.Clone(pending), func(p string) bool { return answered[p] })
			if len(pending) == 0 {
				break
			}
			if !client.Temporary(err) || attempt == o.retries || ctx.Err() != nil {
				failed += len(pending)
				fmt.Fprintf(stderr, "ivid: %d file(s) not acknowledged: %v\n", len(pending), err)
				break
			}
			wait := time.Second << attempt
			fmt.Fprintf(stderr, "ivid: %d file(s) not acknowledged: %v; sending them again in %v\n", len(pending), err, wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		batch = batch[:0]
	}
	for j := range jobs {
		if fatal != nil || ctx.Err() != nil {
			continue // drain
		}
		abs, _ := filepath.Abs(j.Path)
		if j.Err != nil {
			failed++
			fmt.Fprintf(stderr, "ivid: %s: %v\n", j.Path, j.Err)
			continue
		}
		if done[abs] {
			skipped++
			continue
		}
		if batch = append(batch, j.Path); len(batch) >= o.batch {
			send()
		}
	}
	send()
	if err := <-walkErr; err != nil && fatal == nil {
		fatal = err
	}
	jf.Sync()
	if bar != nil {
		bar.done()
	}
	fmt.Fprintf(stderr, "ivid contribute: %d sent, %d already sent, %d failed\n", sent, skipped, failed)
	if fatal != nil {
		return fatal
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		return partialError{failed}
	}
	return nil
}

// describe is one line per file: known or new, series and who works on it.
func describe(path string, r client.Result) string {
	c := r.Comparison
	var b strings.Builder
	if c.New {
		fmt.Fprintf(&b, "%s: new (media %d)", path, c.Media.ID)
	} else {
		fmt.Fprintf(&b, "%s: KNOWN (media %d, %d submissions by %s)", path, c.Media.ID, c.Submissions, strings.Join(c.Agencies, ", "))
	}
	for _, l := range c.Links {
		fmt.Fprintf(&b, "; %s of media %d (distance %g)", l.Kind, l.MediaID, l.Distance)
		if s := l.Series; s != nil {
			fmt.Fprintf(&b, " in series %q, %s", s.Series.Name, s.Series.Status)
			for _, cl := range s.Claims {
				fmt.Fprintf(&b, ", investigated by %s since %s", cl.Agency, cl.Since.Format("2006-01-02"))
			}
			for _, v := range s.Victims {
				if v.Identified && v.IdentifiedAt != nil {
					fmt.Fprintf(&b, ", victim identified by %s on %s", v.Agency, v.IdentifiedAt.Format("2006-01-02"))
				}
			}
		}
	}
	return b.String()
}
