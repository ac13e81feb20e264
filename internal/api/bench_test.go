package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// benchPhotos returns n distinct 1600×1067 JPEG photos: contributed
// content must be new each time, or it is only a second submission.
func benchPhotos(b *testing.B, n int) [][]byte {
	photos := make([][]byte, n)
	for i := range photos {
		p, _, err := demo.Encode(demo.Apply(demo.Scene(i+1, 1600, 1067), demo.Brighter), demo.Brighter)
		if err != nil {
			b.Fatal(err)
		}
		photos[i] = p
	}
	return photos
}

// BenchmarkContribute contributes photos through the API, one request of
// one file an operation (hash, encrypt, store in a pack, record in SQLite,
// index, compare, answer), beside hashing the same photos alone: the ratio
// of the two is the contribution's overhead on one request at a time,
// without the overlap of hashing and committing that 'ivid bench ingest'
// measures. The photos and the request bodies are made before the clock
// starts.
func BenchmarkContribute(b *testing.B) {
	b.Run("hash", func(b *testing.B) {
		photos := benchPhotos(b, b.N)
		h := filehash.New(filehash.Options{Dihedral: true})
		b.ResetTimer()
		for _, p := range photos {
			if _, _, err := h.Reader("photo.jpg", bytes.NewReader(p), int64(len(p))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("contribute", func(b *testing.B) {
		f := newFixture(b, storagetest.SQLite(b), Options{})
		c := f.newCase("fr-specialist", "BENCH", ivid.SharingAgency)
		url := f.ts.URL + "/api/v1/cases/" + itoa(int64(c.ID)) + "/media"
		type upload struct {
			body        *bytes.Buffer
			contentType string
		}
		var uploads []upload
		for _, p := range benchPhotos(b, b.N) {
			body := new(bytes.Buffer)
			mw := multipart.NewWriter(body)
			w, _ := mw.CreateFormFile("file", "photo.jpg")
			w.Write(p)
			mw.Close()
			uploads = append(uploads, upload{body, mw.FormDataContentType()})
		}
		b.ResetTimer()
		for i, u := range uploads {
			req, _ := http.NewRequest("POST", url, u.body)
			req.Header.Set("Content-Type", u.contentType)
			req.Header.Set("Authorization", "Bearer "+f.token["fr-specialist"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var r contributeResult
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || r.Status != 200 || r.Comparison == nil || !r.Comparison.New {
				b.Fatalf("photo %d: %d %+v %v", i, resp.StatusCode, r, err)
			}
		}
	})
}

// BenchmarkMatch sends the industry match API requests of 10 PDQ hashes,
// half of them near an indexed one, against a Baseline index of a million
// synthetic hashes ('ivid bench match-api' loads it from many clients at
// 10 million).
func BenchmarkMatch(b *testing.B) {
	f := newFixture(b, storagetest.SQLite(b), Options{})
	f.srv.SetIndustryRate(1e9)
	codes := hamming.Generate(hamming.Clustered, 1_000_000, 1)
	f.svc.SeedBaselineIndex(1<<40, codes)
	r := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, 1000)
	for i := range bodies {
		qs := make([]ivid.MatchQuery, 10)
		for j := range qs {
			h := hamming.FlipBits(codes[r.IntN(len(codes))], r.IntN(20), r)
			if j%2 == 1 {
				h = hamming.Generate(hamming.Uniform, 1, r.Uint64())[0]
			}
			qs[j] = ivid.MatchQuery{Type: "pdq", Value: h.String()}
		}
		bodies[i], _ = json.Marshal(map[string]any{"hashes": qs})
	}
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest("POST", f.ts.URL+"/api/v1/match", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Authorization", "Bearer "+f.token["industry"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkContributeHashes contributes an ICSE hash list of new MD5 and
// SHA-1 pairs an operation, a group commit's (ivid.HashGroup), on SQLite,
// and on PostgreSQL when IVID_TEST_POSTGRES is set; 'ivid bench hashlist'
// does the same at any size.
func BenchmarkContributeHashes(b *testing.B) {
	for _, e := range storagetest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			f := newFixture(b, e.Open(b), Options{})
			c := f.newCase("fr-specialist", "BENCH", ivid.SharingAgency)
			r := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				lines := make([]string, ivid.HashGroup)
				for i := range lines {
					lines[i] = icseLine(fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), fmt.Sprintf("%016x%016x%08x", r.Uint64(), r.Uint64(), r.Uint32()), "bench")
				}
				if cs := f.contributeList("fr-specialist", c.ID, lines...); len(cs) != len(lines) || !cs[0].New {
					b.Fatalf("%d comparisons", len(cs))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(ivid.HashGroup*b.N), "µs/entry")
		})
	}
}

// BenchmarkCatchUp replays on a second node, an operation, a group of
// ivid.HashGroup new items with a PDQ hash each, contributed on the first
// (not timed), on SQLite, and on PostgreSQL when IVID_TEST_POSTGRES is
// set; 'ivid bench hashlist' prints the same for its list.
func BenchmarkCatchUp(b *testing.B) {
	for _, e := range storagetest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			ctx := context.Background()
			db := e.Open(b)
			f := newFixture(b, db, Options{})
			other := newNode(b, db)
			c := f.newCase("fr-specialist", "BENCH", ivid.SharingAgency)
			fr := ivid.Actor{User: f.user["fr-specialist"], Agency: f.agency["FR"]}
			r := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				b.StopTimer()
				es := make([]hashset.Entry, ivid.HashGroup)
				for i, h := range hamming.Generate(hamming.Uniform, len(es), r.Uint64()) {
					es[i] = hashset.Entry{MD5: fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), PDQ: &h}
				}
				if err := f.svc.ContributeHashes(ctx, fr, c.ID, es, ivid.EntryKeys{}, func([]ivid.Comparison) error { return nil }); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if n, err := other.CatchUp(ctx); err != nil || n != len(es) {
					b.Fatalf("replayed %d items (%v), want %d", n, err, len(es))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(ivid.HashGroup*b.N), "µs/item")
		})
	}
}
