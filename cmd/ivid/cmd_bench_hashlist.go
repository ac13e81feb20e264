package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/storage"
)

type benchHashListOptions struct {
	entries  int
	database string
}

func newBenchHashListCommand(g *globalOptions) *cobra.Command {
	var o benchHashListOptions
	cmd := &cobra.Command{
		Use:   "hashlist",
		Short: "Contribute a hash list through the API, then the same list again, and report entries/s",
		Long: `Starts a server on loopback and contributes an ICSE CSV list of --entries
synthetic MD5 and SHA-1 pairs to a case (POST /api/v1/cases/{id}/hashes),
as a unit importing another's list would: every entry is a new hashes-only
item. Then it contributes the same list again under another request key
(an Idempotency-Key, as 'ivid contribute --hashes' sends): every entry is
known, and gets a second submission. Then it sends that request again, as
after a lost answer: nothing is written. Prints each pass's time and
entries/s, then the time another node over the same database (a second
service, started before the list) takes to replay the new items in its
indexes.

The database is a fresh SQLite file, or with --database a fresh database
created on that PostgreSQL server (and dropped after).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchHashList(cmd.Context(), o, g.stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.entries, "entries", 20_000, "entries in the list")
	f.StringVar(&o.database, "database", "", "URL of a PostgreSQL server to create the bench's database on (default: SQLite)")
	return cmd
}

func runBenchHashList(ctx context.Context, o benchHashListOptions, out io.Writer) error {
	if o.entries < 1 || o.entries > 1_000_000 {
		return usageError{fmt.Errorf("--entries: 1 to 1,000,000 (a request's limit), got %d", o.entries)}
	}
	tmp, err := os.MkdirTemp("", "ivid-bench-hashlist")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dbURL, engine := "", "SQLite"
	if o.database != "" {
		var drop func()
		if !strings.HasPrefix(o.database, "postgres://") && !strings.HasPrefix(o.database, "postgresql://") {
			return usageError{fmt.Errorf("--database: want a postgres:// URL")}
		}
		if dbURL, drop, err = storage.CreateDatabase(ctx, o.database, "ivid_bench_"); err != nil {
			return fmt.Errorf("create the bench's database: %w", err)
		}
		defer drop()
		engine = "PostgreSQL"
	}
	bs, err := startBenchServer(ctx, tmp, dbURL, 1, nil)
	if err != nil {
		return err
	}
	defer bs.stop()
	var list strings.Builder
	list.WriteString(strings.Join(hashset.ICSEHeader, ";") + "\n")
	r := rand.New(rand.NewPCG(uint64(o.entries), 3))
	for i := range o.entries {
		fmt.Fprintf(&list, "%016x%016x;%016x%016x%08x;;bench-%d;y;n;n;;1;n;Image;n\n", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64(), r.Uint32(), i)
	}
	// Another node over the same database, started before the list: it
	// replays the new items once the passes are done.
	other, err := bs.srv.Peer(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ivid bench hashlist: %d entries (ICSE CSV, MD5 and SHA-1), %s\n", o.entries, engine)
	for _, pass := range []struct{ name, key string }{{"new list", "list-1"}, {"same list again", "list-2"}, {"request again", "list-2"}} {
		start := time.Now()
		n, err := bs.postList(ctx, list.String(), pass.key)
		if err != nil {
			return fmt.Errorf("%s: %w", pass.name, err)
		}
		if n != o.entries {
			return fmt.Errorf("%s: %d comparisons for %d entries", pass.name, n, o.entries)
		}
		d := time.Since(start)
		fmt.Fprintf(out, "  %-16s %8.2f s  %8.0f entries/s  %6.0f µs an entry\n", pass.name, d.Seconds(), float64(n)/d.Seconds(), float64(d.Microseconds())/float64(n))
	}
	start := time.Now()
	n, err := other.CatchUp(ctx)
	if err != nil {
		return fmt.Errorf("another node catching up: %w", err)
	}
	d := time.Since(start)
	fmt.Fprintf(out, "  %-16s %8.2f s  %8.0f items/s    %6.0f µs an item (another node's indexes catching up)\n", "replayed", d.Seconds(), float64(n)/d.Seconds(), float64(d.Microseconds())/float64(max(n, 1)))
	return nil
}

// postList contributes an ICSE list to the bench case under a request key
// and returns the number of comparisons answered.
func (bs *benchServer) postList(ctx context.Context, list, key string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/v1/cases/%d/hashes", bs.base, bs.caseID), strings.NewReader(list))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+bs.specialist)
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var got struct {
		Items int `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return 0, err
	}
	return got.Items, nil
}
