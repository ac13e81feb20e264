package triage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ivid-project/ivid/internal/hashset"
)

// Summary is summary.json: counts per class and category, duplicates and
// errors. It holds no timings, so an interrupted-then-resumed scan gives the
// same file as an uninterrupted one.
type Summary struct {
	Files            int            `json:"files"`
	Bytes            int64          `json:"bytes"`
	Classes          map[Class]int  `json:"classes"`
	Categories       map[string]int `json:"categories"` // of known and near-known items
	BinaryDuplicates int            `json:"binary_duplicates"`
	VisualDuplicates int            `json:"visual_duplicates"`
	NewForReview     int            `json:"new_for_review"` // new images and videos, not duplicates
	Sets             []SetStats     `json:"sets"`
	Errors           []ItemError    `json:"errors,omitempty"`
}

// ItemError lists a file that could not be hashed or classified.
type ItemError struct {
	Path  string `json:"path"`
	Class Class  `json:"class"`
	Error string `json:"error"`
}

// CategoryName names a VICS category for reports.
func CategoryName(c hashset.Category) string {
	switch c {
	case hashset.Uncategorised:
		return "uncategorised"
	case hashset.NonPertinent:
		return "0 non-pertinent"
	case hashset.CSAM:
		return "1 child sexual abuse material"
	case hashset.Exploitative:
		return "2 child-exploitative / age-difficult"
	case hashset.CGI:
		return "3 CGI or animation"
	case hashset.Comparison:
		return "4 comparison"
	}
	return strconv.Itoa(int(c))
}

func writeReports(dir string, sets *Sets) (*Summary, error) {
	f, err := os.Open(filepath.Join(dir, itemsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sum := &Summary{Classes: map[Class]int{}, Categories: map[string]int{}, Sets: sets.Stats}
	for _, c := range Classes {
		sum.Classes[c] = 0
	}
	vf, err := os.Create(filepath.Join(dir, vicsFile))
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	vw := hashset.NewVICSWriter(vf)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var it Item
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return nil, fmt.Errorf("%s: %w", itemsFile, err)
		}
		sum.Files++
		sum.Bytes += it.Size
		sum.Classes[it.Class]++
		if it.Class == Known || it.Class == NearKnown {
			sum.Categories[CategoryName(it.Category)]++
		}
		if it.DuplicateOf != nil {
			sum.BinaryDuplicates++
		}
		if it.SimilarTo != nil {
			sum.VisualDuplicates++
		}
		if (it.Class == NewImage || it.Class == NewVideo) && it.DuplicateOf == nil && it.SimilarTo == nil {
			sum.NewForReview++
		}
		if it.Class == Error || it.Class == Skipped {
			sum.Errors = append(sum.Errors, ItemError{Path: it.Path, Class: it.Class, Error: it.Error})
		}
		if err := writeVICS(vw, &it); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := vw.Close(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, summaryFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	hf, err := os.Create(filepath.Join(dir, htmlFile))
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	if err := summaryHTML.Execute(hf, htmlData{Summary: sum, Classes: Classes}); err != nil {
		return nil, err
	}
	return sum, hf.Close()
}

// writeVICS exports images and videos (not known-good or other files) with
// categories pre-filled from matches, for Griffeye- and IPED-style tools.
func writeVICS(vw *hashset.VICSWriter, it *Item) error {
	switch it.Class {
	case Known, NearKnown, NewImage, NewVideo:
	default:
		return nil
	}
	mediaFiles, _ := json.Marshal([]map[string]any{{"FileName": filepath.Base(it.Path), "FilePath": it.Path}})
	pre, _ := json.Marshal(it.Class == Known || it.Class == NearKnown)
	e := hashset.Entry{MD5: it.MD5, SHA1: it.SHA1, SHA256: it.SHA256, PDQ: it.PDQ, Quality: it.Quality,
		Category: it.Category, MediaID: strconv.Itoa(it.N + 1),
		Extra: map[string]json.RawMessage{"MediaFiles": mediaFiles, "IsPrecategorized": pre}}
	if len(it.Matches) > 0 {
		m := it.Matches[0]
		e.Series, e.VictimIdentified, e.OffenderIdentified, e.Baseline = m.Series, m.VictimIdentified, m.OffenderIdentified, m.Baseline
	}
	return vw.Write(e)
}

type htmlData struct {
	*Summary
	Classes []Class
}

var summaryHTML = template.Must(template.New("summary").Funcs(template.FuncMap{
	"count": func(m map[Class]int, c Class) int { return m[c] },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ivid scan report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1a1a1a;max-width:60rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #bbb;padding:.3rem .7rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}caption{font-weight:600;text-align:left}
</style></head><body>
<h1>ivid scan report</h1>
<p>{{.Files}} files, {{.Bytes}} bytes. {{.NewForReview}} new items need review. No image is embedded in this report.</p>
<table><caption>Files per class</caption><tr><th>class</th><th>files</th></tr>
{{range .Classes}}<tr><td>{{.}}</td><td class="n">{{count $.Summary.Classes .}}</td></tr>
{{end}}</table>
<table><caption>Known and near-known items per category</caption><tr><th>category</th><th>items</th></tr>
{{range $k, $v := .Categories}}<tr><td>{{$k}}</td><td class="n">{{$v}}</td></tr>
{{else}}<tr><td colspan="2">none</td></tr>{{end}}</table>
<table><caption>Duplicates</caption>
<tr><td>binary duplicates (same SHA-256)</td><td class="n">{{.BinaryDuplicates}}</td></tr>
<tr><td>visual duplicates (PDQ within threshold)</td><td class="n">{{.VisualDuplicates}}</td></tr></table>
<table><caption>Hash sets</caption><tr><th>set</th><th>kind</th><th>entries</th><th>skipped rows</th></tr>
{{range .Sets}}<tr><td>{{.Name}}</td><td>{{.Kind}}</td><td class="n">{{.Entries}}</td><td class="n">{{.Skipped}}</td></tr>
{{else}}<tr><td colspan="4">none</td></tr>{{end}}</table>
<table><caption>Errors and skipped files</caption><tr><th>path</th><th>class</th><th>reason</th></tr>
{{range .Errors}}<tr><td>{{.Path}}</td><td>{{.Class}}</td><td>{{.Error}}</td></tr>
{{else}}<tr><td colspan="3">none</td></tr>{{end}}</table>
</body></html>
`))
