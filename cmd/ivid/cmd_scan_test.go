package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoAndScan runs the main job end to end and checks the report.
func TestDemoAndScan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errs := runIvid(t, "demo", "--triage", "--dir", dir, "--scenes", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"known              2", "near-known", "known-good         1", "summary.html"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	var sum struct {
		Files   int            `json:"files"`
		Classes map[string]int `json:"classes"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "report", "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || sum.Files != 19 || sum.Classes["near-known"] < 8 {
		t.Errorf("summary: %s %v", b, err)
	}
	// Running the same scan again resumes the finished journal: same report.
	report := filepath.Join(dir, "report")
	code, _, errs = runIvid(t, "scan", "-q", "--dihedral", "--known", filepath.Join(dir, "training-known.vics.json"),
		"--known-good", filepath.Join(dir, "training-known-good.txt"), "--out", report, filepath.Join(dir, "evidence"))
	if code != 0 {
		t.Fatalf("rescan exit %d: %s", code, errs)
	}
	if b2, _ := os.ReadFile(filepath.Join(report, "summary.json")); string(b2) != string(b) {
		t.Error("rescan changed the report")
	}
}

func TestScanUsage(t *testing.T) {
	for _, args := range [][]string{{"scan", t.TempDir()}, {"scan"}, {"scan", "--out", t.TempDir(), "--pdq-mode", "x", "."}} {
		if code, _, _ := runIvid(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// A malformed known set is a clear error naming the file and line.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("md5,label\nnot-hex,x\n"), 0o644)
	code, _, errs := runIvid(t, "scan", "--strict", "--known", bad, "--out", filepath.Join(t.TempDir(), "r"), t.TempDir())
	if code != exitFailed || !strings.Contains(errs, "bad.csv:2: field md5") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestHashsetCommands(t *testing.T) {
	dir := t.TempDir()
	src := "../../internal/hashset/testdata/vics-1.3-cases.json"
	set := filepath.Join(dir, "set.jsonl")
	if code, _, errs := runIvid(t, "hashset", "import", src, "--name", "cases", "--version", "7", "--out", set); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	code, out, _ := runIvid(t, "hashset", "info", set)
	if code != 0 || !strings.Contains(out, "name cases  version 7  kind known") || !strings.Contains(out, "entries 2") {
		t.Errorf("info:\n%s", out)
	}
	icse := filepath.Join(dir, "out.csv")
	if code, _, errs := runIvid(t, "hashset", "convert", set, icse, "--to", "icse"); code != 0 {
		t.Fatalf("convert: %s", errs)
	}
	b, _ := os.ReadFile(icse)
	if !strings.HasPrefix(string(b), "MD5;SHA1;PhotoDNA;Image ID") || !strings.Contains(string(b), "AAEC//8=") {
		t.Errorf("ICSE output:\n%s", b)
	}
	code, out, _ = runIvid(t, "hashset", "export", set, "--format", "vics")
	if code != 0 || !strings.Contains(out, `"@odata.context"`) || !strings.Contains(out, `"Comments":"kept"`) {
		t.Errorf("export:\n%s", out)
	}
}
