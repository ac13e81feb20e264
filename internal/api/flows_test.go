package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// countFiles counts the files under dir.
func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// countBlobs counts the blobs stored, packed or not (not the keyring).
func (f *fixture) countBlobs() int {
	n := 0
	f.blobs.List(f.t.Context(), func(name string) error {
		if len(name) == 64 {
			n++
		}
		return nil
	})
	return n
}

// TestContributeAndCompare: France identifies a series; Germany then
// contributes a resized copy and learns at once that it is known, which
// series, who investigates and who identified the victim.
func TestContributeAndCompare(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		fr := f.newCase("fr-specialist", "FR-2026-1", ivid.SharingAgency)
		st, res := f.upload("fr-specialist", fr.ID, map[string][]byte{"orig.png": scene(t, 3, demo.Original), "other.png": scene(t, 4, demo.Original)})
		if st != 200 || len(res) != 2 || res[0].Comparison == nil || !res[0].Comparison.New {
			t.Fatalf("FR upload: %d %+v", st, res)
		}
		orig := res[0].Comparison.Media
		if orig.PDQ == nil || orig.Width != 320 || !orig.Stored {
			t.Fatalf("media %+v", orig)
		}
		var x ivid.Series
		f.json("fr-specialist", "POST", "/api/v1/series", map[string]any{"name": "Lighthouse"}, &x)
		if st := f.json("fr-specialist", "POST", "/api/v1/series/"+itoa(int64(x.ID))+"/media", map[string]any{"ids": []int64{int64(orig.ID)}}, nil); st != 204 {
			t.Fatalf("assign: %d", st)
		}
		if st := f.json("fr-specialist", "POST", "/api/v1/series/"+itoa(int64(x.ID))+"/claim", nil, nil); st != 201 {
			t.Fatalf("claim: %d", st)
		}
		if st := f.json("fr-specialist", "POST", "/api/v1/series/"+itoa(int64(x.ID))+"/victims", map[string]any{"identified": true, "age_group": "prepubescent", "sex": "female"}, nil); st != 201 {
			t.Fatalf("victim: %d", st)
		}
		if st := f.json("fr-specialist", "POST", "/api/v1/media/categorise", map[string]any{"ids": []int64{int64(orig.ID)}, "category": 1}, nil); st != 204 {
			t.Fatalf("categorise: %d", st)
		}

		de := f.newCase("de-specialist", "DE-77", ivid.SharingAgency)
		_, res = f.upload("de-specialist", de.ID, map[string][]byte{"copy.jpg": scene(t, 3, demo.Resized), "mirror.jpg": scene(t, 3, demo.Mirrored)})
		for _, r := range res {
			c := r.Comparison
			if c == nil || !c.New || len(c.Links) == 0 {
				t.Fatalf("%s: %+v", r.File, r)
			}
			l := c.Links[0]
			if l.Kind != ivid.LinkNear || l.MediaID != orig.ID || l.Category != hashset.CSAM || l.Series == nil {
				t.Fatalf("%s: link %+v", r.File, l)
			}
			sf := l.Series
			if sf.Series.Name != "Lighthouse" || sf.Series.Status != ivid.VictimIdentified || len(sf.Claims) != 1 || sf.Claims[0].Agency != "FR" ||
				len(sf.Victims) != 1 || sf.Victims[0].Agency != "FR" || sf.Victims[0].IdentifiedAt == nil {
				t.Fatalf("%s: series facts %+v", r.File, sf)
			}
		}
		// The same content again adds a submission, never a second copy.
		blobs := f.countBlobs()
		_, res = f.upload("de-specialist", de.ID, map[string][]byte{"again.png": scene(t, 3, demo.Original)})
		c := res[0].Comparison
		if c == nil || c.New || c.Submissions != 2 || c.Media.ID != orig.ID || len(c.Agencies) != 2 || c.Series == nil {
			t.Fatalf("resubmission: %+v", res[0])
		}
		if n := f.countBlobs(); n != blobs {
			t.Fatalf("blob files %d -> %d", blobs, n)
		}
		// Deconfliction: Germany sees France's claim on the series list.
		var list []ivid.SeriesFacts
		f.json("de-specialist", "GET", "/api/v1/series", nil, &list)
		if len(list) != 1 || len(list[0].Claims) != 1 || list[0].Claims[0].Country != "FR" {
			t.Fatalf("deconfliction: %+v", list)
		}
		var stats ivid.Stats
		f.json("de-specialist", "GET", "/api/v1/stats", nil, &stats)
		if stats.Media != 4 || stats.VictimsIdentified != 1 || stats.VictimsByCountry["FR"] != 1 || stats.Agencies != 2 || stats.ByAgeGroup["prepubescent"] != 1 {
			t.Fatalf("stats %+v", stats)
		}
		checkCaseExport(t, f, fr.ID, orig)
	})
}

// checkCaseExport: France exports its case as VICS and ICSE; both read back
// with the hash-set readers, with category, series and identification
// carried; Germany may not export France's case; each export is audited.
func checkCaseExport(t *testing.T, f *fixture, caseID ivid.CaseID, orig ivid.Media) {
	t.Helper()
	path := "/api/v1/cases/" + itoa(int64(caseID)) + "/export"
	for _, format := range []hashset.Format{hashset.FormatVICS, hashset.FormatICSE} {
		resp := f.do("fr-specialist", "GET", path+"?format="+string(format), nil, "")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("%s export: %d %s", format, resp.StatusCode, body)
		}
		var r hashset.Reader
		if format == hashset.FormatVICS {
			r = hashset.NewVICSReader(bytes.NewReader(body), "export.json")
		} else {
			r = hashset.NewICSEReader(bytes.NewReader(body), "export.csv")
		}
		var got []hashset.Entry
		if _, err := hashset.ReadAll(r, true, func(e hashset.Entry) error { got = append(got, e); return nil }); err != nil {
			t.Fatalf("%s export does not read back: %v\n%s", format, err, body)
		}
		if len(got) != 2 {
			t.Fatalf("%s export: %d entries, want 2", format, len(got))
		}
		found := false
		for _, e := range got {
			if e.MD5 == orig.MD5 {
				found = true
				if e.Series != "Lighthouse" || e.VictimIdentified == nil || !*e.VictimIdentified || e.Submissions != 2 {
					t.Errorf("%s export: %+v lost its series or identification", format, e)
				}
				if format == hashset.FormatVICS && (e.Category != hashset.CSAM || e.SHA256 != orig.SHA256) {
					t.Errorf("VICS export: %+v lost its category or SHA-256", e)
				}
			}
		}
		if !found {
			t.Errorf("%s export lacks the categorised item", format)
		}
	}
	if resp := f.do("de-specialist", "GET", path, nil, ""); resp.StatusCode != 403 && resp.StatusCode != 404 {
		t.Errorf("Germany exporting France's case: %d", resp.StatusCode)
	}
	if resp := f.do("fr-specialist", "GET", path+"?format=pdf", nil, ""); resp.StatusCode != 400 {
		t.Errorf("unknown format: %d", resp.StatusCode)
	}
	exports := 0
	f.db.EachAudit(context.Background(), func(r audit.Record) error {
		if r.Action == "export.case" {
			exports++
		}
		return nil
	})
	if exports != 2 {
		t.Errorf("%d export.case audit records, want 2", exports)
	}
}

// TestPixelsScoping: an agency-level case's pixels never reach another
// agency, while its hashes still match; network-shared ones do; every read
// is audited.
// TestCopiesInOneUpload: copies of the same content in one upload, which
// may be committed in one group, make one item with a submission each.
func TestCopiesInOneUpload(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-COPIES", ivid.SharingAgency)
		same := scene(t, 5, demo.Original)
		files := map[string][]byte{"other.png": scene(t, 6, demo.Original)}
		for i := range 6 {
			files[fmt.Sprintf("copy-%d.png", i)] = same
		}
		st, res := f.upload("fr-specialist", c.ID, files)
		if st != 200 || len(res) != 7 {
			t.Fatalf("upload: %d %+v", st, res)
		}
		news, ids := 0, map[ivid.MediaID]bool{}
		for _, r := range res[:6] {
			if r.Comparison == nil {
				t.Fatalf("%s: %+v", r.File, r)
			}
			ids[r.Comparison.Media.ID] = true
			if r.Comparison.New {
				news++
			}
		}
		if news != 1 || len(ids) != 1 || res[6].Comparison == nil || !res[6].Comparison.New {
			t.Fatalf("copies: %d new, %d items; other %+v", news, len(ids), res[6])
		}
		for id := range ids {
			if subs, err := db.Submissions(context.Background(), id); err != nil || len(subs) != 6 {
				t.Fatalf("submissions: %d %v", len(subs), err)
			}
		}
		if n := f.countBlobs(); n != 2 {
			t.Fatalf("%d blob files, want 2", n)
		}
		if _, err := ivid.VerifyTrail(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGroupCommit commits a group holding two copies of one content and
// another item in one transaction.
func TestGroupCommit(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		ctx := context.Background()
		c := f.newCase("fr-specialist", "FR-GROUP", ivid.SharingAgency)
		a := ivid.Actor{User: f.user["fr-specialist"], Agency: f.agency["FR"]}
		dir := t.TempDir()
		var group []ivid.Hashed
		for i, b := range [][]byte{scene(t, 7, demo.Original), scene(t, 7, demo.Original), scene(t, 8, demo.Original)} {
			p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
			os.WriteFile(p, b, 0o600)
			h, err := f.svc.HashUpload(ctx, a, filepath.Base(p), p)
			if err != nil {
				t.Fatal(err)
			}
			group = append(group, h)
		}
		res := f.svc.CommitUploads(ctx, a, c.ID, group)
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("item %d: %v", i, r.Err)
			}
		}
		first, copy, other := res[0].Comparison, res[1].Comparison, res[2].Comparison
		if !first.New || copy.New || !other.New || copy.Media.ID != first.Media.ID || other.Media.ID == first.Media.ID || copy.Submissions != 2 {
			t.Fatalf("group: %+v / %+v / %+v", first, copy, other)
		}
		if n := f.countBlobs(); n != 2 {
			t.Fatalf("%d blob files, want 2", n)
		}
		if n, err := ivid.VerifyTrail(ctx, db); err != nil {
			t.Fatal(n, err)
		}
	})
}

// TestSpoolToDisk: when the memory budget is taken, images are spooled to
// disk instead, and the spool is left empty after the answer.
func TestSpoolToDisk(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		spool := t.TempDir()
		f := newFixture(t, db, Options{SpoolDir: spool})
		c := f.newCase("fr-specialist", "FR-SPOOL", ivid.SharingAgency)
		for _, used := range []int64{0, memBudget} {
			f.srv.memUsed.Store(used)
			st, res := f.upload("fr-specialist", c.ID, map[string][]byte{"a.png": scene(t, 20+int(used%7), demo.Original)})
			if st != 200 || len(res) != 1 || res[0].Comparison == nil {
				t.Fatalf("memory used %d: %d %+v", used, st, res)
			}
			if got := f.srv.memUsed.Load(); got != used {
				t.Fatalf("memory used %d after the upload, want %d", got, used)
			}
			if n := countFiles(t, spool); n != 0 {
				t.Fatalf("%d files left in the spool", n)
			}
		}
	})
}

// TestHashPanic: a panic while hashing one file (a decoder bug, say) fails
// that file with an internal error; the others of the upload are stored and
// the server goes on.
func TestHashPanic(t *testing.T) {
	testHookHash = func(file string) {
		if file == "boom.png" {
			panic("decoder bug")
		}
	}
	t.Cleanup(func() { testHookHash = nil })
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-PANIC", ivid.SharingAgency)
		st, res := f.upload("fr-specialist", c.ID, map[string][]byte{"boom.png": scene(t, 30, demo.Original), "fine.png": scene(t, 31, demo.Original)})
		if st != 200 || len(res) != 2 {
			t.Fatalf("upload: %d %+v", st, res)
		}
		if res[0].Status != 500 || res[0].Error != "internal error" || res[1].Comparison == nil {
			t.Fatalf("results %+v", res)
		}
		if st, res := f.upload("fr-specialist", c.ID, map[string][]byte{"after.png": scene(t, 32, demo.Original)}); st != 200 || res[0].Comparison == nil {
			t.Fatalf("after the panic: %d %+v", st, res)
		}
	})
}

func TestPixelsScoping(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		priv := f.newCase("fr-investigator", "FR-private", ivid.SharingAgency)
		shared := f.newCase("fr-investigator", "FR-shared", ivid.SharingNetwork)
		img1, img2 := scene(t, 5, demo.Original), scene(t, 6, demo.Original)
		_, r1 := f.upload("fr-investigator", priv.ID, map[string][]byte{"p.png": img1})
		_, r2 := f.upload("fr-investigator", shared.ID, map[string][]byte{"s.png": img2})
		p, s := r1[0].Comparison.Media.ID, r2[0].Comparison.Media.ID
		get := func(user string, id ivid.MediaID) (int, []byte) {
			resp := f.do(user, "GET", "/api/v1/media/"+itoa(int64(id))+"/content", nil, "")
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		if st, b := get("fr-investigator", p); st != 200 || !bytes.Equal(b, img1) {
			t.Fatalf("own agency: %d, %d bytes", st, len(b))
		}
		if st, _ := get("de-specialist", p); st != 403 {
			t.Fatalf("other agency, agency case: %d, want 403", st)
		}
		if st, b := get("de-specialist", s); st != 200 || !bytes.Equal(b, img2) {
			t.Fatalf("other agency, network case: %d", st)
		}
		// The facts of the private item are network facts.
		var mf ivid.MediaFacts
		if st := f.json("de-specialist", "GET", "/api/v1/media/"+itoa(int64(p)), nil, &mf); st != 200 || mf.Media.PDQ == nil || mf.CanPixels {
			t.Fatalf("facts: %d %+v", st, mf)
		}
		// A resized copy from Germany finds it.
		de := f.newCase("de-specialist", "DE-1", ivid.SharingAgency)
		_, r3 := f.upload("de-specialist", de.ID, map[string][]byte{"c.jpg": scene(t, 5, demo.Resized)})
		if c := r3[0].Comparison; c == nil || len(c.Links) != 1 || c.Links[0].MediaID != p {
			t.Fatalf("comparison: %+v", r3[0])
		}
		// Audited: two successful reads.
		reads := 0
		db.EachAudit(context.Background(), func(r audit.Record) error {
			if r.Action == "media.read" {
				reads++
			}
			return nil
		})
		if reads != 2 {
			t.Fatalf("%d media.read records, want 2", reads)
		}
		var v map[string]any
		if st := f.json("auditor", "POST", "/api/v1/audit/verify", nil, &v); st != 200 || v["intact"] != true {
			t.Fatalf("verify: %d %v", st, v)
		}
		// Tampering with a record is found, and named.
		if _, err := db.SQL().ExecContext(context.Background(), "UPDATE audit SET detail = 'edited' WHERE seq = 3"); err != nil {
			t.Fatal(err)
		}
		f.json("auditor", "POST", "/api/v1/audit/verify", nil, &v)
		if v["intact"] != false || !strings.Contains(v["break"].(string), "audit record 3: edited") {
			t.Fatalf("tampered trail: %v", v)
		}
	})
}

// TestSignInWithTOTP: a specialist must enrol a second factor before
// anything else; then signs in with it. Wrong codes are refused and
// repeated failures throttled.
func TestSignInWithTOTP(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		root, _ := db.UserByName(context.Background(), "root")
		rootActor := ivid.Actor{User: root, Agency: f.agency["Hub"]}
		const pw = "a long enough password"
		if _, _, err := f.svc.CreateUser(context.Background(), rootActor, "camille", f.agency["FR"].ID, ivid.Roles{ivid.RoleSpecialist}, pw); err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		post := func(path, body string) (*http.Response, string) {
			resp, err := client.Post(f.ts.URL+path, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(b)
		}
		getStatus := func(path string) int {
			resp, err := client.Get(f.ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		resp, body := post("/api/v1/login", `{"name":"camille","password":"`+pw+`"}`)
		if resp.StatusCode != 200 || !strings.Contains(body, `"totp_enrolment_required":true`) {
			t.Fatalf("login: %d %s", resp.StatusCode, body)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == cookieName {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
			t.Fatalf("session cookie %+v", cookie)
		}
		if st := getStatus("/api/v1/cases"); st != 403 {
			t.Fatalf("before enrolment: %d, want 403", st)
		}
		resp, body = post("/api/v1/me/totp", "")
		if resp.StatusCode != 200 || !strings.Contains(body, "qr_png_base64") {
			t.Fatalf("enrol: %d %s", resp.StatusCode, body)
		}
		var enrol struct{ Secret string }
		if err := json.Unmarshal([]byte(body), &enrol); err != nil || enrol.Secret == "" {
			t.Fatalf("enrolment answer %s: %v", body, err)
		}
		// The database holds the secret sealed, not as it was shown.
		u, _ := db.UserByName(context.Background(), "camille")
		if !auth.IsSealed(u.TOTPSecret) || strings.Contains(u.TOTPSecret, enrol.Secret) {
			t.Fatalf("stored second-factor secret %q is not sealed", u.TOTPSecret)
		}
		code, _ := auth.TOTPCode(enrol.Secret, time.Now())
		if resp, body := post("/api/v1/me/totp/confirm", `{"code":"000000"}`); resp.StatusCode != 400 && code != "000000" {
			t.Fatalf("wrong code: %d %s", resp.StatusCode, body)
		}
		if resp, body := post("/api/v1/me/totp/confirm", `{"code":"`+code+`"}`); resp.StatusCode != 204 {
			t.Fatalf("confirm: %d %s", resp.StatusCode, body)
		}
		if st := getStatus("/api/v1/cases"); st != 200 {
			t.Fatalf("after enrolment: %d", st)
		}
		// Next sign-in needs the code.
		if resp, _ := post("/api/v1/login", `{"name":"camille","password":"`+pw+`"}`); resp.StatusCode != 401 {
			t.Fatalf("no code: %d", resp.StatusCode)
		}
		code, _ = auth.TOTPCode(enrol.Secret, time.Now())
		if resp, body := post("/api/v1/login", `{"name":"camille","password":"`+pw+`","code":"`+code+`"}`); resp.StatusCode != 200 || !strings.Contains(body, `"mfa":true`) {
			t.Fatalf("login with code: %d %s", resp.StatusCode, body)
		}
		// Throttling: five failures, then even the right password waits.
		for range 5 {
			post("/api/v1/login", `{"name":"camille","password":"wrong password here"}`)
		}
		if resp, _ := post("/api/v1/login", `{"name":"camille","password":"`+pw+`","code":"`+code+`"}`); resp.StatusCode != 429 {
			t.Fatalf("after 5 failures: %d, want 429", resp.StatusCode)
		}
		if resp, _ := post("/api/v1/login", `{"name":"nobody","password":"whatever it is"}`); resp.StatusCode != 401 && resp.StatusCode != 429 {
			t.Fatalf("unknown user: %d", resp.StatusCode)
		}
	})
}

// TestContributeDiskFails: when the blob store's sync fails for a group,
// every file of it is answered with an error and nothing of it is
// recorded; once the disk is back, the same files are stored as new.
func TestContributeDiskFails(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		cs := f.newCase("fr-specialist", "FR-DISK", ivid.SharingAgency)
		files := map[string][]byte{}
		for i := range 3 {
			files[fmt.Sprintf("p%d.jpg", i)] = scene(t, 60+i, demo.Variants[0])
		}
		f.disk.fail.Store(true)
		st, res := f.upload("fr-specialist", cs.ID, files)
		if st != 200 || len(res) != 3 {
			t.Fatalf("upload: %d, %d results", st, len(res))
		}
		for _, r := range res {
			if r.Status != 500 || r.Comparison != nil {
				t.Fatalf("%s answered %d %q while the disk failed", r.File, r.Status, r.Error)
			}
		}
		var items []ivid.Media
		if st := f.json("fr-specialist", "GET", "/api/v1/cases/"+itoa(int64(cs.ID))+"/media", nil, &items); st != 200 || len(items) != 0 {
			t.Fatalf("case media after the failure: %d, %d items", st, len(items))
		}
		if n := f.countBlobs(); n != 0 {
			t.Fatalf("%d blobs stored", n)
		}
		f.disk.fail.Store(false)
		st, res = f.upload("fr-specialist", cs.ID, files)
		if st != 200 || len(res) != 3 {
			t.Fatalf("upload again: %d, %d results", st, len(res))
		}
		for _, r := range res {
			if r.Status != 200 || r.Comparison == nil || !r.Comparison.New {
				t.Fatalf("%s answered %d %q once the disk is back", r.File, r.Status, r.Error)
			}
		}
		if n := f.countBlobs(); n != 3 {
			t.Fatalf("%d blobs stored, want 3", n)
		}
	})
}
