package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestContributeKeepAlive: a contribution whose chunked body ends after
// the server has read its last part (the client sends the closing chunk
// later, as Go's own client sometimes does) leaves the connection fit for
// the next request. Reading that chunk only once the handler had returned
// made net/http read the connection twice at once (golang/go#68560): the
// server panicked and dropped the connection, and the client's next
// contribution failed with "connection reset by peer".
func TestContributeKeepAlive(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-KEEPALIVE", ivid.SharingAgency)
		conn, err := net.Dial("tcp", f.ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(conn)

		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreateFormFile("file", "a.png")
		w.Write(scene(t, 31, demo.Original))
		mw.Close()
		fmt.Fprintf(conn, "POST /api/v1/cases/%d/media HTTP/1.1\r\nHost: ivid\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n",
			c.ID, f.token["fr-specialist"], mw.FormDataContentType(), body.Len(), body.Bytes())

		// The part is answered before the body's last chunk is sent.
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("contribution: %d", resp.StatusCode)
		}
		results := bufio.NewReader(resp.Body)
		line, err := results.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reading the first result: %v", err)
		}
		var r contributeResult
		if err := json.Unmarshal(line, &r); err != nil || r.Part != 0 || r.Comparison == nil {
			t.Fatalf("first result %q: %v", line, err)
		}
		io.WriteString(conn, "0\r\n\r\n")
		// Let the server read the last chunk before the next request comes.
		time.Sleep(100 * time.Millisecond)
		if rest, err := io.ReadAll(results); err != nil || len(bytes.TrimSpace(rest)) != 0 {
			t.Fatalf("the rest of the answer: %q, %v", rest, err)
		}

		io.WriteString(conn, "GET /livez HTTP/1.1\r\nHost: ivid\r\n\r\n")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the next request on the connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("the next request on the connection: %d", resp.StatusCode)
		}
	})
}

// TestContributeDecodeLimit: an image whose decoding passes the server's
// time limit is answered with a client error naming the limit, and nothing
// of it is stored. A 12-megapixel JPEG takes tens of milliseconds to
// decode; the limit here is a nanosecond.
func TestContributeDecodeLimit(t *testing.T) {
	var big bytes.Buffer
	if err := jpeg.Encode(&big, demo.Scene(33, 4000, 3000), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixtureWith(t, db, Options{}, ivid.Config{Dihedral: true, DecodeLimit: time.Nanosecond})
		c := f.newCase("fr-specialist", "FR-LIMIT", ivid.SharingAgency)
		st, res := f.upload("fr-specialist", c.ID, map[string][]byte{"big.jpg": big.Bytes()})
		if st != 200 || len(res) != 1 || res[0].Status != 400 || !strings.Contains(res[0].Error, "time limit") || res[0].Comparison != nil {
			t.Fatalf("upload: %d %+v", st, res)
		}
		if n := f.countBlobs(); n != 0 {
			t.Fatalf("%d blobs stored", n)
		}
		metrics, _ := io.ReadAll(f.do("hub-admin", "GET", "/metrics", nil, "").Body)
		if !strings.Contains(string(metrics), "ivid_image_decodings_abandoned_total 1\n") {
			t.Fatalf("metrics:\n%s", metrics)
		}
	})
}

// TestLivenessStuckDecodings: while image decodings abandoned at the time
// limit still run on every hashing processor, /livez fails (so that an
// orchestrator restarts the server, which Go cannot do to a decoding) and
// /metrics counts them; when they end, it passes again. An 80-megapixel
// JPEG decodes for about a second after the nanosecond limit.
func TestLivenessStuckDecodings(t *testing.T) {
	big := image.NewGray(image.Rect(0, 0, 10000, 8000))
	for y := range 8000 {
		for x := range 10000 {
			big.Pix[y*big.Stride+x] = uint8(x ^ y)
		}
	}
	var data bytes.Buffer
	if err := jpeg.Encode(&data, big, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixtureWith(t, db, Options{Hashers: 1}, ivid.Config{Dihedral: true, DecodeLimit: time.Nanosecond})
		c := f.newCase("fr-specialist", "FR-STUCK", ivid.SharingAgency)
		if resp := f.do("", "GET", "/livez", nil, ""); resp.StatusCode != 200 {
			t.Fatalf("/livez before: %d", resp.StatusCode)
		}
		st, res := f.upload("fr-specialist", c.ID, map[string][]byte{"big.jpg": data.Bytes()})
		if st != 200 || len(res) != 1 || res[0].Status != 400 {
			t.Fatalf("upload: %d %+v", st, res)
		}
		if resp := f.do("", "GET", "/livez", nil, ""); resp.StatusCode != 503 {
			t.Fatalf("/livez with the only hasher's decoding stuck: %d, want 503", resp.StatusCode)
		}
		metrics, _ := io.ReadAll(f.do("hub-admin", "GET", "/metrics", nil, "").Body)
		if !strings.Contains(string(metrics), "ivid_image_decodings_stuck 1\n") {
			t.Fatalf("metrics:\n%s", metrics)
		}
		start := time.Now()
		for f.do("", "GET", "/livez", nil, "").StatusCode != 200 {
			if time.Since(start) > time.Minute {
				t.Fatal("/livez still failing a minute after")
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("the decoding ended %v after the answer", time.Since(start).Round(time.Millisecond))
		metrics, _ = io.ReadAll(f.do("hub-admin", "GET", "/metrics", nil, "").Body)
		if !strings.Contains(string(metrics), "ivid_image_decodings_stuck 0\n") {
			t.Fatalf("metrics after:\n%s", metrics)
		}
	})
}

// TestContributeGroupCommit: while every hasher has a part of the request
// to hash, items ready are committed together (one sync for several), and
// every one is still answered and stored; an upload with nothing more to
// hash is committed at once, not after the group's wait (a minute here).
func TestContributeGroupCommit(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db, Options{Hashers: 2, GroupWait: time.Minute})
		c := f.newCase("fr-specialist", "FR-GROUP", ivid.SharingAgency)
		files := map[string][]byte{}
		for i := range 12 {
			files[fmt.Sprintf("scene-%02d.png", i)] = scene(t, 40+i, demo.Original)
		}
		st, res := f.upload("fr-specialist", c.ID, files)
		if st != 200 || len(res) != len(files) {
			t.Fatalf("upload: %d, %d results", st, len(res))
		}
		for _, r := range res {
			if r.Status != 200 || r.Comparison == nil || !r.Comparison.New {
				t.Fatalf("result %+v", r)
			}
		}
		if n := f.countBlobs(); n != len(files) {
			t.Fatalf("%d blobs stored, want %d", n, len(files))
		}
		commits, items := f.srv.commits.Load(), f.srv.committed.Load()
		// 8 at most a group: 2 commits at best, and 1 or 2 more where the
		// request's end leaves a hasher idle.
		t.Logf("%d items in %d commits", items, commits)
		if items != int64(len(files)) || commits > 4 {
			t.Fatalf("%d items committed in %d commits, want %d in at most 4", items, commits, len(files))
		}
		metrics, _ := io.ReadAll(f.do("hub-admin", "GET", "/metrics", nil, "").Body)
		if want := fmt.Sprintf("ivid_contribution_commits_total %d\n", commits); !strings.Contains(string(metrics), want) {
			t.Fatalf("metrics, want %q:\n%s", want, metrics)
		}

		start := time.Now()
		st, res = f.upload("fr-specialist", c.ID, map[string][]byte{"alone.png": scene(t, 60, demo.Original)})
		if st != 200 || len(res) != 1 || res[0].Comparison == nil {
			t.Fatalf("single upload: %d %+v", st, res)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("a single file answered after %v: it waited for a group", d)
		}
		if got := f.srv.commits.Load(); got != commits+1 {
			t.Fatalf("commits %d after a single file, want %d", got, commits+1)
		}
	})
}

// TestUploadSentAgain: a file whose part carries an Idempotency-Key, sent
// again to the same case (its answer lost), adds no submission and no
// audit record and is answered as the first time; the same key on other
// content is a conflict, a malformed key is refused, and a file without a
// key is a submission each time. A browser's form gives the key in a field
// before the file.
func TestUploadSentAgain(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		c := f.newCase("fr-specialist", "FR-FILES-AGAIN", ivid.SharingAgency)
		a, b, other := scene(t, 31, demo.Original), scene(t, 32, demo.Original), scene(t, 33, demo.Original)
		parts := []part{{name: "a.png", key: "file-a", data: a}, {name: "b.png", data: b}}
		st, first := f.uploadParts("fr-specialist", c.ID, parts)
		if st != 200 || len(first) != 2 || first[0].Comparison == nil || !first[0].Comparison.New {
			t.Fatalf("first upload: %d %+v", st, first)
		}
		seq, _, _ := db.AuditMark(ctx)
		parts = append(parts,
			part{name: "c.png", key: "file-a", data: other}, // another file under a's key
			part{name: "d.png", key: "bad key", data: other})
		st, again := f.uploadParts("fr-specialist", c.ID, parts)
		if st != 200 || len(again) != 4 {
			t.Fatalf("sent again: %d %+v", st, again)
		}
		if r := again[0]; r.Comparison == nil || !r.Comparison.New || r.Comparison.Submissions != 1 || r.Comparison.Media.ID != first[0].Comparison.Media.ID {
			t.Fatalf("a.png sent again: %+v, want it answered as new, with its one submission", r)
		}
		if r := again[1]; r.Comparison == nil || r.Comparison.New || r.Comparison.Submissions != 2 {
			t.Fatalf("b.png without a key: %+v, want a second submission", r)
		}
		if again[2].Status != 409 || again[3].Status != 400 {
			t.Fatalf("other content under a's key: %d; a malformed key: %d; want 409 and 400", again[2].Status, again[3].Status)
		}
		if n := f.submissions(c.ID); n != 3 {
			t.Fatalf("%d submissions, want 3 (a once, b twice)", n)
		}
		if after, _, _ := db.AuditMark(ctx); after != seq+1 {
			t.Fatalf("the trail grew by %d records, want 1 (b's)", after-seq)
		}
		// One key twice in one request: the same content once; of two
		// contents, the one committed first is taken (a request's files
		// are committed as their hashing ends) and the other refused.
		x, y, z := scene(t, 34, demo.Original), scene(t, 35, demo.Original), scene(t, 36, demo.Original)
		before := f.submissions(c.ID)
		st, twice := f.uploadParts("fr-specialist", c.ID, []part{{"x1.png", "dup", x}, {"x2.png", "dup", x}, {"y.png", "dup2", y}, {"z.png", "dup2", z}})
		if st != 200 || len(twice) != 4 || twice[0].Status != 200 || twice[1].Status != 200 || twice[2].Status+twice[3].Status != 200+409 {
			t.Fatalf("a key twice in a request: %d %+v", st, twice)
		}
		if !twice[0].Comparison.New || !twice[1].Comparison.New || twice[1].Comparison.Submissions != 1 || f.submissions(c.ID) != before+2 {
			t.Fatalf("a key twice in a request: %+v, %d submissions added, want 2", twice[1].Comparison, f.submissions(c.ID)-before)
		}
		// As a browser's form sends it: the key in a field before the file.
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("idempotency_key", "file-a")
		w, _ := mw.CreateFormFile("file", "a.png")
		w.Write(a)
		mw.Close()
		resp := f.do("fr-specialist", "POST", "/api/v1/cases/"+itoa(int64(c.ID))+"/media", &body, mw.FormDataContentType())
		var r contributeResult
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Comparison == nil || !r.Comparison.New || r.Comparison.Submissions != 1 {
			t.Fatalf("a.png keyed by a form field: %+v %v", r, err)
		}
		if n := f.submissions(c.ID); n != 5 {
			t.Fatalf("after the form's key: %d submissions, want 5", n)
		}
		if _, err := ivid.VerifyTrail(ctx, db); err != nil {
			t.Fatal(err)
		}
	})
}
