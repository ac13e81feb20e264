package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hashset"
)

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encode(t *testing.T, scene int, v demo.Variant) []byte {
	b, _, err := demo.Encode(demo.Apply(demo.Scene(scene, 480, 320), v), v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture builds an evidence tree and the known and known-good sets.
func fixture(t *testing.T) (evidence, knownSet, goodSet string) {
	base := t.TempDir()
	evidence = filepath.Join(base, "evidence")
	known := encode(t, 1, demo.Original)
	write(t, filepath.Join(evidence, "dcim", "known.png"), known)
	write(t, filepath.Join(evidence, "dcim", "resized.jpg"), encode(t, 1, demo.Resized))
	write(t, filepath.Join(evidence, "dcim", "flipped.jpg"), encode(t, 1, demo.Mirrored))
	write(t, filepath.Join(evidence, "new", "a.png"), encode(t, 2, demo.Original))
	write(t, filepath.Join(evidence, "new", "b.png"), encode(t, 3, demo.Original))
	write(t, filepath.Join(evidence, "new", "c-recoded.jpg"), encode(t, 2, demo.Recoded))
	write(t, filepath.Join(evidence, "zcopy", "a-copy.png"), encode(t, 2, demo.Original))
	write(t, filepath.Join(evidence, "system", "driver.sys"), []byte("known-good operating-system file\n"))
	write(t, filepath.Join(evidence, "notes.txt"), []byte("shopping list\n"))
	trunc, _ := os.ReadFile("../media/testdata/truncated.jpg")
	write(t, filepath.Join(evidence, "broken.jpg"), trunc)
	if err := mkfifo(filepath.Join(evidence, "pipe")); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(evidence, "new", "a.png"), filepath.Join(evidence, "link.png")); err != nil {
		t.Fatal(err)
	}
	// A known set built by hashing the known picture, as a VICS file.
	h := filehash.New(filehash.Options{})
	kp := filepath.Join(evidence, "dcim", "known.png")
	rec, _, err := h.File(kp)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := hashset.NewVICSWriter(&buf)
	vt := true
	w.Write(hashset.Entry{MD5: rec.MD5, SHA1: rec.SHA1, PDQ: rec.PDQ, Quality: rec.Quality, Category: hashset.CSAM,
		Series: "Lake", VictimIdentified: &vt, MediaID: "17"})
	w.Close()
	knownSet = filepath.Join(base, "known.json")
	write(t, knownSet, buf.Bytes())
	gr, _, _ := h.File(filepath.Join(evidence, "system", "driver.sys"))
	goodSet = filepath.Join(base, "good.txt")
	write(t, goodSet, []byte(gr.MD5+"\n"))
	return evidence, knownSet, goodSet
}

func loadSets(t *testing.T, knownSet, goodSet string) *Sets {
	s := NewSets()
	if err := s.Load(knownSet, hashset.Known, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(goodSet, hashset.KnownGood, 0, true); err != nil {
		t.Fatal(err)
	}
	return s
}

func readItems(t *testing.T, report string) map[string]Item {
	b, err := os.ReadFile(filepath.Join(report, itemsFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Item{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var it Item
		if err := json.Unmarshal([]byte(l), &it); err != nil {
			t.Fatal(err)
		}
		out[it.Path] = it
	}
	return out
}

func TestScanClassifies(t *testing.T) {
	evidence, knownSet, goodSet := fixture(t)
	report := filepath.Join(t.TempDir(), "report")
	sum, err := Scan(context.Background(), loadSets(t, knownSet, goodSet),
		Options{Roots: []string{evidence}, Report: report, Workers: 2, Dihedral: true})
	if err != nil {
		t.Fatal(err)
	}
	items := readItems(t, report)
	want := map[string]Class{
		"dcim/known.png": Known, "dcim/resized.jpg": NearKnown, "dcim/flipped.jpg": NearKnown,
		"new/a.png": NewImage, "new/b.png": NewImage, "new/c-recoded.jpg": NewImage, "zcopy/a-copy.png": NewImage,
		"system/driver.sys": KnownGood, "notes.txt": Other, "broken.jpg": Error, "pipe": Skipped, "link.png": Skipped,
	}
	if _, err := os.Lstat(filepath.Join(evidence, "pipe")); err != nil {
		delete(want, "pipe") // no named pipes on this system
	}
	if len(items) != len(want) {
		t.Errorf("got %d items, want %d", len(items), len(want))
	}
	for rel, class := range want {
		it, ok := items[filepath.Join(evidence, rel)]
		if !ok {
			t.Errorf("%s: missing", rel)
			continue
		}
		if it.Class != class {
			t.Errorf("%s: class %s, want %s (%s)", rel, it.Class, class, it.Error)
		}
	}
	k := items[filepath.Join(evidence, "dcim/known.png")]
	if k.Category != hashset.CSAM || len(k.Matches) == 0 || k.Matches[0].Series != "Lake" || !*k.Matches[0].VictimIdentified {
		t.Errorf("known item: %+v", k)
	}
	if f := items[filepath.Join(evidence, "dcim/flipped.jpg")]; len(f.Matches) == 0 || f.Matches[0].Dihedral == "" {
		t.Errorf("flipped copy should match through a dihedral hash: %+v", f.Matches)
	}
	a := items[filepath.Join(evidence, "new/a.png")]
	if c := items[filepath.Join(evidence, "zcopy/a-copy.png")]; c.DuplicateOf == nil || *c.DuplicateOf != a.N {
		t.Errorf("binary duplicate not stacked on a.png: %+v", c.DuplicateOf)
	}
	if c := items[filepath.Join(evidence, "new/c-recoded.jpg")]; c.SimilarTo == nil || *c.SimilarTo != a.N {
		t.Errorf("visual duplicate not stacked on a.png: %+v", c.SimilarTo)
	}
	if sum.Classes[Known] != 1 || sum.Classes[NearKnown] != 2 || sum.Classes[KnownGood] != 1 || sum.Classes[NewImage] != 4 ||
		sum.Classes[Skipped] != 2 || sum.Classes[Error] != 1 || sum.BinaryDuplicates != 1 || sum.VisualDuplicates < 1 ||
		sum.Categories["1 child sexual abuse material"] != 3 || sum.NewForReview != 2 {
		t.Errorf("summary: %+v", sum)
	}
	// The VICS export reads back, categories pre-filled.
	_, r, c, err := hashset.Open(filepath.Join(report, vicsFile), hashset.FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, cat1 := 0, 0
	hashset.ReadAll(r, true, func(e hashset.Entry) error {
		n++
		if e.Category == hashset.CSAM {
			cat1++
		}
		return nil
	})
	if n != 7 || cat1 != 3 {
		t.Errorf("VICS export: %d media, %d in category 1; want 7 and 3", n, cat1)
	}
	html, _ := os.ReadFile(filepath.Join(report, htmlFile))
	if !bytes.Contains(html, []byte("near-known")) || bytes.Contains(html, []byte("<img")) {
		t.Error("summary.html missing counts or embeds images")
	}
	// Nothing was written into the evidence.
	filepath.WalkDir(evidence, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "report") {
			t.Errorf("written into the evidence: %s", p)
		}
		return nil
	})
}

// TestScanResume interrupts a scan after a few files, runs it again, and
// expects exactly the report of an uninterrupted run.
func TestScanResume(t *testing.T) {
	evidence, knownSet, goodSet := fixture(t)
	sets := loadSets(t, knownSet, goodSet)
	full := filepath.Join(t.TempDir(), "full")
	if _, err := Scan(context.Background(), sets, Options{Roots: []string{evidence}, Report: full, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	resumed := filepath.Join(t.TempDir(), "resumed")
	for _, stopAfter := range []int64{3, 5} {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Scan(ctx, sets, Options{Roots: []string{evidence}, Report: resumed, Workers: 2,
			Progress: func(p Progress) {
				if p.Files == stopAfter {
					cancel()
				}
			}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted scan: %v", err)
		}
	}
	// Simulate a torn last line, as a kill -9 mid-write would leave.
	jf, _ := os.OpenFile(filepath.Join(resumed, itemsFile), os.O_APPEND|os.O_WRONLY, 0)
	jf.WriteString(`{"n":99,"path":"/torn`)
	jf.Close()
	var resumedFrom int
	if _, err := Scan(context.Background(), sets, Options{Roots: []string{evidence}, Report: resumed, Workers: 2,
		Progress: func(p Progress) { resumedFrom = p.Resumed }}); err != nil {
		t.Fatal(err)
	}
	if resumedFrom < 5 {
		t.Errorf("resumed from %d items, want at least 5", resumedFrom)
	}
	for _, f := range []string{itemsFile, summaryFile, vicsFile, htmlFile} {
		a, _ := os.ReadFile(filepath.Join(full, f))
		b, _ := os.ReadFile(filepath.Join(resumed, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the resumed scan", f)
		}
	}
}

func TestScanRefusesReportInsideEvidence(t *testing.T) {
	evidence, _, _ := fixture(t)
	_, err := Scan(context.Background(), NewSets(), Options{Roots: []string{evidence}, Report: filepath.Join(evidence, "out")})
	if err == nil {
		t.Fatal("a report inside the evidence was accepted")
	}
	if _, err := os.Stat(filepath.Join(evidence, "out")); err == nil {
		t.Error("the report folder was created inside the evidence")
	}
}

func TestScanOtherConfig(t *testing.T) {
	evidence, _, _ := fixture(t)
	report := filepath.Join(t.TempDir(), "r")
	if _, err := Scan(context.Background(), NewSets(), Options{Roots: []string{evidence}, Report: report}); err != nil {
		t.Fatal(err)
	}
	_, err := Scan(context.Background(), NewSets(), Options{Roots: []string{evidence}, Report: report, Dihedral: true})
	if !errors.Is(err, ErrOtherScan) {
		t.Errorf("got %v, want ErrOtherScan", err)
	}
}

// TestScanUnreadable: a file that opens but cannot be read is an error, and
// the scan goes on. /proc/self/mem fails to read at offset 0 even for root.
func TestScanUnreadable(t *testing.T) {
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip("no /proc/self/mem on this system")
	}
	dir := filepath.Join(t.TempDir(), "ev")
	write(t, filepath.Join(dir, "ok.txt"), []byte("x"))
	os.Symlink("/proc/self/mem", filepath.Join(dir, "unreadable"))
	report := filepath.Join(t.TempDir(), "r")
	if _, err := Scan(context.Background(), NewSets(), Options{Roots: []string{dir}, Report: report, FollowSymlinks: true}); err != nil {
		t.Fatal(err)
	}
	items := readItems(t, report)
	if it := items[filepath.Join(dir, "unreadable")]; it.Class != Error || it.Error == "" {
		t.Errorf("unreadable: %+v", it)
	}
	if it := items[filepath.Join(dir, "ok.txt")]; it.Class != Other {
		t.Errorf("ok.txt: %+v", it)
	}
}
