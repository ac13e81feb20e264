package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// fuzzAPI is a fixture whose server logs to a buffer, to catch a panic
// the handlers' recover would otherwise turn into a 500.
type fuzzAPI struct {
	*fixture
	mu  sync.Mutex
	log bytes.Buffer
	cs  ivid.Case
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	fa := &fuzzAPI{}
	log := slog.New(slog.NewTextHandler(fa, nil))
	fa.fixture = newFixture(f, storagetest.SQLite(f), Options{Log: log})
	fa.cs = fa.newCase("fr-specialist", "FR-FUZZ", ivid.SharingAgency)
	return fa
}

// Write is the server log's.
func (fa *fuzzAPI) Write(p []byte) (int, error) {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return fa.log.Write(p)
}

// serve runs one request in process as user and checks what every answer
// must be, whatever the body: no server error, no panic, and for a
// contribution one line per part, each part answered once.
func (fa *fuzzAPI) serve(t *testing.T, user, method, path, contentType string, body []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fa.token[user])
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	fa.srv.Handler().ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code == 200 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/x-ndjson") {
		seen := map[int]bool{}
		sc := bufio.NewScanner(rec.Body)
		for sc.Scan() {
			var r contributeResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("result line %q: %v", sc.Bytes(), err)
			}
			if r.Status >= 500 || seen[r.Part] {
				t.Fatalf("result %+v (parts seen %v)", r, seen)
			}
			seen[r.Part] = true
		}
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if strings.Contains(fa.log.String(), "panic") {
		t.Fatalf("the server panicked:\n%s", fa.log.String())
	}
	fa.log.Reset()
}

// FuzzContributeBody: any multipart body of a contribution.
func FuzzContributeBody(f *testing.F) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary("fuzzboundary")
	for i, name := range []string{"a.png", "b.jpg"} {
		w, _ := mw.CreateFormFile("file", name)
		b, _, _ := demo.Encode(demo.Scene(40+i, 64, 48), demo.Variants[i])
		w.Write(b)
	}
	mw.WriteField("note", "x")
	mw.Close()
	whole := buf.Bytes()
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add(whole[:len(whole)-10])
	f.Add([]byte("--fuzzboundary--\r\n"))
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x.png\"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--fuzzboundary--\r\n"))
	// Keys: in a field before a file, and in a part's header, the same key
	// on two contents (a conflict) and a file sent twice.
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	mw.SetBoundary("fuzzboundary")
	png, _, _ := demo.Encode(demo.Scene(44, 64, 48), demo.Original)
	jpg, _, _ := demo.Encode(demo.Scene(45, 64, 48), demo.Variants[1])
	mw.WriteField("idempotency_key", "k1")
	w, _ := mw.CreateFormFile("file", "a.png")
	w.Write(png)
	for _, p := range []struct {
		key  string
		data []byte
	}{{"k1", jpg}, {"k2", png}, {"k2", png}, {"bad key", jpg}} {
		w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="file"; filename="k.png"`}, "Idempotency-Key": {p.key}})
		w.Write(p.data)
	}
	mw.Close()
	f.Add(bytes.Clone(buf.Bytes()))
	fa := newFuzzAPI(f)
	path := "/api/v1/cases/" + itoa(int64(fa.cs.ID)) + "/media"
	f.Fuzz(func(t *testing.T, body []byte) {
		fa.serve(t, "fr-specialist", "POST", path, "multipart/form-data; boundary=fuzzboundary", body)
	})
}

// FuzzMatchBody: any body of an industry match request.
func FuzzMatchBody(f *testing.F) {
	f.Add([]byte(`{"hashes":[{"type":"pdq","value":"` + strings.Repeat("f0", 32) + `"},{"type":"md5","value":"` + strings.Repeat("a", 32) + `"}]}`))
	f.Add([]byte(`{"hashes":[{"type":"sha1","value":"zz"}]}`))
	f.Add([]byte(`{"hashes":null}`))
	f.Add([]byte(`[`))
	fa := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fa.serve(t, "industry", "POST", "/api/v1/match", "application/json", body)
	})
}

// FuzzHashesBody: any body of a hashes-only contribution, as VICS JSON,
// CSV or ivid's own format.
func FuzzHashesBody(f *testing.F) {
	f.Add([]byte(`{"value":[{"MD5":"`+strings.Repeat("b", 32)+`","Category":1}]}`), false)
	f.Add([]byte(`{"ivid_hashset":"1","name":"x"}`+"\n"+`{"md5":"`+strings.Repeat("e", 32)+`","category":1,"label":"a"}`+"\n"), false)
	f.Add([]byte("MD5;SHA1;Category\n"+strings.Repeat("c", 32)+";;2\n"), true)
	f.Add([]byte(strings.Repeat("d", 32)+"\n"), true)
	fa := newFuzzAPI(f)
	path := "/api/v1/cases/" + itoa(int64(fa.cs.ID)) + "/hashes"
	f.Fuzz(func(t *testing.T, body []byte, csv bool) {
		ct := "application/json"
		if csv {
			ct = "text/csv"
		}
		fa.serve(t, "fr-specialist", "POST", path, ct, body)
	})
}
