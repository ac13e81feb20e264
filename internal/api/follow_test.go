package api

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/blob"
	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// newNode starts another service over the fixture's database, as a second
// server would: its indexes are loaded from the database, then follow the
// other nodes' changes only through CatchUp.
func newNode(t testing.TB, db *storage.DB) *ivid.Service {
	t.Helper()
	be, err := blob.OpenLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return openService(t, db, be, ivid.Config{Dihedral: true})
}

// TestNodesFollow: two servers over one database. What one does to an
// item's indexed hashes or Baseline state reaches the other's indexes when
// it catches up, not before: new items, Baseline confirmed, a hashes-only
// item given its content (its list's PDQ replaced by the content's), and
// Baseline withdrawn. Catching up again changes nothing, a node skips its
// own changes, and a node started later agrees.
func TestNodesFollow(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Options{})
		a := f.svc
		b := newNode(t, db)
		actor := func(name, agency string) ivid.Actor { return ivid.Actor{User: f.user[name], Agency: f.agency[agency]} }
		fr, de, industry := actor("fr-specialist", "FR"), actor("de-specialist", "DE"), actor("industry", "Acme")
		frCase := f.newCase("fr-specialist", "FR-NODES", ivid.SharingAgency)
		deCase := f.newCase("de-specialist", "DE-NODES", ivid.SharingAgency)
		r := rand.New(rand.NewPCG(5, 5))
		random := func() pdq.Hash { return hamming.Generate(hamming.Uniform, 1, r.Uint64())[0] }
		contribute := func(svc *ivid.Service, who ivid.Actor, c ivid.CaseID, es ...hashset.Entry) []ivid.Comparison {
			t.Helper()
			var out []ivid.Comparison
			if err := svc.ContributeHashes(ctx, who, c, es, ivid.EntryKeys{}, func(cs []ivid.Comparison) error { out = append(out, cs...); return nil }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		// near reports whether svc links a new item with a PDQ 3 bits from
		// h to item id.
		near := func(svc *ivid.Service, h pdq.Hash, id ivid.MediaID) bool {
			t.Helper()
			probe := hamming.FlipBits(h, 3, r)
			c := contribute(svc, de, deCase.ID, hashset.Entry{MD5: fmt.Sprintf("%032x", r.Uint64()), PDQ: &probe})[0]
			return slices.ContainsFunc(c.Links, func(l ivid.LinkFacts) bool { return l.MediaID == id })
		}
		matches := func(svc *ivid.Service, h pdq.Hash) bool {
			t.Helper()
			res, err := svc.Match(ctx, industry, []ivid.MatchQuery{{Type: "pdq", Value: h.String()}})
			if err != nil {
				t.Fatal(err)
			}
			return res[0].Match
		}
		catchUp := func(svc *ivid.Service) int {
			t.Helper()
			n, err := svc.CatchUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Two items on A: X by MD5 and a PDQ; Y, a photo's digests with a
		// PDQ of the list's that is not the photo's.
		photo := scene(t, 50, demo.Original)
		m5, s1 := md5.Sum(photo), sha1.Sum(photo)
		p0, p1 := random(), random()
		cs := contribute(a, fr, frCase.ID,
			hashset.Entry{MD5: fmt.Sprintf("%032x", r.Uint64()), PDQ: &p0},
			hashset.Entry{MD5: hex.EncodeToString(m5[:]), SHA1: hex.EncodeToString(s1[:]), PDQ: &p1})
		x, y := cs[0].Media.ID, cs[1].Media.ID
		if near(b, p0, x) {
			t.Fatal("B linked to X before catching up")
		}
		if n := catchUp(b); n != 2 {
			t.Fatalf("B replayed %d items, want 2", n)
		}
		if n, lag := b.Replayed(); n != 2 || lag <= 0 || lag > time.Minute {
			t.Fatalf("B's replay metrics: %d items, lag %v", n, lag)
		}
		if !near(b, p0, x) || !near(b, p1, y) {
			t.Fatal("B does not link to X and Y after catching up")
		}

		// Baseline, confirmed on A by France and Germany.
		if err := a.Categorise(ctx, fr, []ivid.MediaID{x, y}, hashset.CSAM); err != nil {
			t.Fatal(err)
		}
		for _, id := range []ivid.MediaID{x, y} {
			for _, who := range []ivid.Actor{fr, de} {
				if _, err := a.VoteBaseline(ctx, who, id); err != nil {
					t.Fatal(err)
				}
			}
		}
		if matches(b, p0) {
			t.Fatal("B matched X's PDQ for industry before catching up")
		}
		catchUp(b)
		if !matches(b, p0) || !matches(b, p1) || b.BaselineSize() != 2 {
			t.Fatalf("B after the Baseline: X %v, Y %v, %d items", matches(b, p0), matches(b, p1), b.BaselineSize())
		}

		// Y's content arrives on A: its PDQ is now the photo's.
		if st, res := f.upload("fr-specialist", frCase.ID, map[string][]byte{"y.png": photo}); st != 200 || res[0].Comparison == nil || res[0].Comparison.Media.ID != y {
			t.Fatalf("the photo: %d %+v", st, res)
		}
		got, err := db.Media(ctx, y)
		if err != nil || got.PDQ == nil || *got.PDQ == p1 {
			t.Fatalf("Y after its content: %+v %v", got.PDQ, err)
		}
		p2 := *got.PDQ
		catchUp(b)
		if matches(b, p1) || !matches(b, p2) {
			t.Fatalf("B after Y's content: list's PDQ matches %v, content's %v", matches(b, p1), matches(b, p2))
		}
		if near(b, p1, y) || !near(b, p2, y) {
			t.Fatal("B's match index kept Y's list PDQ, or lacks the content's")
		}

		// X taken out of category 1 on A: out of the Baseline list.
		if err := a.Categorise(ctx, fr, []ivid.MediaID{x}, hashset.NonPertinent); err != nil {
			t.Fatal(err)
		}
		catchUp(b)
		if matches(b, p0) || b.BaselineSize() != 1 || !near(b, p0, x) {
			t.Fatalf("B after X's withdrawal: matches %v, %d Baseline items", matches(b, p0), b.BaselineSize())
		}

		// Again: nothing. A replays only B's items (its probes), once.
		if n := catchUp(b); n != 0 {
			t.Fatalf("B caught up again: %d items", n)
		}
		if n := catchUp(a); n != 6 {
			t.Fatalf("A replayed %d items, want B's 6 probes", n)
		}
		if n := catchUp(a); n != 0 {
			t.Fatalf("A caught up again: %d items", n)
		}
		// An unreadable change is logged and its item replayed as it is
		// now; it does not stop the replays after it. A change older than
		// a day is pruned when a node starts.
		old := time.Now().Add(-25 * time.Hour)
		if err := db.AddIndexChanges(ctx, []ivid.IndexChange{{Node: "elsewhere", Media: x, Before: "{unreadable", Created: time.Now()}, {Node: "elsewhere", Media: y, Created: old}}); err != nil {
			t.Fatal(err)
		}
		if n, err := b.CatchUp(ctx); err != nil || n != 2 || matches(b, p0) || !matches(b, p2) {
			t.Fatalf("B after an unreadable change: %d items, %v", n, err)
		}
		// A node started now agrees, and has nothing to catch up.
		c := newNode(t, db)
		if cs, err := db.IndexChangesSince(ctx, 0, 1<<20); err != nil || slices.ContainsFunc(cs, func(c ivid.IndexChange) bool { return c.Created.Before(old.Add(time.Hour)) }) {
			t.Fatalf("a change older than a day was kept (%v)", err)
		}
		if catchUp(c) != 0 || matches(c, p0) || matches(c, p1) || !matches(c, p2) || c.BaselineSize() != 1 || c.IndexSize() != b.IndexSize() || a.IndexSize() != b.IndexSize() {
			t.Fatalf("a new node: X %v, Y's list PDQ %v, content's %v, %d Baseline items, index %d (A %d, B %d)",
				matches(c, p0), matches(c, p1), matches(c, p2), c.BaselineSize(), c.IndexSize(), a.IndexSize(), b.IndexSize())
		}
	})
}
