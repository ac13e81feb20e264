package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/blob"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
)

// fixture is a running API over a real database and blob store, with
// agencies in two countries, the hub and an industry partner, and one
// user (and API token) per role.
type fixture struct {
	t      testing.TB
	db     *storage.DB
	svc    *ivid.Service
	srv    *Server
	ts     *httptest.Server
	agency map[string]ivid.Agency
	user   map[string]ivid.User
	token  map[string]string
	blobs  *blob.Local
	disk   *flakyBackend
}

// flakyStore is the fixture's database as the service sees it: the real
// one, whose transactions fail when they record a submission of a file
// named failingFile, as if the database went away at that point.
type flakyStore struct{ *storage.DB }

const failingFile = "test: the database fails here"

var errDatabaseFailed = errors.New("test: the database failed")

func (s flakyStore) InTx(ctx context.Context, fn func(ivid.Tx) error) error {
	return s.DB.InTx(ctx, func(tx ivid.Tx) error { return fn(flakyTx{tx}) })
}

type flakyTx struct{ ivid.Tx }

func (t flakyTx) AddSubmissions(ctx context.Context, subs []ivid.Submission) error {
	for _, sub := range subs {
		if sub.FileName == failingFile {
			return errDatabaseFailed
		}
	}
	return t.Tx.AddSubmissions(ctx, subs)
}

// flakyBackend is the fixture's blob backend: the local one, whose
// commits fail while fail is set, as on a disk that stopped writing.
type flakyBackend struct {
	*blob.Local
	fail atomic.Bool
}

var errDiskFailed = errors.New("test: the disk failed")

func (b *flakyBackend) Create(ctx context.Context, name string) (blob.PendingFile, error) {
	pf, err := b.Local.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &flakyFile{pf, b}, nil
}

type flakyFile struct {
	blob.PendingFile
	b *flakyBackend
}

func (f *flakyFile) Commit() error {
	if f.b.fail.Load() {
		f.PendingFile.Abort()
		return errDiskFailed
	}
	return f.PendingFile.Commit()
}

// CommitDeferred fails at the flush, where a batch's sync fails.
func (f *flakyFile) CommitDeferred() (func() error, error) {
	if f.b.fail.Load() {
		f.PendingFile.Abort()
		return func() error { return errDiskFailed }, nil
	}
	if dc, ok := f.PendingFile.(interface {
		CommitDeferred() (func() error, error)
	}); ok {
		return dc.CommitDeferred()
	}
	return func() error { return nil }, f.PendingFile.Commit()
}

// users of the fixture: name -> agency, roles.
var fixtureUsers = []struct{ name, agency, roles string }{
	{"fr-viewer", "FR", "viewer"},
	{"fr-investigator", "FR", "investigator"},
	{"fr-specialist", "FR", "specialist"},
	{"fr-admin", "FR", "agency-admin"},
	{"de-specialist", "DE", "specialist"},
	{"hub-admin", "Hub", "hub-admin"},
	{"auditor", "Hub", "auditor"},
	{"industry", "Acme", "industry"},
	{"monitor", "Hub", "monitor"},
}

func newFixture(t testing.TB, db *storage.DB, opts Options) *fixture {
	t.Helper()
	return newFixtureWith(t, db, opts, ivid.Config{Dihedral: true})
}

func newFixtureWith(t testing.TB, db *storage.DB, opts Options, cfg ivid.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	be, err := blob.OpenLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	disk := &flakyBackend{Local: be}
	svc := openService(t, flakyStore{db}, disk, cfg)
	f := &fixture{t: t, db: db, svc: svc, agency: map[string]ivid.Agency{}, user: map[string]ivid.User{}, token: map[string]string{}, blobs: be, disk: disk}
	if _, _, err := svc.Bootstrap(ctx, "root", "root-password-long-enough"); err != nil {
		t.Fatal(err)
	}
	root, err := db.UserByName(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	hub, _ := db.Agency(ctx, root.AgencyID)
	rootActor := ivid.Actor{User: root, Agency: hub}
	f.agency["Hub"] = hub
	for _, a := range []ivid.Agency{{Name: "FR", Country: "FR", Kind: ivid.NationalUnit}, {Name: "DE", Country: "DE", Kind: ivid.NationalUnit}, {Name: "Acme", Kind: ivid.Industry}} {
		ag, err := svc.CreateAgency(ctx, rootActor, a)
		if err != nil {
			t.Fatal(err)
		}
		f.agency[a.Name] = ag
	}
	for _, u := range fixtureUsers {
		roles, _ := ivid.ParseRoles(u.roles)
		usr, _, err := svc.CreateUser(ctx, rootActor, u.name, f.agency[u.agency].ID, roles, "")
		if err != nil {
			t.Fatal(err)
		}
		f.user[u.name] = usr
		actor := ivid.Actor{User: usr, Agency: f.agency[u.agency]}
		var tok string
		if roles.HubIssuesTokens() {
			tok, _, err = svc.CreateToken(ctx, rootActor, usr.ID, "test", 0)
		} else {
			tok, _, err = svc.CreateToken(ctx, actor, 0, "test", 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		f.token[u.name] = tok
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = filepath.Join(dir, "spool")
	}
	opts.InsecureCookies = true
	f.srv, err = New(svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// do sends a request as a fixture user ("" for anonymous).
func (f *fixture) do(user, method, path string, body io.Reader, contentType string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.token[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// json sends a JSON body and decodes a JSON answer into out (if not nil),
// returning the status.
func (f *fixture) json(user, method, path string, in, out any) int {
	f.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	resp := f.do(user, method, path, body, "application/json")
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 && testing.Verbose() {
		f.t.Logf("%s %s as %s: %d %s", method, path, user, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.StatusCode
}

// openService opens a service over store, with a blob store of its own
// on backend, as a server does.
func openService(t testing.TB, store ivid.Store, backend blob.Backend, cfg ivid.Config) *ivid.Service {
	t.Helper()
	ctx := context.Background()
	bs, err := blob.Open(ctx, backend, blob.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secrets, err = auth.NewSecretBox(bs.DeriveKey("second-factor secrets")); err != nil {
		t.Fatal(err)
	}
	svc, err := ivid.NewService(ctx, store, bs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// upload contributes files (name -> content) to a case and returns the
// result lines.
func (f *fixture) upload(user string, caseID ivid.CaseID, files map[string][]byte) (int, []contributeResult) {
	f.t.Helper()
	names := slices.Sorted(maps.Keys(files))
	parts := make([]part, len(names))
	for i, n := range names {
		parts[i] = part{name: n, data: files[n]}
	}
	return f.uploadParts(user, caseID, parts)
}

// part is a file of an upload, with its Idempotency-Key if any.
type part struct {
	name, key string
	data      []byte
}

// uploadParts contributes parts to a case and returns the result lines,
// by part.
func (f *fixture) uploadParts(user string, caseID ivid.CaseID, parts []part) (int, []contributeResult) {
	f.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+p.name+`"`)
		h.Set("Content-Type", "application/octet-stream")
		if p.key != "" {
			h.Set("Idempotency-Key", p.key)
		}
		w, _ := mw.CreatePart(h)
		w.Write(p.data)
	}
	mw.Close()
	resp := f.do(user, "POST", "/api/v1/cases/"+itoa(int64(caseID))+"/media", &buf, mw.FormDataContentType())
	var out []contributeResult
	dec := json.NewDecoder(resp.Body)
	for resp.StatusCode == 200 {
		var r contributeResult
		if err := dec.Decode(&r); err != nil {
			break
		}
		out = append(out, r)
	}
	// Results come in commit order; each names its part, and every part
	// is answered once.
	slices.SortFunc(out, func(a, b contributeResult) int { return a.Part - b.Part })
	for i, r := range out {
		if r.Part != i || (i < len(parts) && r.File != parts[i].name) {
			f.t.Fatalf("result %d is part %d (%s), want part %d (%s)", i, r.Part, r.File, i, parts[min(i, len(parts)-1)].name)
		}
	}
	return resp.StatusCode, out
}

// submissions counts a case's submissions.
func (f *fixture) submissions(c ivid.CaseID) int {
	f.t.Helper()
	ctx := context.Background()
	ms, err := f.db.MediaInCase(ctx, c)
	if err != nil {
		f.t.Fatal(err)
	}
	ids := make([]ivid.MediaID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	subs, err := f.db.SubmissionsOf(ctx, ids)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, s := range subs {
		if s.CaseID == c {
			n++
		}
	}
	return n
}

func (f *fixture) newCase(user, ref string, sharing ivid.Sharing) ivid.Case {
	f.t.Helper()
	var c ivid.Case
	if st := f.json(user, "POST", "/api/v1/cases", map[string]any{"reference": ref, "sharing": sharing}, &c); st != 201 {
		f.t.Fatalf("create case: %d", st)
	}
	return c
}

// scene returns a synthetic benign image in a variant.
func scene(t *testing.T, n int, v demo.Variant) []byte {
	b, _, err := demo.Encode(demo.Apply(demo.Scene(n, 320, 240), v), v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// hashFile returns a file's PDQ hash as hex.
func hashFile(path string) (string, filehash.Record, error) {
	rec, _, err := filehash.New(filehash.Options{}).File(path)
	if err != nil || rec.PDQ == nil {
		return "", rec, fmt.Errorf("no PDQ: %v", err)
	}
	return rec.PDQ.String(), rec, nil
}
