package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkContributeFiles measures the client's side of a contribution:
// 64 files of 240 kB (a 1600×1067 JPEG's size) a request to a loopback
// server that reads each part and answers it without hashing or storing.
func BenchmarkContributeFiles(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		http.NewResponseController(w).EnableFullDuplex()
		enc := json.NewEncoder(w)
		for i := 0; ; i++ {
			p, err := mr.NextPart()
			if err != nil {
				io.Copy(io.Discard, r.Body)
				return
			}
			io.Copy(io.Discard, p)
			enc.Encode(map[string]any{"part": i, "status": 200, "comparison": map[string]any{"new": true}})
		}
	}))
	defer srv.Close()
	dir := b.TempDir()
	var paths []string
	data := make([]byte, 240<<10)
	for i := range 64 {
		rand.Read(data)
		p := filepath.Join(dir, fmt.Sprintf("%02d.jpg", i))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	c := &Client{Base: srv.URL, Token: "ivid_bench"}
	b.SetBytes(int64(len(paths) * len(data)))
	for b.Loop() {
		n := 0
		err := c.ContributeFiles(context.Background(), 1, paths, func(_ string, _ Result, err error) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		})
		if err != nil || n != len(paths) {
			b.Fatalf("%d of %d answered: %v", n, len(paths), err)
		}
	}
}
