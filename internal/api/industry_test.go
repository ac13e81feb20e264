package api

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/client"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestBaselineAndIndustry: Baseline needs two agencies; industry then
// matches hashes against it, and only it, and learns nothing else.
func TestBaselineAndIndustry(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{IndustryRate: 5})
		c := f.newCase("fr-specialist", "FR-B", ivid.SharingAgency)
		_, res := f.upload("fr-specialist", c.ID, map[string][]byte{"a.png": scene(t, 7, demo.Original), "b.png": scene(t, 8, demo.Original)})
		a, b := res[0].Comparison.Media, res[1].Comparison.Media
		var out map[string]string
		if st := f.json("fr-specialist", "POST", "/api/v1/media/"+itoa(int64(a.ID))+"/baseline", nil, nil); st != 400 {
			t.Fatalf("uncategorised item proposed: %d", st)
		}
		f.json("fr-specialist", "POST", "/api/v1/media/categorise", map[string]any{"ids": []int64{int64(a.ID), int64(b.ID)}, "category": 1}, nil)
		f.json("fr-specialist", "POST", "/api/v1/media/"+itoa(int64(a.ID))+"/baseline", nil, &out)
		if out["baseline"] != "proposed" {
			t.Fatalf("proposal: %v", out)
		}
		// The same agency again does not confirm.
		f.json("fr-specialist", "POST", "/api/v1/media/"+itoa(int64(a.ID))+"/baseline", nil, &out)
		if out["baseline"] != "proposed" {
			t.Fatalf("second vote of one agency: %v", out)
		}
		f.json("de-specialist", "POST", "/api/v1/media/"+itoa(int64(a.ID))+"/baseline", nil, &out)
		if out["baseline"] != "confirmed" {
			t.Fatalf("second agency: %v", out)
		}
		f.json("fr-specialist", "POST", "/api/v1/media/"+itoa(int64(b.ID))+"/baseline", nil, &out) // b stays proposed

		// A near copy of a (resized) matches by PDQ; b's MD5 does not.
		h := scene(t, 7, demo.Brighter)
		hr := hashBytes(t, h)
		var mres struct {
			Results []ivid.MatchResult `json:"results"`
		}
		st := f.json("industry", "POST", "/api/v1/match", map[string]any{"hashes": []ivid.MatchQuery{
			{Type: "pdq", Value: hr}, {Type: "md5", Value: a.MD5}, {Type: "md5", Value: b.MD5}, {Type: "sha256", Value: strings.Repeat("0", 64)},
		}}, &mres)
		if st != 200 || len(mres.Results) != 4 || !mres.Results[0].Match || !mres.Results[1].Match || mres.Results[2].Match || mres.Results[3].Match {
			t.Fatalf("match: %d %+v", st, mres)
		}
		raw := f.do("industry", "POST", "/api/v1/match", strings.NewReader(`{"hashes":[{"type":"md5","value":"`+a.MD5+`"}]}`), "application/json")
		body, _ := io.ReadAll(raw.Body)
		for _, leak := range []string{"FR-B", "case", "agency", "series", "fr-specialist"} {
			if strings.Contains(strings.ToLower(string(body)), strings.ToLower(leak)) {
				t.Errorf("match answer mentions %q: %s", leak, body)
			}
		}
		if st := f.json("industry", "POST", "/api/v1/match", map[string]any{"hashes": []ivid.MatchQuery{{Type: "pdq", Value: "xyz"}}}, nil); st != 400 {
			t.Fatalf("malformed hash: %d", st)
		}
		// The list holds a only.
		resp := f.do("industry", "GET", "/api/v1/baseline?format=csv", nil, "")
		list, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(list), a.MD5) || strings.Contains(string(list), b.MD5) {
			t.Fatalf("baseline csv: %d %s", resp.StatusCode, list)
		}
		resp = f.do("industry", "GET", "/api/v1/baseline?format=vics", nil, "")
		var vics map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&vics); err != nil || resp.StatusCode != 200 {
			t.Fatalf("baseline vics: %d %v", resp.StatusCode, err)
		}
		// Industry reaches nothing else.
		if st := f.json("industry", "GET", "/api/v1/media/"+itoa(int64(a.ID)), nil, nil); st != 403 {
			t.Fatalf("industry reads media facts: %d", st)
		}
		// Rate limit: 5/s with a burst of 10.
		limited := false
		for range 30 {
			if f.json("industry", "POST", "/api/v1/match", map[string]any{"hashes": []ivid.MatchQuery{{Type: "md5", Value: a.MD5}}}, nil) == 429 {
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("no 429 after 30 quick requests at 5/s")
		}
	})
}

// TestBaselineWithdrawn: an item re-categorised out of category 1 leaves
// the Baseline list at once (industry no longer matches it by any hash,
// the list no longer holds it), and needs two agencies again to return.
func TestBaselineWithdrawn(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-W", ivid.SharingAgency)
		_, res := f.upload("fr-specialist", c.ID, map[string][]byte{"a.png": scene(t, 12, demo.Original)})
		a := res[0].Comparison.Media
		categorise := func(cat int) {
			t.Helper()
			if st := f.json("fr-specialist", "POST", "/api/v1/media/categorise", map[string]any{"ids": []int64{int64(a.ID)}, "category": cat}, nil); st != 204 {
				t.Fatalf("categorise %d: %d", cat, st)
			}
		}
		vote := func(user string) string {
			t.Helper()
			var out map[string]string
			f.json(user, "POST", "/api/v1/media/"+itoa(int64(a.ID))+"/baseline", nil, &out)
			return out["baseline"]
		}
		near := hashBytes(t, scene(t, 12, demo.Brighter))
		matches := func() []bool {
			t.Helper()
			var mres struct {
				Results []ivid.MatchResult `json:"results"`
			}
			st := f.json("industry", "POST", "/api/v1/match", map[string]any{"hashes": []ivid.MatchQuery{
				{Type: "md5", Value: a.MD5}, {Type: "sha256", Value: a.SHA256}, {Type: "pdq", Value: near},
			}}, &mres)
			if st != 200 || len(mres.Results) != 3 {
				t.Fatalf("match: %d %+v", st, mres)
			}
			return []bool{mres.Results[0].Match, mres.Results[1].Match, mres.Results[2].Match}
		}
		categorise(1)
		if vote("fr-specialist") != "proposed" || vote("de-specialist") != "confirmed" {
			t.Fatal("Baseline not confirmed by two agencies")
		}
		if got := matches(); !got[0] || !got[1] || !got[2] {
			t.Fatalf("confirmed item: matches %v", got)
		}
		categorise(2) // found to be child-exploitative, not abuse material
		if got := matches(); got[0] || got[1] || got[2] {
			t.Fatalf("withdrawn item still matches: %v", got)
		}
		resp := f.do("industry", "GET", "/api/v1/baseline?format=csv", nil, "")
		list, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || strings.Contains(string(list), a.MD5) {
			t.Fatalf("baseline list after withdrawal: %d %s", resp.StatusCode, list)
		}
		if m, err := db.Media(context.Background(), a.ID); err != nil || m.Baseline != ivid.BaselineNone {
			t.Fatalf("stored Baseline state %q, %v", m.Baseline, err)
		}
		categorise(1)
		if got := vote("fr-specialist"); got != "proposed" {
			t.Fatalf("one agency's vote after the withdrawal gives %q, want proposed", got)
		}
		if _, err := ivid.VerifyTrail(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHashListDuplicates: entries of one hash list naming the same content
// (by MD5, or MD5 and SHA-1), in one group commit or across two, are one
// item with a submission each.
func TestHashListDuplicates(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-DUP", ivid.SharingAgency)
		if cs := f.contributeList("fr-specialist", c.ID); len(cs) != 0 {
			t.Fatalf("an empty list: %d comparisons", len(cs))
		}
		md5A, sha1A := strings.Repeat("a1", 16), strings.Repeat("b2", 20)
		lines := []string{icseLine(md5A, sha1A, "IMG-1"), icseLine(md5A, "", "IMG-2"), icseLine(md5A, sha1A, "IMG-3")}
		n := ivid.HashGroup + 44 // past one group
		for i := range n {
			lines = append(lines, icseLine(fmt.Sprintf("%032x", i+1), "", fmt.Sprintf("IMG-%d", i+4)))
		}
		lines = append(lines, icseLine(md5A, "", "IMG-LAST")) // in the second group
		last := len(lines) - 1
		cs := f.contributeList("fr-specialist", c.ID, lines...)
		if len(cs) != len(lines) {
			t.Fatalf("hash list: %d comparisons, want %d", len(cs), len(lines))
		}
		a := cs[0].Media.ID
		for i, k := range []int{0, 1, 2, last} {
			if cs[k].Media.ID != a || cs[k].New != (i == 0) {
				t.Errorf("entry %d: item %d new %v, want item %d new %v", k+1, cs[k].Media.ID, cs[k].New, a, i == 0)
			}
		}
		if subs, err := db.Submissions(context.Background(), a); err != nil || len(subs) != 4 {
			t.Errorf("item A: %d submissions (%v), want 4", len(subs), err)
		}
		ids := map[ivid.MediaID]bool{}
		for _, c := range cs[3:last] {
			if !c.New || c.Media.ID == a {
				t.Fatalf("distinct entry: %+v", c.Media)
			}
			ids[c.Media.ID] = true
		}
		if len(ids) != n {
			t.Errorf("%d distinct items for %d distinct MD5s", len(ids), n)
		}
		// Each answer counts the submissions known when its group is
		// committed: three in the first group, the fourth in the second.
		if cs[0].Submissions != 3 || cs[last].Submissions != 4 || cs[3].Submissions != 1 || !slices.Equal(cs[last].Agencies, []string{"FR"}) {
			t.Errorf("answers: submissions %d, %d, %d, agencies %v; want 3, 4, 1, [FR]", cs[0].Submissions, cs[last].Submissions, cs[3].Submissions, cs[last].Agencies)
		}
		// Germany's copy of part of the list: the same items, by MD5 alone
		// or by MD5 and SHA-1, known to both agencies.
		de := f.newCase("de-specialist", "DE-DUP", ivid.SharingAgency)
		again := f.contributeList("de-specialist", de.ID, icseLine(md5A, sha1A, "X-1"), lines[3], lines[4], icseLine("", sha1A, "X-4"))
		for k, want := range []ivid.MediaID{a, cs[3].Media.ID, cs[4].Media.ID, a} {
			if c := again[k]; c.New || c.Media.ID != want || !slices.Equal(c.Agencies, []string{"FR", "DE"}) {
				t.Errorf("Germany's entry %d: item %d new %v agencies %v, want item %d known to FR and DE", k+1, c.Media.ID, c.New, c.Agencies, want)
			}
		}
		if again[1].Submissions != 2 || again[3].Submissions != 6 {
			t.Errorf("Germany's answers: %d and %d submissions, want 2 and 6", again[1].Submissions, again[3].Submissions)
		}
		// An item first named by its SHA-1, then by SHA-1 and MD5, then by
		// the MD5 alone: one item, whose MD5 the second line gave.
		md5C, sha1C := strings.Repeat("c3", 16), strings.Repeat("d4", 20)
		chain := f.contributeList("de-specialist", de.ID, icseLine("", sha1C, "C-1"), icseLine(md5C, sha1C, "C-2"), icseLine(md5C, "", "C-3"))
		for k, c := range chain {
			if c.Media.ID != chain[0].Media.ID || c.New != (k == 0) || c.Media.MD5 != md5C || c.Media.SHA1 != sha1C {
				t.Errorf("chained entry %d: item %d new %v, MD5 %q SHA-1 %q; want item %d with both", k+1, c.Media.ID, c.New, c.Media.MD5, c.Media.SHA1, chain[0].Media.ID)
			}
		}
		if _, err := ivid.VerifyTrail(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHashesOnlyThenContent: an item known by a hash list's MD5 and SHA-1
// alone, confirmed Baseline, then contributed with its pixels. Its PDQ and
// SHA-256 join the running server's indexes at once: a near copy links to
// it, and industry matches it by PDQ and SHA-256, with no restart.
func TestHashesOnlyThenContent(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-LIST", ivid.SharingAgency)
		img := scene(t, 11, demo.Original)
		md5sum, sha1sum, sha256sum := md5.Sum(img), sha1.Sum(img), sha256.Sum256(img)
		listed := f.contributeList("fr-specialist", c.ID, icseLine(hex.EncodeToString(md5sum[:]), hex.EncodeToString(sha1sum[:]), "IMG-1"))
		if len(listed) != 1 {
			t.Fatalf("hash list: %+v", listed)
		}
		id := listed[0].Media.ID
		f.confirmBaseline(id)

		_, res := f.upload("fr-specialist", c.ID, map[string][]byte{"seized.png": img})
		if got := res[0].Comparison; got == nil || got.New || got.Media.ID != id || got.Media.PDQ == nil || !got.Media.Stored {
			t.Fatalf("content of the listed item: %+v", *res[0].Comparison)
		}
		de := f.newCase("de-specialist", "DE-LIST", ivid.SharingAgency)
		_, res = f.upload("de-specialist", de.ID, map[string][]byte{"copy.jpg": scene(t, 11, demo.Resized)})
		if got := res[0].Comparison; got == nil || len(got.Links) == 0 || got.Links[0].Kind != ivid.LinkNear || got.Links[0].MediaID != id {
			t.Fatalf("near copy: %+v", res[0])
		}
		var mres struct {
			Results []ivid.MatchResult `json:"results"`
		}
		st := f.json("industry", "POST", "/api/v1/match", map[string]any{"hashes": []ivid.MatchQuery{
			{Type: "pdq", Value: hashBytes(t, scene(t, 11, demo.Brighter))}, {Type: "sha256", Value: hex.EncodeToString(sha256sum[:])},
		}}, &mres)
		if st != 200 || len(mres.Results) != 2 || !mres.Results[0].Match || !mres.Results[1].Match {
			t.Fatalf("industry match: %d %+v", st, mres)
		}
	})
}

// confirmBaseline categorises an item 1 (France) and confirms it Baseline
// (France and Germany).
func (f *fixture) confirmBaseline(id ivid.MediaID) {
	f.t.Helper()
	f.json("fr-specialist", "POST", "/api/v1/media/categorise", map[string]any{"ids": []int64{int64(id)}, "category": 1}, nil)
	var vote map[string]string
	f.json("fr-specialist", "POST", "/api/v1/media/"+itoa(int64(id))+"/baseline", nil, &vote)
	f.json("de-specialist", "POST", "/api/v1/media/"+itoa(int64(id))+"/baseline", nil, &vote)
	if vote["baseline"] != "confirmed" {
		f.t.Fatalf("baseline: %v", vote)
	}
}

// icseLine is a line of an ICSE CSV hash list naming an image.
func icseLine(md5, sha1, label string) string {
	return md5 + ";" + sha1 + ";;" + label + ";y;n;n;;1;n;Image;n"
}

// contributeList contributes an ICSE CSV hash list of lines to a case and
// returns the comparisons.
func (f *fixture) contributeList(user string, caseID ivid.CaseID, lines ...string) []ivid.Comparison {
	f.t.Helper()
	list := strings.Join(hashset.ICSEHeader, ";") + "\n" +
		strings.Join(lines, "\n") + "\n"
	var got struct {
		Comparisons []ivid.Comparison `json:"comparisons"`
		Items       int               `json:"items"`
		Error       *problem          `json:"error"`
	}
	resp := f.do(user, "POST", "/api/v1/cases/"+itoa(int64(caseID))+"/hashes", strings.NewReader(list), "text/csv")
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || got.Error != nil || got.Items != len(got.Comparisons) {
		f.t.Fatalf("hash list: %d %v: %d items, %d comparisons, error %+v", resp.StatusCode, err, got.Items, len(got.Comparisons), got.Error)
	}
	return got.Comparisons
}

func hashBytes(t *testing.T, b []byte) string {
	t.Helper()
	p := t.TempDir() + "/x.jpg"
	os.WriteFile(p, b, 0o600)
	h, _, err := hashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestBadInput: each bad input gets a clear error and leaves nothing
// behind.
func TestBadInput(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{MaxUpload: 200_000})
		c := f.newCase("fr-investigator", "FR-BAD", ivid.SharingAgency)
		media := func() int64 {
			n, _ := db.CountMedia(context.Background())
			var s int64
			for _, v := range n {
				s += v
			}
			return s
		}
		read := func(name string) []byte {
			b, err := os.ReadFile("../media/testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		big := bytes.Repeat([]byte{0xff, 0xd8, 0xff}, 100_000)
		_, res := f.upload("fr-investigator", c.ID, map[string][]byte{
			"a-truncated.jpg": read("truncated.jpg"),
			"b-bomb.png":      read("bomb-60000x60000.png"),
			"c-notes.txt":     []byte("not an image"),
			"d-garbage.png":   read("garbage.png"),
			"e-huge.jpg":      big,
		})
		if len(res) != 5 {
			t.Fatalf("results %+v", res)
		}
		want := []int{400, 400, 400, 400, 413}
		for i, r := range res {
			if r.Status != want[i] || r.Error == "" || r.Comparison != nil {
				t.Errorf("%s: %+v, want status %d", r.File, r, want[i])
			}
		}
		if n := media(); n != 0 || f.countBlobs() != 0 {
			t.Fatalf("bad uploads left %d items, %d blobs", n, f.countBlobs())
		}
		// A multipart body cut off in the middle of a file.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		w, _ := mw.CreateFormFile("file", "cut.png")
		w.Write(scene(t, 9, demo.Original))
		mw.Close()
		cut := buf.Bytes()[:buf.Len()/2]
		resp := f.do("fr-investigator", "POST", "/api/v1/cases/"+itoa(int64(c.ID))+"/media", bytes.NewReader(cut), mw.FormDataContentType())
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 && resp.StatusCode != 400 || !strings.Contains(string(body), "cut short") && !strings.Contains(string(body), "multipart") {
			t.Fatalf("truncated multipart: %d %s", resp.StatusCode, body)
		}
		if n := media(); n != 0 {
			t.Fatalf("truncated upload stored %d items", n)
		}
		if ents, _ := os.ReadDir(f.srv.opts.SpoolDir); len(ents) != 0 {
			t.Fatalf("spool not cleaned: %d files", len(ents))
		}
		// Bodies that are not multipart form data.
		for _, ct := range []string{"image/jpeg", "multipart/form-data", "multipart/mixed; boundary=x", "multipart/form-data; boundary"} {
			resp := f.do("fr-investigator", "POST", "/api/v1/cases/"+itoa(int64(c.ID))+"/media", bytes.NewReader(buf.Bytes()), ct)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || !strings.Contains(string(body), "multipart/form-data") {
				t.Errorf("content type %q: %d %s", ct, resp.StatusCode, body)
			}
		}
		if n := media(); n != 0 {
			t.Fatalf("bodies that are not multipart stored %d items", n)
		}
		// A malformed VICS file is refused whole.
		vics := `{"odata.metadata":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/1.2.xml/CUSTOM/$metadata#Cases","value":[{"Media":[{"MD5":"d41d8cd98f00b204e9800998ecf8427e","Category":1},{"MD5":"nothex","Category":9}]}]}`
		if st := f.json("fr-investigator", "POST", "/api/v1/cases/"+itoa(int64(c.ID))+"/hashes", json.RawMessage(vics), nil); st != 400 {
			t.Fatalf("malformed VICS: %d", st)
		}
		if n := media(); n != 0 {
			t.Fatalf("malformed VICS stored %d items", n)
		}
		// Wrong and expired credentials.
		f.token["nobody"] = "ivt_not-a-token"
		if st := f.json("nobody", "GET", "/api/v1/me", nil, nil); st != 401 {
			t.Fatalf("unknown token: %d", st)
		}
		tok, hash := auth.NewToken("ivt_")
		past := time.Now().Add(-time.Hour)
		db.CreateToken(context.Background(), &ivid.Token{UserID: f.user["fr-investigator"].ID, Hash: hash, Name: "old", Created: past.Add(-time.Hour), Expires: &past})
		f.token["expired"] = tok
		if st := f.json("expired", "GET", "/api/v1/me", nil, nil); st != 401 {
			t.Fatalf("expired token: %d", st)
		}
		// A well-formed hashes-only contribution works.
		ok := `MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;Number of submissions;File Available;Media Type;Baseline
d41d8cd98f00b204e9800998ecf8427e;da39a3ee5e6b4b0d3255bfef95601890afd80709;;IMG-1;y;n;n;;1;n;Image;n
`
		resp = f.do("fr-investigator", "POST", "/api/v1/cases/"+itoa(int64(c.ID))+"/hashes", strings.NewReader(ok), "text/csv")
		body, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"items":1`) || media() != 1 {
			t.Fatalf("ICSE upload: %d %s", resp.StatusCode, body)
		}
	})
}

// TestOpenAPI: every route is in the document, and every documented
// operation is served (no 404/405 from the router).
func TestOpenAPI(t *testing.T) {
	f := newFixture(t, storagetest.SQLite(t), Options{})
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if st := f.json("", "GET", "/api/openapi.json", nil, &doc); st != 200 {
		t.Fatal(st)
	}
	n := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			n++
			p := strings.NewReplacer("{id}", "1").Replace(path)
			resp := f.do("hub-admin", strings.ToUpper(method), p, nil, "")
			if (resp.StatusCode == 404 || resp.StatusCode == 405) && !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
				t.Errorf("documented %s %s is not served: %d", method, path, resp.StatusCode)
			}
		}
	}
	if n != len(f.srv.Routes()) {
		t.Errorf("document has %d operations, the router %d routes", n, len(f.srv.Routes()))
	}
}

// TestHashListAnalyzed: a large hash list leaves PostgreSQL's planner
// statistics up to date (autovacuum may be off, or a minute behind), so
// that the next list's lookups of many digests read the indexes. SQLite
// needs none.
func TestHashListAnalyzed(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-BIG", ivid.SharingAgency)
		lines := make([]string, analyzeEntries)
		for i := range lines {
			lines[i] = icseLine(fmt.Sprintf("%032x", i+1), "", fmt.Sprintf("IMG-%d", i))
		}
		if cs := f.contributeList("fr-specialist", c.ID, lines...); len(cs) != len(lines) {
			t.Fatalf("%d comparisons for %d entries", len(cs), len(lines))
		}
		if db.Dialect() != storage.Postgres {
			return
		}
		var tuples float64
		if err := db.SQL().QueryRow(`SELECT reltuples FROM pg_class WHERE relname = 'media'`).Scan(&tuples); err != nil {
			t.Fatal(err)
		}
		if tuples < analyzeEntries {
			t.Fatalf("statistics of media: %.0f rows, want %d: the list was not followed by ANALYZE", tuples, analyzeEntries)
		}
	})
}

// analyzeEntries is a hash list past the size (1,024) from which the
// server refreshes the statistics.
const analyzeEntries = 1100

// TestHashListCompletes: an item known from ICSE's list by MD5 alone and
// confirmed Baseline gets the SHA-1 and PDQ that a later list (a plain CSV
// with PDQ, as NCMEC's) gives, in the database and at once in the indexes:
// industry then matches a near copy by PDQ. A third list's other PDQ
// replaces nothing.
func TestHashListCompletes(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-ICSE", ivid.SharingAgency)
		img := scene(t, 11, demo.Original)
		md5sum, sha1sum := md5.Sum(img), sha1.Sum(img)
		md5hex, sha1hex, pdqhex := hex.EncodeToString(md5sum[:]), hex.EncodeToString(sha1sum[:]), hashBytes(t, img)
		id := f.contributeList("fr-specialist", c.ID, icseLine(md5hex, "", "IMG-1"))[0].Media.ID
		f.confirmBaseline(id)
		match := func() []bool {
			var res struct {
				Results []ivid.MatchResult `json:"results"`
			}
			f.json("industry", "POST", "/api/v1/match", map[string]any{"hashes": []ivid.MatchQuery{
				{Type: "pdq", Value: hashBytes(t, scene(t, 11, demo.Brighter))}, {Type: "sha1", Value: sha1hex}, {Type: "md5", Value: md5hex},
			}}, &res)
			var got []bool
			for _, r := range res.Results {
				got = append(got, r.Match)
			}
			return got
		}
		if got := match(); !slices.Equal(got, []bool{false, false, true}) {
			t.Fatalf("before the second list, industry matches %v, want by MD5 alone", got)
		}

		plain := func(user string, caseID ivid.CaseID, lines ...string) []ivid.Comparison {
			var got struct {
				Comparisons []ivid.Comparison `json:"comparisons"`
			}
			resp := f.do(user, "POST", "/api/v1/cases/"+itoa(int64(caseID))+"/hashes", strings.NewReader("md5,sha1,pdq,label\n"+strings.Join(lines, "\n")+"\n"), "text/csv")
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got.Comparisons) != len(lines) {
				t.Fatalf("plain list: %d %v", resp.StatusCode, err)
			}
			return got.Comparisons
		}
		de := f.newCase("de-specialist", "DE-NCMEC", ivid.SharingAgency)
		got := plain("de-specialist", de.ID, md5hex+","+sha1hex+","+pdqhex+",N-1")[0]
		if got.New || got.Media.ID != id || got.Media.PDQ == nil || got.Media.PDQ.String() != pdqhex || got.Media.SHA1 != sha1hex {
			t.Fatalf("second list's answer: new %v item %d (want %d), PDQ %v, SHA-1 %q", got.New, got.Media.ID, id, got.Media.PDQ, got.Media.SHA1)
		}
		if got := match(); !slices.Equal(got, []bool{true, true, true}) {
			t.Fatalf("after the second list, industry matches %v, want by PDQ, SHA-1 and MD5", got)
		}
		// A third list: another PDQ for the known item, and a new item
		// named twice, its PDQ on the second line.
		other, md5B := strings.Repeat("0f", 32), strings.Repeat("b0", 16)
		third := plain("de-specialist", de.ID, md5hex+",,"+other+",N-2", md5B+",,,N-3", md5B+",,"+other+",N-4")
		if b := third[1]; !b.New || third[2].Media.ID != b.Media.ID || third[2].Media.PDQ == nil || third[2].Media.PDQ.String() != other {
			t.Fatalf("an item named twice in one list: %+v, then %+v", b.Media, third[2].Media)
		}
		m, err := db.Media(ctx, id)
		if err != nil || m.PDQ.String() != pdqhex || m.SHA1 != sha1hex || m.Category != hashset.CSAM || m.Baseline != ivid.BaselineConfirmed || m.Stored {
			t.Fatalf("stored item: %+v %v", m, err)
		}
		var details []string
		db.EachAudit(ctx, func(r audit.Record) error {
			if r.Action == "media.contribute-hashes" {
				details = append(details, r.Detail)
			}
			return nil
		})
		if len(details) != 5 || !strings.HasSuffix(details[1], "new=false completed=sha1,pdq") || strings.Contains(details[2], "completed") {
			t.Fatalf("audit details %q", details)
		}
		if _, err := ivid.VerifyTrail(ctx, db); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHashListFailsMidway: when the database fails in a list's second
// group, the first group stays, is answered, and the answer ends with the
// error (the status was sent with the first group); the second group
// leaves nothing.
func TestHashListFailsMidway(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-MIDWAY", ivid.SharingAgency)
		list := "md5,label\n"
		for i := range ivid.HashGroup + 10 {
			label := fmt.Sprintf("IMG-%d", i)
			if i == ivid.HashGroup+5 {
				label = failingFile
			}
			list += fmt.Sprintf("%032x,%s\n", i+1, label)
		}
		resp := f.do("fr-specialist", "POST", "/api/v1/cases/"+itoa(int64(c.ID))+"/hashes", strings.NewReader(list), "text/csv")
		defer resp.Body.Close()
		var got struct {
			Comparisons []ivid.Comparison `json:"comparisons"`
			Items       int               `json:"items"`
			Error       *problem          `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("answer: %d %v", resp.StatusCode, err)
		}
		if got.Items != ivid.HashGroup || len(got.Comparisons) != ivid.HashGroup || got.Error == nil || got.Error.Status != 500 || got.Error.RequestID == "" {
			t.Fatalf("answer: %d items, %d comparisons, error %+v; want %d and a server error", got.Items, len(got.Comparisons), got.Error, ivid.HashGroup)
		}
		if strings.Contains(got.Error.Detail, "database failed") {
			t.Fatalf("a server error's details reach the client: %q", got.Error.Detail)
		}
		ms, err := db.MediaInCase(ctx, c.ID)
		if err != nil || len(ms) != ivid.HashGroup {
			t.Fatalf("case holds %d items (%v), want the first group's %d", len(ms), err, ivid.HashGroup)
		}
		if _, err := ivid.VerifyTrail(ctx, db); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHashListSentAgain: a hash list request with an Idempotency-Key, sent
// again (its answer lost), adds no submission and no audit record for the
// entries committed before, and is answered as the first time; sent again
// from entry N (first=N) with more entries, only those are added. Keys are
// the case's: another case's request with the same key is its own.
func TestHashListSentAgain(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		fr := f.newCase("fr-specialist", "FR-AGAIN", ivid.SharingAgency)
		de := f.newCase("de-specialist", "DE-AGAIN", ivid.SharingAgency)
		n := ivid.HashGroup + 10
		var entries []hashset.Entry
		for i := range n + 5 {
			entries = append(entries, hashset.Entry{MD5: fmt.Sprintf("%032x", 0xa9a1+i), Label: fmt.Sprintf("IMG-%d", i)})
		}
		entries[7].MD5 = entries[6].MD5 // one item named twice: new once
		frc := &client.Client{Base: f.ts.URL, Token: f.token["fr-specialist"]}
		want := client.HashesResult{Items: n, New: n - 1}
		first, err := frc.ContributeHashes(ctx, int64(fr.ID), entries[:n], "list-a", 0)
		if err != nil || first != want {
			t.Fatalf("first request: %+v %v, want %+v", first, err, want)
		}
		seq, _, err := db.AuditMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		again, err := frc.ContributeHashes(ctx, int64(fr.ID), entries[:n], "list-a", 0)
		if err != nil || again != want {
			t.Fatalf("sent again: %+v %v, want %+v as the first time", again, err, want)
		}
		if k := f.submissions(fr.ID); k != n {
			t.Fatalf("sent again: %d submissions, want %d", k, n)
		}
		if after, _, _ := db.AuditMark(ctx); after != seq {
			t.Fatalf("sent again: the trail grew from %d to %d records", seq, after)
		}
		// The last group again, from its place in the list, with 5 more.
		tail, err := frc.ContributeHashes(ctx, int64(fr.ID), entries[ivid.HashGroup:], "list-a", ivid.HashGroup)
		if err != nil || tail != (client.HashesResult{Items: 15, New: 15}) {
			t.Fatalf("from entry %d: %+v %v, want 15 items, all new", ivid.HashGroup, tail, err)
		}
		if k := f.submissions(fr.ID); k != n+5 {
			t.Fatalf("from entry %d: %d submissions, want %d", ivid.HashGroup, k, n+5)
		}
		// Another list under the same key: refused, nothing written.
		other := slices.Clone(entries[:3])
		other[1].MD5 = fmt.Sprintf("%032x", 0xbeef)
		var refused *client.StatusError
		if r, err := frc.ContributeHashes(ctx, int64(fr.ID), other, "list-a", 0); !errors.As(err, &refused) || refused.Code != 409 || r.Items != 0 {
			t.Fatalf("another list under the key: %+v %v, want 409", r, err)
		}
		if k := f.submissions(fr.ID); k != n+5 {
			t.Fatalf("after the refused list: %d submissions, want %d", k, n+5)
		}
		// The same key in Germany's case: a contribution of its own.
		dec := &client.Client{Base: f.ts.URL, Token: f.token["de-specialist"]}
		r, err := dec.ContributeHashes(ctx, int64(de.ID), entries[:10], "list-a", 0)
		if err != nil || r != (client.HashesResult{Items: 10, New: 0}) || f.submissions(de.ID) != 10 {
			t.Fatalf("another case, same key: %+v %v, %d submissions", r, err, f.submissions(de.ID))
		}
		if _, err := ivid.VerifyTrail(ctx, db); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct{ key, query string }{
			{"has space", ""},
			{strings.Repeat("k", ivid.MaxRequestKey+1), ""},
			{"list-a", "?first=-1"},
			{"list-a", "?first=x"},
			{"", "?first=3"},
		} {
			req, _ := http.NewRequest("POST", f.ts.URL+"/api/v1/cases/"+itoa(int64(fr.ID))+"/hashes"+bad.query, strings.NewReader("md5\n"+entries[0].MD5+"\n"))
			req.Header.Set("Authorization", "Bearer "+f.token["fr-specialist"])
			req.Header.Set("Content-Type", "text/csv")
			if bad.key != "" {
				req.Header.Set("Idempotency-Key", bad.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("key %q%s: %d, want 400", bad.key, bad.query, resp.StatusCode)
			}
		}
		if k := f.submissions(fr.ID); k != n+5 {
			t.Fatalf("refused requests left %d submissions, want %d", k, n+5)
		}
	})
}
