package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/server"
)

// testServer starts a real server (SQLite, blob store) on loopback and
// returns its URL, a specialist's API token and a case of theirs.
func testServer(t *testing.T) (base, token string, caseID int64) {
	t.Helper()
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DataDir: t.TempDir(), TOTPOptional: true})
	if err != nil {
		t.Fatal(err)
	}
	root, err := srv.DB.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	hub, _ := srv.DB.Agency(ctx, root.AgencyID)
	ra := ivid.Actor{User: root, Agency: hub}
	fr, err := srv.Svc.CreateAgency(ctx, ra, ivid.Agency{Name: "OCRVP", Country: "FR", Kind: ivid.NationalUnit})
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := srv.Svc.CreateUser(ctx, ra, "spec", fr.ID, ivid.Roles{ivid.RoleSpecialist}, "")
	if err != nil {
		t.Fatal(err)
	}
	sa := ivid.Actor{User: spec, Agency: fr}
	token, _, err = srv.Svc.CreateToken(ctx, sa, 0, "cli", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.Svc.CreateCase(ctx, sa, ivid.Case{Reference: "FR-CLIENT"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.ServeListener(sctx, ln, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return "http://" + ln.Addr().String(), token, int64(c.ID)
}

func TestContributeFiles(t *testing.T) {
	base, token, caseID := testServer(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	img := func(n int) []byte {
		b, _, err := demo.Encode(demo.Scene(n, 320, 240), demo.Original)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	paths := []string{
		write("a.png", img(1)),
		write("b.png", img(2)),
		write("notes.txt", []byte("not an image")),
		filepath.Join(dir, "missing.png"),
		write("a-again.png", img(1)),
	}
	c := &Client{Base: base, Token: token}
	got := map[string]error{}
	results := map[string]Result{}
	err := c.ContributeFiles(context.Background(), caseID, paths, func(p string, r Result, err error) {
		if _, dup := got[p]; dup {
			t.Errorf("%s answered twice", p)
		}
		got[p], results[p] = err, r
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(paths) {
		t.Fatalf("%d answers for %d files: %v", len(got), len(paths), got)
	}
	for _, p := range []string{paths[0], paths[1], paths[4]} {
		if got[p] != nil || results[p].Comparison == nil {
			t.Fatalf("%s: %v %+v", p, got[p], results[p])
		}
	}
	if !errors.Is(got[paths[2]], ErrRejected) {
		t.Errorf("text file: %v, want ErrRejected", got[paths[2]])
	}
	if !errors.Is(got[paths[3]], os.ErrNotExist) {
		t.Errorf("missing file: %v", got[paths[3]])
	}
	a, again := results[paths[0]].Comparison, results[paths[4]].Comparison
	if a.Media.ID != again.Media.ID || a.New == again.New {
		t.Errorf("copies: %+v / %+v", a, again)
	}

	// A wrong token stops the whole request.
	bad := &Client{Base: base, Token: "ivid_wrong"}
	err = bad.ContributeFiles(context.Background(), caseID, paths[:1], func(string, Result, error) {
		t.Error("answer for a refused request")
	})
	if !errors.Is(err, ErrFatal) {
		t.Fatalf("wrong token: %v, want ErrFatal", err)
	}
}

// TestContributeFilesShortAnswer: an answer that ends before every file
// sent is answered is an error, and files are reported at most once.
func TestContributeFilesShortAnswer(t *testing.T) {
	for _, c := range []struct {
		name, body, want string
	}{
		{"one of two", `{"part":0,"file":"a.png","status":200,"comparison":{"media":{"id":1},"new":true,"submissions":1}}` + "\n", "answered 1 of 2"},
		{"twice", `{"part":0,"file":"a.png","status":500,"error":"internal error"}` + "\n" + `{"part":0,"file":"a.png","status":500,"error":"internal error"}` + "\n", "twice"},
		{"no comparison", `{"part":0,"file":"a.png","status":200}` + "\n" + `{"part":1,"file":"b.png","status":200}` + "\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A stand-in for a faulty server: it reads the whole upload and
			// gives a canned answer.
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/x-ndjson")
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			dir := t.TempDir()
			var paths []string
			for _, n := range []string{"a.png", "b.png"} {
				p := filepath.Join(dir, n)
				os.WriteFile(p, []byte("x"), 0o600)
				paths = append(paths, p)
			}
			calls := 0
			err := (&Client{Base: srv.URL, Token: "t"}).ContributeFiles(context.Background(), 1, paths, func(_ string, r Result, err error) {
				calls++
				if err == nil && r.Comparison == nil {
					t.Error("an answer without comparison passed as a success")
				}
			})
			if c.want == "" {
				if err != nil || calls != 2 {
					t.Fatalf("err %v, %d calls", err, calls)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}
