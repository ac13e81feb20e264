package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// TestFilesBody: the streamed body is a multipart form with one part per
// readable file, in order, whether the transport reads it in small blocks
// or lets it write itself; unreadable files are reported and skipped.
func TestFilesBody(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i * 7)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.jpg")
	big := file("big.jpg", 1<<20+3)
	for _, c := range []struct {
		name  string
		paths []string
		sent  []string
	}{
		{"no file", nil, nil},
		{"empty file", []string{file("empty.jpg", 0)}, []string{filepath.Join(dir, "empty.jpg")}},
		{"one byte", []string{file("one.jpg", 1)}, []string{filepath.Join(dir, "one.jpg")}},
		{"larger than a write", []string{big, file("small.jpg", 10)}, []string{big, filepath.Join(dir, "small.jpg")}},
		{"missing in between", []string{file("a.jpg", 300<<10), missing, file("b.jpg", 5)}, []string{filepath.Join(dir, "a.jpg"), filepath.Join(dir, "b.jpg")}},
		{"only missing", []string{missing}, nil},
	} {
		for _, how := range []string{"read", "writeto"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				var mu sync.Mutex
				var failed []string
				b := newFilesBody(c.paths, &mu, func(p string, err error) {
					if !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s: %v", p, err)
					}
					failed = append(failed, p)
				})
				var body bytes.Buffer
				var err error
				if how == "read" {
					_, err = io.CopyBuffer(&body, struct{ io.Reader }{b}, make([]byte, 4093))
				} else {
					_, err = b.WriteTo(&body)
				}
				if err != nil {
					t.Fatal(err)
				}
				b.Close()
				mr := multipart.NewReader(&body, b.mw.Boundary())
				var got []string
				for {
					part, err := mr.NextPart()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					data, err := io.ReadAll(part)
					if err != nil {
						t.Fatal(err)
					}
					p := c.sent[len(got)]
					want, _ := os.ReadFile(p)
					if part.FormName() != "file" || part.FileName() != filepath.Base(p) || !bytes.Equal(data, want) {
						t.Errorf("part %d: %s %s, %d bytes; want %s, %d bytes", len(got), part.FormName(), part.FileName(), len(data), p, len(want))
					}
					got = append(got, p)
				}
				if !slices.Equal(got, c.sent) || !slices.Equal(b.sent, c.sent) {
					t.Errorf("parts %v, sent %v; want %v", got, b.sent, c.sent)
				}
				if n := len(c.paths) - len(c.sent); len(failed) != n {
					t.Errorf("%d failures reported, want %d: %v", len(failed), n, failed)
				}
			})
		}
	}

	// A file that fails while it is read ends the body with its error: the
	// request fails, and what the server did not answer can be sent again.
	for _, how := range []string{"read", "writeto"} {
		var mu sync.Mutex
		b := newFilesBody([]string{big, dir}, &mu, func(p string, err error) { t.Errorf("%s: %v", p, err) })
		var err error
		if how == "read" {
			_, err = io.Copy(io.Discard, struct{ io.Reader }{b})
		} else {
			_, err = b.WriteTo(io.Discard)
		}
		if err == nil || len(b.sent) != 2 {
			t.Errorf("%s: a folder in the list: %v, %d parts started", how, err, len(b.sent))
		}
	}

	// Once the transport has closed the body, nothing more is opened or
	// reported, even if it reads again.
	{
		var mu sync.Mutex
		b := newFilesBody([]string{big, missing}, &mu, func(p string, err error) { t.Errorf("%s reported after Close", p) })
		if _, err := io.ReadFull(b, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		b.Close()
		if n, err := b.Read(make([]byte, 1000)); n != 0 || !errors.Is(err, http.ErrBodyReadAfterClose) {
			t.Errorf("read after Close: %d, %v", n, err)
		}
	}

	// Once stopped, the body opens and reports no more files.
	var mu sync.Mutex
	b := newFilesBody([]string{missing, big}, &mu, func(p string, err error) { t.Errorf("%s reported after stop", p) })
	b.stop()
	if _, err := io.ReadAll(b); !errors.Is(err, errStopped) {
		t.Errorf("read after stop: %v, want errStopped", err)
	}
}

// TestTemporary: which failed requests are worth sending again.
func TestTemporary(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{io.ErrUnexpectedEOF, true},
		{errors.New("the server answered 3 of 4 files"), true},
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 503, Detail: "shutting down"}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 400, Detail: "no file in the upload"}, false},
		{&StatusError{Code: 413}, false},
		{fmt.Errorf("%w (%w)", ErrFatal, &StatusError{Code: 401}), false},
		{context.Canceled, false},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), false},
	}
	for _, tc := range tests {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestReadHashesAnswer: the answer to a hash list is read a comparison at
// a time; what was committed before an error, or before the answer broke
// off, is counted.
func TestReadHashesAnswer(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		items, nw int
		err       string
	}{
		{"whole", `{"comparisons":[{"new":true,"media":{"id":1}},{"new":false}],"items":2}`, 2, 1, ""},
		{"empty", `{"comparisons":[],"items":0}`, 0, 0, ""},
		{"error after a group", `{"comparisons":[{"new":true}],"items":1,"error":{"status":500,"title":"Internal Server Error","request_id":"r1"}}`, 1, 1, "500 Internal Server Error"},
		{"broken off", `{"comparisons":[{"new":true},{"new":tr`, 1, 1, "reading the server's answer"},
		{"not an object", `[1,2]`, 0, 0, "not an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := readHashesAnswer(json.NewDecoder(strings.NewReader(tc.body)))
			if r.Items != tc.items || r.New != tc.nw {
				t.Errorf("%d items, %d new; want %d, %d", r.Items, r.New, tc.items, tc.nw)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}

// FuzzReadHashesAnswer: any answer is read without a panic, and counts no
// more new items than items.
func FuzzReadHashesAnswer(f *testing.F) {
	for _, s := range []string{`{"comparisons":[{"new":true},{"new":false}],"items":2}`, `{"comparisons":[],"error":{"status":500}}`, `{"comparisons":[{"new":tr`, `[]`, `{"x":{"comparisons":[1]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r, _ := readHashesAnswer(json.NewDecoder(strings.NewReader(body)))
		if r.New > r.Items || r.Items < 0 {
			t.Fatalf("%+v", r)
		}
	})
}
