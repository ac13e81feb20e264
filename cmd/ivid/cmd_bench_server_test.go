package main

import (
	"os"
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestBenchServer runs the server benches, and the index's, on tiny
// inputs: they build what they measure, load it, and print their figures.
func TestBenchServer(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"bench", "ingest", "--n", "4", "--size", "320x240", "--repeat", "2", "--batch", "2"},
			[]string{"4 files", "run 1: hash", "run 2: hash", "contribution through the API", "overhead of contribution over hashing", "median of 2 runs' pairs", "processor time of contribution over hashing"}},
		{[]string{"bench", "ingest", "--n", "2", "--size", "20x20", "--repeat", "1"}, nil},
		{[]string{"bench", "match-api", "--hashes", "2000", "--duration", "300ms", "--batch", "5", "--pdq-share", "0.5"},
			[]string{"2000 hashes indexed", "4 clients, 5 hashes a request", "a random read over", "(failed 0)", "lookups/s"}},
		{[]string{"bench", "hashlist", "--entries", "300"},
			[]string{"300 entries (ICSE CSV", "SQLite", "new list", "same list again", "request again", "entries/s", "replayed"}},
		{[]string{"bench", "index", "--n", "5000", "--queries", "50", "--brute-queries", "5"},
			[]string{"n=5000", "a random read over", "16 in flight", "queries/s", "recall 100.00 %"}},
	}
	if u := os.Getenv(storagetest.EnvPostgres); u != "" {
		tests = append(tests, struct {
			args []string
			want []string
		}{[]string{"bench", "hashlist", "--entries", "300", "--database", u}, []string{"300 entries", "PostgreSQL", "same list again", "request again", "replayed"}})
	}
	for _, tc := range tests {
		code, out, errs := runIvid(t, tc.args...)
		if tc.want == nil {
			if code != 2 || !strings.Contains(errs, "--size") {
				t.Errorf("%v: exit %d, stderr %q; want a usage error about --size", tc.args, code, errs)
			}
			continue
		}
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}
