package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
	"github.com/ivid-project/ivid/internal/vpdq"
)

func TestStorage(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 28, 10, 0, 0, 123000, time.UTC)
		if n, err := db.Migrate(ctx); err != nil || n != 0 {
			t.Fatalf("second migration ran %d steps: %v", n, err)
		}
		have, want, err := db.Version(ctx)
		if err != nil || have != want || have < 1 {
			t.Fatalf("version %d/%d: %v", have, want, err)
		}

		fr := ivid.Agency{Name: "OCRVP", Country: "FR", Kind: ivid.NationalUnit, Created: now}
		if err := db.CreateAgency(ctx, &fr); err != nil || fr.ID == 0 {
			t.Fatalf("agency: %v", err)
		}
		if err := db.CreateAgency(ctx, &ivid.Agency{Name: "OCRVP", Kind: ivid.NationalUnit, Created: now}); err == nil {
			t.Fatal("duplicate agency name accepted")
		}
		u := ivid.User{AgencyID: fr.ID, Name: "alice", Roles: ivid.Roles{ivid.RoleSpecialist}, PasswordHash: "h", Created: now}
		if err := db.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		u.TOTPEnabled, u.TOTPSecret = true, "SECRET"
		if err := db.UpdateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		got, err := db.UserByName(ctx, "alice")
		if err != nil || !got.TOTPEnabled || got.TOTPSecret != "SECRET" || !got.Roles.Has(ivid.RoleSpecialist) || !got.Created.Equal(now) {
			t.Fatalf("user %+v: %v", got, err)
		}
		if _, err := db.UserByName(ctx, "bob"); !errors.Is(err, ivid.ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		if err := db.CreateSession(ctx, ivid.Session{Hash: "s1", UserID: u.ID, Created: now, Expires: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ss, err := db.Session(ctx, "s1")
		if err != nil || ss.MFA || !ss.Expires.Equal(now.Add(time.Hour)) {
			t.Fatalf("session %+v %v", ss, err)
		}
		tok := ivid.Token{UserID: u.ID, Hash: "th", Name: "cli", Created: now}
		if err := db.CreateToken(ctx, &tok); err != nil {
			t.Fatal(err)
		}
		if tt, err := db.TokenByHash(ctx, "th"); err != nil || tt.ID != tok.ID || tt.Expires != nil {
			t.Fatalf("token %+v %v", tt, err)
		}

		c := ivid.Case{AgencyID: fr.ID, Reference: "2026/001", Sharing: ivid.SharingAgency, CreatedBy: u.ID, Created: now}
		if err := db.CreateCase(ctx, &c); err != nil {
			t.Fatal(err)
		}
		h, _ := pdq.ParseHex("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
		lat, lon := 48.85, 2.35
		ct := now.Add(-time.Hour)
		m := ivid.Media{SHA256: "aa", MD5: "m5", SHA1: "s1", Kind: ivid.Image, MIME: "image/jpeg", Size: 10, Width: 4, Height: 3,
			PDQ: &h, Quality: 90, Stored: true, CameraSerial: "SN1", CaptureTime: &ct, Lat: &lat, Lon: &lon,
			Category: hashset.Uncategorised, Created: now}
		if err := db.CreateMedia(ctx, &m); err != nil {
			t.Fatal(err)
		}
		v := ivid.Media{SHA256: "bb", MD5: "m6", SHA1: "s2", Kind: ivid.Video, MIME: "video/mp4", Duration: 2.5, Category: hashset.CSAM, Created: now,
			VPDQ:        []vpdq.Frame{{Number: 0, Quality: 100, Hash: h, Timestamp: 0}, {Number: 30, Quality: 80, Hash: h, Timestamp: 1}},
			VPDQCropped: []vpdq.Frame{{Number: 0, Quality: 99, Hash: h, Timestamp: 0}}}
		if err := db.CreateMedia(ctx, &v); err != nil {
			t.Fatal(err)
		}
		gm, err := db.MediaBySHA256(ctx, "aa")
		if err != nil || *gm.PDQ != h || *gm.Lat != lat || !gm.CaptureTime.Equal(ct) || gm.CameraSerial != "SN1" || !gm.Stored {
			t.Fatalf("media %+v %v", gm, err)
		}
		gv, _ := db.Media(ctx, v.ID)
		if len(gv.VPDQ) != 2 || gv.VPDQ[1].Number != 30 || len(gv.VPDQCropped) != 1 || gv.VPDQCropped[0].Quality != 99 || gv.PDQ != nil || gv.Category != hashset.CSAM {
			t.Fatalf("video %+v", gv)
		}
		if ms, _ := db.MediaByDigest(ctx, "", "s2"); len(ms) != 1 || ms[0].ID != v.ID {
			t.Fatalf("by sha1: %v", ms)
		}
		if ms, _ := db.MediaByDigest(ctx, "", ""); len(ms) != 0 {
			t.Fatal("empty digests matched")
		}
		if ms, _ := db.MediaBySerial(ctx, "SN1"); len(ms) != 1 {
			t.Fatal("by serial")
		}
		if ms, _ := db.MediaInBox(ctx, 48.8, 48.9, 2.3, 2.4); len(ms) != 1 {
			t.Fatal("in box")
		}
		if err := db.AddSubmission(ctx, &ivid.Submission{MediaID: m.ID, CaseID: c.ID, AgencyID: fr.ID, UserID: u.ID, FileName: "a.jpg", Created: now}); err != nil {
			t.Fatal(err)
		}
		if ms, _ := db.MediaInCase(ctx, c.ID); len(ms) != 1 || ms[0].ID != m.ID {
			t.Fatal("media in case")
		}
		if ms, _ := db.Uncategorised(ctx, fr.ID, 10); len(ms) != 1 {
			t.Fatal("uncategorised")
		}

		s := ivid.Series{Name: "S-1", Status: ivid.Unidentified, AgencyID: fr.ID, Created: now}
		if err := db.CreateSeries(ctx, &s); err != nil {
			t.Fatal(err)
		}
		m.SeriesID, m.Category = s.ID, hashset.CSAM
		if err := db.UpdateMedia(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if ms, _ := db.MediaInSeries(ctx, s.ID); len(ms) != 1 {
			t.Fatal("media in series")
		}
		cl := ivid.Claim{SeriesID: s.ID, AgencyID: fr.ID, UserID: u.ID, Since: now}
		db.CreateClaim(ctx, &cl)
		if cs, _ := db.Claims(ctx, s.ID); len(cs) != 1 {
			t.Fatal("claims")
		}
		db.ReleaseClaim(ctx, cl.ID, now)
		if cs, _ := db.Claims(ctx, 0); len(cs) != 0 {
			t.Fatal("released claim still active")
		}
		vi := ivid.Victim{SeriesID: s.ID, Identified: true, AgencyID: fr.ID, IdentifiedAt: &now, AgeGroup: "prepubescent", Sex: "female"}
		db.CreateVictim(ctx, &vi)
		if vs, _ := db.Victims(ctx, 0); len(vs) != 1 || !vs[0].Identified || vs[0].AgencyID != fr.ID {
			t.Fatalf("victims %v", vs)
		}
		of := ivid.Offender{SeriesID: s.ID, Notice: ivid.GreenNotice, NoticeRef: "G-1"}
		db.CreateOffender(ctx, &of)
		if os, _ := db.Offenders(ctx, s.ID); len(os) != 1 || os[0].Identified || os[0].NoticeRef != "G-1" {
			t.Fatalf("offenders %v", os)
		}
		db.CreateClue(ctx, &ivid.Clue{MediaID: m.ID, AgencyID: fr.ID, UserID: u.ID, Text: "shop sign", Tags: []string{"text", "fr"}, Rect: &ivid.Rect{X: 1, Y: 2, W: 3, H: 4}, Created: now})
		if cs, _ := db.Clues(ctx, m.ID); len(cs) != 1 || cs[0].Rect.W != 3 || cs[0].Tags[1] != "fr" {
			t.Fatalf("clues %v", cs)
		}
		db.AddBaselineVote(ctx, m.ID, fr.ID, u.ID, now)
		if err := db.AddBaselineVote(ctx, m.ID, fr.ID, u.ID, now); err != nil {
			t.Fatalf("repeated vote: %v", err)
		}
		if vs, _ := db.BaselineVotes(ctx, m.ID); len(vs) != 1 {
			t.Fatalf("votes %v", vs)
		}

		// The audit trail appends under the head's lock and reads back in order.
		for range 3 {
			appendRecords(t, db, now, 1)
		}
		if n, seq := verifyTrail(t, db); n != 3 || seq != 3 {
			t.Fatalf("audit: %d records, head %d", n, seq)
		}
		// A failed transaction leaves nothing.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx ivid.Tx) error {
			tx.CreateAgency(ctx, &ivid.Agency{Name: "ghost", Kind: ivid.NationalUnit, Created: now})
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if as, _ := db.Agencies(ctx); len(as) != 1 {
			t.Fatalf("rolled-back agency visible: %v", as)
		}
	})
}

// TestBatches covers the queries that take many rows or values at once:
// their statements are cut into parts (64 audit rows, 256 values) and
// padded to powers of two, and what they return must not show it.
func TestBatches(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		fr := ivid.Agency{Name: "OCRVP", Country: "FR", Kind: ivid.NationalUnit, Created: now}
		db.CreateAgency(ctx, &fr)
		u := ivid.User{AgencyID: fr.ID, Name: "alice", Roles: ivid.Roles{ivid.RoleSpecialist}, PasswordHash: "h", Created: now}
		db.CreateUser(ctx, &u)
		c := ivid.Case{AgencyID: fr.ID, Reference: "2026/002", Sharing: ivid.SharingAgency, CreatedBy: u.ID, Created: now}
		db.CreateCase(ctx, &c)

		// 300 items: every third known by SHA-256, the others by MD5 and
		// SHA-1 alone; each with i%3+1 submissions.
		const n = 300
		var ids []ivid.MediaID
		var sha256s, md5s, sha1s []string
		for i := range n {
			m := ivid.Media{MD5: fmt.Sprintf("md5-%d", i), SHA1: fmt.Sprintf("sha1-%d", i), Kind: ivid.Image, MIME: "image/jpeg", Category: hashset.Uncategorised, Created: now}
			if i%3 == 0 {
				m.SHA256 = fmt.Sprintf("sha256-%d", i)
			}
			if err := db.CreateMedia(ctx, &m); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
			for range i%3 + 1 {
				if err := db.AddSubmission(ctx, &ivid.Submission{MediaID: m.ID, CaseID: c.ID, AgencyID: fr.ID, UserID: u.ID, Created: now}); err != nil {
					t.Fatal(err)
				}
			}
			switch {
			case i%3 == 0:
				sha256s = append(sha256s, m.SHA256)
			case i%2 == 0:
				md5s = append(md5s, m.MD5)
			default:
				sha1s = append(sha1s, m.SHA1)
			}
		}
		// Each item named once, one twice (by MD5 and SHA-1), plus digests
		// of nothing and empty ones.
		md5s = append(md5s, "md5-3", "md5-none", "")
		sha1s = append(sha1s, "sha1-3", "")
		ms, err := db.MediaByDigests(ctx, sha256s, md5s, sha1s)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != n {
			t.Fatalf("MediaByDigests: %d items, want %d", len(ms), n)
		}
		for i, m := range ms {
			if m.ID != ids[i] {
				t.Fatalf("MediaByDigests: item %d is %d, want %d (by ID, each once)", i, m.ID, ids[i])
			}
		}
		if ms, err := db.MediaByDigests(ctx, nil, []string{"md5-1"}, nil); err != nil || len(ms) != 1 || ms[0].ID != ids[1] {
			t.Fatalf("MediaByDigests of one MD5: %v %v", ms, err)
		}
		if ms, err := db.MediaByDigests(ctx, nil, []string{""}, nil); err != nil || len(ms) != 0 {
			t.Fatalf("MediaByDigests of empty digests: %v %v", ms, err)
		}

		subs, err := db.SubmissionsOf(ctx, append(ids, ids[0], ids[5]))
		if err != nil {
			t.Fatal(err)
		}
		per := map[ivid.MediaID]int{}
		for k, sub := range subs {
			per[sub.MediaID]++
			if k > 0 && sub.ID <= subs[k-1].ID {
				t.Fatal("SubmissionsOf: not in order of ID")
			}
		}
		for i, id := range ids {
			if per[id] != i%3+1 {
				t.Fatalf("SubmissionsOf: item %d has %d submissions, want %d", i, per[id], i%3+1)
			}
		}
		if subs, err := db.SubmissionsOf(ctx, ids[2:3]); err != nil || len(subs) != 3 {
			t.Fatalf("SubmissionsOf one item: %v %v", subs, err)
		}

		// 100 items created in statements of 32+32+32+4 rows, some sharing
		// an MD5 (one with a SHA-256, one without), then a submission each
		// in statements of 64+32+4: every item gets its own ID back.
		var batch []*ivid.Media
		for i := range 100 {
			m := &ivid.Media{MD5: fmt.Sprintf("batch-md5-%d", i/2), Kind: ivid.Image, MIME: "image/jpeg", Category: hashset.Uncategorised, Created: now}
			if i%2 == 1 {
				m.SHA256 = fmt.Sprintf("batch-sha256-%d", i)
			}
			batch = append(batch, m)
		}
		if err := db.CreateMediaItems(ctx, batch); err != nil {
			t.Fatal(err)
		}
		var newSubs []ivid.Submission
		for _, m := range batch {
			got, err := db.Media(ctx, m.ID)
			if err != nil || got.MD5 != m.MD5 || got.SHA256 != m.SHA256 {
				t.Fatalf("item %d: %q %q, want %q %q (%v)", m.ID, got.MD5, got.SHA256, m.MD5, m.SHA256, err)
			}
			newSubs = append(newSubs, ivid.Submission{MediaID: m.ID, CaseID: c.ID, AgencyID: fr.ID, UserID: u.ID, FileName: "list.csv", Created: now,
				Key: fmt.Sprintf("list-k/%d", len(newSubs))})
		}
		if err := db.AddSubmissions(ctx, newSubs); err != nil {
			t.Fatal(err)
		}
		for i, m := range batch[:3] {
			if subs, err := db.Submissions(ctx, m.ID); err != nil || len(subs) != 1 || subs[0].FileName != "list.csv" || subs[0].Key != fmt.Sprintf("list-k/%d", i) {
				t.Fatalf("item %d: submissions %v %v", m.ID, subs, err)
			}
		}
		// Request keys: found by case, more than an IN list's worth;
		// unique in a case, not across cases; none (NULL) repeats freely.
		var ask []string
		for i := range 300 {
			ask = append(ask, fmt.Sprintf("list-k/%d", i))
		}
		if got, err := db.SubmittedKeys(ctx, c.ID, ask); err != nil || len(got) != len(newSubs) || got["list-k/99"] != batch[99].ID {
			t.Fatalf("SubmittedKeys: %d of %d (%v)", len(got), len(newSubs), err)
		}
		c2 := ivid.Case{AgencyID: fr.ID, Reference: "2026/003", Sharing: ivid.SharingAgency, CreatedBy: u.ID, Created: now}
		db.CreateCase(ctx, &c2)
		if got, err := db.SubmittedKeys(ctx, c2.ID, ask); err != nil || len(got) != 0 {
			t.Fatalf("SubmittedKeys of another case: %v %v", got, err)
		}
		again := newSubs[0]
		if err := db.AddSubmission(ctx, &again); err == nil {
			t.Fatal("a key added twice to a case")
		}
		again.CaseID = c2.ID
		if err := db.AddSubmission(ctx, &again); err != nil {
			t.Fatalf("the same key in another case: %v", err)
		}
		for range 2 {
			if err := db.AddSubmission(ctx, &ivid.Submission{MediaID: batch[0].ID, CaseID: c.ID, AgencyID: fr.ID, UserID: u.ID, Created: now}); err != nil {
				t.Fatalf("a submission without a key: %v", err)
			}
		}
		twins := []*ivid.Media{{MD5: "twin", Kind: ivid.Image, Created: now}, {MD5: "twin", Kind: ivid.Image, Created: now}}
		if err := db.CreateMediaItems(ctx, twins); err == nil {
			t.Fatal("two items with the same digests created together")
		}

		// Records appended in one call, 64+32+4 rows, then one more: the
		// chain verifies and the head is the last.
		appendRecords(t, db, now, 100)
		appendRecords(t, db, now, 1)
		if n, seq := verifyTrail(t, db); n != 101 || seq != 101 {
			t.Fatalf("audit: %d records, head %d", n, seq)
		}
	})
}

// appendRecords appends k records to the trail in one transaction and one
// call.
func appendRecords(t *testing.T, db *storage.DB, now time.Time, k int) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx ivid.Tx) error {
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		rs := make([]audit.Record, k)
		for i := range rs {
			rs[i] = audit.Link(head, audit.Record{Time: now, UserID: 1, Action: "test", Object: fmt.Sprint(i)})
			head = &rs[i]
		}
		return tx.AppendAudit(ctx, rs...)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// verifyTrail verifies the whole trail against its head, and returns its
// records and the head's number.
func verifyTrail(t *testing.T, db *storage.DB) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	var ver audit.Verifier
	if err := db.EachAudit(ctx, ver.Next); err != nil {
		t.Fatal(err)
	}
	seq, hash, err := db.AuditMark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ver.End(seq, hash); err != nil {
		t.Fatal(err)
	}
	return ver.Count, seq
}
