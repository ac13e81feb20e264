package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mediaTestdata = "../../internal/media/testdata"

func runIvid(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// mixedFolder holds photos, a corrupt file and a decompression bomb.
func mixedFolder(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"sample.png", "exif-full.jpg", "sample-lossy.webp", "truncated.jpg", "bomb-60000x60000.png"} {
		b, err := os.ReadFile(filepath.Join(mediaTestdata, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHashJSON(t *testing.T) {
	dir := mixedFolder(t)
	code, out, errs := runIvid(t, "hash", "-r", "--json", dir)
	if code != exitFailed {
		t.Errorf("exit %d, want 1 (some files failed)", code)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5 (failed files keep their digests)", len(recs))
	}
	byName := map[string]map[string]any{}
	for _, r := range recs {
		byName[filepath.Base(r["path"].(string))] = r
	}
	if r := byName["exif-full.jpg"]; r["pdq"] == nil || r["metadata"].(map[string]any)["camera_serial"] != "SN-0042" {
		t.Errorf("exif-full.jpg: %v", r)
	}
	if r := byName["sample.png"]; r["pdq"] != "9b53cd534c8b6ead2395335313ab09a76cd5e45cd668d238b039f934f03af068" || r["pdq_quality"] != 100.0 {
		t.Errorf("sample.png: %v", r)
	}
	for _, f := range []string{"truncated.jpg", "bomb-60000x60000.png"} {
		if byName[f]["error"] == nil || byName[f]["sha256"] == "" || byName[f]["pdq"] != nil {
			t.Errorf("%s: %v", f, byName[f])
		}
		if !strings.Contains(errs, f) {
			t.Errorf("stderr does not name %s: %q", f, errs)
		}
	}
	if n := strings.Count(errs, "\n"); n != 2 {
		t.Errorf("stderr has %d lines, want one per failing file:\n%s", n, errs)
	}
}

func TestHashTextAndCSV(t *testing.T) {
	png := filepath.Join(mediaTestdata, "sample.png")
	code, out, _ := runIvid(t, "hash", "--dihedral", png)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "MD5") || !strings.Contains(lines[1], "400x300") || !strings.Contains(lines[9], "dihedral flipm") {
		t.Errorf("text output:\n%s", out)
	}
	code, out, _ = runIvid(t, "hash", "--csv", "--pdq-mode", "cli512", png)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][9] != "pdq" || rows[1][9] != "9b53cd534c8b6ead2395335313ab09a76cd5e45cd668d238b039f934f03af068" {
		t.Errorf("csv: %v %v", rows, err)
	}
}

func TestHashExitCodes(t *testing.T) {
	png := filepath.Join(mediaTestdata, "sample.png")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"hash", png}, exitOK},
		{[]string{"hash"}, exitUsage},
		{[]string{"hash", "--no-such-flag", png}, exitUsage},
		{[]string{"hash", "--json", "--csv", png}, exitUsage},
		{[]string{"hash", "--pdq-mode", "nearest", png}, exitUsage},
		{[]string{"hash", "-j", "0", png}, exitUsage},
		{[]string{"hash", "--fast", "--pdq-mode", "cli512", png}, exitUsage},
		{[]string{"hash", "--fast", png}, exitOK},
		{[]string{"no-such-command"}, exitUsage},
		{[]string{"hash", filepath.Join(t.TempDir(), "missing.jpg")}, exitFailed},
		{[]string{"hash", t.TempDir()}, exitFailed}, // a directory without -r
	}
	for _, tc := range tests {
		if code, _, errs := runIvid(t, tc.args...); code != tc.want {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.want, errs)
		}
	}
}

func TestBenchHash(t *testing.T) {
	code, out, errs := runIvid(t, "bench", "hash", "--repeat", "1", "--warmup", "0", "-j", "2", mediaTestdata)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"images/s", "MB/s", "read+digests", "decode", "pdq", "2 workers"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

// TestHashIsolated: with --isolate-decoders the output, the messages and
// the exit status are the same as decoding in process.
func TestHashIsolated(t *testing.T) {
	dir := mixedFolder(t)
	code, out, errs := runIvid(t, "hash", "-r", "--json", "--dihedral", dir)
	icode, iout, ierrs := runIvid(t, "hash", "-r", "--json", "--dihedral", "--isolate-decoders", dir)
	sorted := func(s string) []string {
		l := strings.Split(strings.TrimSpace(s), "\n")
		slices.Sort(l)
		return l
	}
	if icode != code || !slices.Equal(sorted(iout), sorted(out)) || !slices.Equal(sorted(ierrs), sorted(errs)) {
		t.Fatalf("isolated: exit %d\n%s\n%s\nin process: exit %d\n%s\n%s", icode, iout, ierrs, code, out, errs)
	}
}
