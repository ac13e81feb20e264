package api

import (
	"bytes"
	"os"
	"testing"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestMain lets this test binary serve as the decoder workers of
// ivid.Config.Decoders.
func TestMain(m *testing.M) {
	filehash.ServeDecoder()
	os.Exit(m.Run())
}

// TestContributeIsolated: a server that decodes in worker processes
// (ivid serve --isolate-decoders) stores the hashes decoding in process
// gives, and links a mirrored copy by its dihedral hashes.
func TestContributeIsolated(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"a.jpg": scene(t, 5, demo.Original), "b.jpg": scene(t, 5, demo.Mirrored), "c.png": scene(t, 6, demo.Original)}
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		d := filehash.NewDecoders(exe)
		t.Cleanup(func() { d.Close() })
		f := newFixtureWith(t, db, Options{}, ivid.Config{Dihedral: true, Decoders: d})
		cs := f.newCase("fr-specialist", "FR-ISO", ivid.SharingAgency)
		in := filehash.New(filehash.Options{Mode: pdq.Full, Dihedral: true, DecodeLimit: -1})
		var stored []ivid.Media
		// The mirrored copy goes last, in a request of its own, to be
		// compared with its original.
		for _, group := range [][]string{{"a.jpg", "c.png"}, {"b.jpg"}} {
			up := map[string][]byte{}
			for _, n := range group {
				up[n] = files[n]
			}
			st, res := f.upload("fr-specialist", cs.ID, up)
			if st != 200 || len(res) != len(group) {
				t.Fatalf("upload: %d, %d results", st, len(res))
			}
			for i, r := range res {
				b := files[group[i]]
				want, _, err := in.Reader(group[i], bytes.NewReader(b), int64(len(b)))
				if err != nil || r.Status != 200 || r.Comparison == nil {
					t.Fatalf("%s: %d %q (in process: %v)", r.File, r.Status, r.Error, err)
				}
				m := r.Comparison.Media
				if m.SHA256 != want.SHA256 || m.PDQ == nil || *m.PDQ != *want.PDQ || m.Width != want.Width {
					t.Fatalf("%s: stored %+v, in process %+v", r.File, m, want)
				}
				stored = append(stored, m)
				if group[i] == "b.jpg" {
					if l := r.Comparison.Links; len(l) == 0 || l[0].MediaID != stored[0].ID {
						t.Fatalf("the mirrored copy is not linked to its original: %+v", r.Comparison)
					}
				}
			}
		}
	})
}
