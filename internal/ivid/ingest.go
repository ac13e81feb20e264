package ivid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ivid-project/ivid/internal/blob"
	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/media"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// Comparison is the answer to a contribution: what the database knows
// about the item.
type Comparison struct {
	Media Media `json:"media"`
	// New is true when no agency had contributed this content before.
	New         bool         `json:"new"`
	Submissions int          `json:"submissions"`
	Agencies    []string     `json:"agencies,omitempty"` // that contributed it
	Series      *SeriesFacts `json:"series,omitempty"`
	Links       []LinkFacts  `json:"links,omitempty"`
}

// LinkFacts is a link with what is known about the linked item.
type LinkFacts struct {
	Link
	Category hashset.Category `json:"category"`
	Series   *SeriesFacts     `json:"series,omitempty"`
}

// SeriesFacts is a series as the network sees it: status, who
// investigates, who identified whom and when.
type SeriesFacts struct {
	Series    Series         `json:"series"`
	Claims    []ClaimFacts   `json:"claims,omitempty"`
	Victims   []VictimFacts  `json:"victims,omitempty"`
	Offenders []OffenderFact `json:"offenders,omitempty"`
	Items     int            `json:"items"`
}

// ClaimFacts names the agency investigating a series.
type ClaimFacts struct {
	Claim
	Agency  string `json:"agency"`
	Country string `json:"country,omitempty"`
}

// VictimFacts names the agency that identified a victim.
type VictimFacts struct {
	Victim
	Agency  string `json:"agency,omitempty"`
	Country string `json:"country,omitempty"`
}

// OffenderFact names the agency that identified an offender.
type OffenderFact struct {
	Offender
	Agency  string `json:"agency,omitempty"`
	Country string `json:"country,omitempty"`
}

// Contribute adds a file, already spooled to path, to one of the actor's
// cases: it is hashed, stored encrypted once (a second contribution of the
// same content adds a submission, never a copy), indexed, and compared
// with the whole database.
func (s *Service) Contribute(ctx context.Context, a Actor, caseID CaseID, fileName, path string) (Comparison, error) {
	h, err := s.HashUpload(ctx, a, fileName, path)
	if err != nil {
		return Comparison{}, err
	}
	res := s.CommitUploads(ctx, a, caseID, []Hashed{h})
	return res[0].Comparison, res[0].Err
}

// Hashed is a contribution's file after its hashing, ready to be committed.
type Hashed struct {
	fileName, path string
	data           []byte // the content, when held in memory rather than at path
	rec            filehash.Record
	// Key, if set, is what the contributor's request named this file (an
	// Idempotency-Key): a file whose key the case has already is not
	// submitted again, and is answered as it was the first time.
	Key string
}

// Contributed is the outcome of one item of CommitUploads.
type Contributed struct {
	Comparison Comparison
	Err        error
}

// HashUpload is a contribution's first stage, the one that takes the
// processor: it hashes the file spooled to path and writes nothing. The
// file must stay at path until CommitUploads returns.
func (s *Service) HashUpload(ctx context.Context, a Actor, fileName, path string) (Hashed, error) {
	rec, err := s.hashUpload(a, fileName, func(h *filehash.Hasher) (filehash.Record, error) {
		rec, _, err := h.FileContext(ctx, path)
		return rec, err
	})
	return Hashed{fileName: fileName, path: path, rec: rec}, err
}

// HashUploadBytes is HashUpload for an image held in memory; a video needs
// a file (ffmpeg reads it). data must not change until CommitUploads
// returns.
func (s *Service) HashUploadBytes(a Actor, fileName string, data []byte) (Hashed, error) {
	rec, err := s.hashUpload(a, fileName, func(h *filehash.Hasher) (filehash.Record, error) {
		rec, _, err := h.Reader(fileName, bytes.NewReader(data), int64(len(data)))
		return rec, err
	})
	if err == nil && rec.Kind == filehash.Video {
		err = fmt.Errorf("%s: a video must be spooled to a file", fileName)
	}
	return Hashed{fileName: fileName, data: data, rec: rec}, err
}

func (s *Service) hashUpload(a Actor, fileName string, hash func(*filehash.Hasher) (filehash.Record, error)) (filehash.Record, error) {
	if err := a.require(PermContribute); err != nil {
		return filehash.Record{}, err
	}
	// Hashers keep their (large) decode and PDQ buffers between files, and
	// are kept out of the garbage collector's reach (unlike in a
	// sync.Pool): fresh buffers cost page faults on first touch.
	var h *filehash.Hasher
	select {
	case h = <-s.hashers:
	default:
		h = filehash.New(filehash.Options{Mode: pdq.Full, Dihedral: s.cfg.Dihedral, MaxPixels: s.cfg.MaxPixels, DecodeLimit: s.cfg.DecodeLimit, Stuck: &s.stuck, Decoders: s.cfg.Decoders, Video: s.denseVideo(), VideoCropped: true})
	}
	rec, err := hash(h)
	select {
	case s.hashers <- h:
	default:
	}
	if err != nil {
		if errors.Is(err, filehash.ErrDecodeLimit) {
			// A processor may stay busy with it until the server restarts.
			s.abandoned.Add(1)
			s.cfg.Log.Warn("image decoding abandoned at the time limit", "agency", a.Agency.ID, "user", a.User.ID, "sha256", rec.SHA256)
		}
		switch {
		case errors.Is(err, filehash.ErrDecodeLimit), errors.Is(err, media.ErrTooLarge), errors.Is(err, media.ErrCorrupt), errors.Is(err, media.ErrUnsupported),
			errors.Is(err, vpdq.ErrCorrupt), errors.Is(err, vpdq.ErrTooLarge), errors.Is(err, vpdq.ErrNoVideo), errors.Is(err, vpdq.ErrTimeLimit):
			return filehash.Record{}, fmt.Errorf("%w: %s: %v", ErrInvalid, fileName, err)
		}
		return filehash.Record{}, fmt.Errorf("hash: %w", err) // logged: no file name
	}
	if rec.Kind != filehash.Image && rec.Kind != filehash.Video {
		return filehash.Record{}, fmt.Errorf("%w: %s is not an image or a video (%s)", ErrInvalid, fileName, rec.MIME)
	}
	return rec, nil
}

// pendingItem is one item of a group commit.
type pendingItem struct {
	m        Media
	isNew    bool
	existing Media
	sub      Submission
	// repeated is true when the case has this file's submission already.
	repeated bool
	err      error
}

// CommitUploads is a contribution's second stage, for a group of hashed
// files: new content is stored (synced) first, then one transaction
// records every item, its submission and its audit record, so that the
// group shares one database sync. A crash in between leaves unreferenced
// blobs, never a row without content. Items are then indexed and compared.
// If the group's transaction fails, each item is retried on its own, so
// one bad item cannot fail the others.
func (s *Service) CommitUploads(ctx context.Context, a Actor, caseID CaseID, items []Hashed) []Contributed {
	out := make([]Contributed, len(items))
	err := a.require(PermContribute)
	if err == nil {
		_, err = s.Case(ctx, a, caseID)
	}
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	submitted, err := s.submittedFiles(ctx, caseID, items)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	ps := make([]pendingItem, len(items))
	first := map[string]int{} // SHA-256 -> first item of the group with it
	batch := s.blobs.Batch()
	var put []int // items whose content went into batch
	for i, it := range items {
		p := &ps[i]
		p.m = mediaFromRecord(it.rec)
		p.m.Created = s.now()
		p.sub = Submission{CaseID: caseID, AgencyID: a.Agency.ID, UserID: a.User.ID, FileName: it.fileName, Created: s.now(), Key: fileKey(it.Key)}
		if _, dup := first[p.m.SHA256]; dup {
			continue // stored and created by the group's first copy
		}
		first[p.m.SHA256] = i
		existing, err := s.store.MediaBySHA256(ctx, p.m.SHA256)
		if errors.Is(err, ErrNotFound) {
			existing, err = s.listedItem(ctx, p.m)
		}
		p.isNew, p.existing = errors.Is(err, ErrNotFound), existing
		if err != nil && !p.isNew {
			p.err = err
			continue
		}
		if p.isNew || !existing.Stored {
			if _, err := s.putContent(ctx, batch, p.m.SHA256, it); err != nil {
				p.err = fmt.Errorf("store %s: %w", it.fileName, err)
			} else {
				put = append(put, i)
			}
		}
	}
	if err := batch.Sync(); err != nil {
		for _, i := range put {
			ps[i].err = fmt.Errorf("store %s: %w", items[i].fileName, err)
		}
	}
	// A file the case has under its key was sent before (the answer
	// lost), and one whose key an earlier file of the group has is sent
	// twice: the key must name the same content.
	keyed := map[string]int{} // key -> the group's first item with it
	for i := range ps {
		p := &ps[i]
		if p.sub.Key == "" || p.err != nil {
			continue
		}
		f := &ps[first[p.m.SHA256]]
		same := false
		if was, ok := submitted[p.sub.Key]; ok {
			same = !f.isNew && f.existing.ID == was
		} else if j, ok := keyed[p.sub.Key]; ok {
			same = ps[j].m.SHA256 == p.m.SHA256
		} else {
			keyed[p.sub.Key] = i
			continue
		}
		if !same {
			p.err = fmt.Errorf("%w: %s: its Idempotency-Key names other content in this case", ErrConflict, items[i].fileName)
			continue
		}
		p.repeated = true
	}
	// From the commits to the indexes' update, a replay of other servers'
	// changes waits (see Service.replaying).
	s.replaying.RLock()
	defer s.replaying.RUnlock()
	// commit records the items idx in one transaction, on a copy of their
	// state, kept only if the transaction commits.
	commit := func(idx []int) error {
		work := slices.Clone(ps)
		err := s.store.InTx(ctx, func(tx Tx) error {
			recs := make([]auditEntry, 0, len(idx))
			for _, i := range idx {
				var copyOf *pendingItem
				if f := first[work[i].m.SHA256]; f != i {
					copyOf = &work[f]
				}
				rec, err := s.recordItem(ctx, tx, caseID, &work[i], copyOf)
				if err != nil {
					return err
				}
				if rec.action != "" {
					recs = append(recs, rec)
				}
			}
			if err := s.appendAudits(ctx, tx, a, recs); err != nil {
				return err
			}
			var cs []IndexChange
			for _, i := range idx {
				switch p := &work[i]; {
				case p.repeated:
				case p.isNew:
					cs = append(cs, s.changeOf(p.m.ID, nil))
				case p.existing.ID != 0 && !p.existing.Stored:
					cs = append(cs, s.changeOf(p.m.ID, &p.existing))
				}
			}
			return s.noteChanges(ctx, tx, cs)
		})
		if err == nil {
			for _, i := range idx {
				ps[i] = work[i]
			}
		}
		return err
	}
	var group []int
	for i := range ps {
		if f := first[ps[i].m.SHA256]; ps[i].err == nil && ps[f].err != nil {
			ps[i].err = ps[f].err
		}
		if ps[i].err == nil {
			group = append(group, i)
		}
	}
	if err := commit(group); err != nil {
		if len(group) == 1 {
			ps[group[0]].err = err
		} else {
			for _, i := range group {
				if f := first[ps[i].m.SHA256]; f != i && ps[f].err != nil {
					ps[i].err = ps[f].err
					continue
				}
				ps[i].err = commit([]int{i})
			}
		}
	}
	var ids []MediaID
	for _, p := range ps {
		if p.err == nil {
			ids = append(ids, p.m.ID)
		}
	}
	g := s.groupFacts(ctx, ids)
	for i := range ps {
		p := &ps[i]
		if p.err != nil {
			out[i].Err = p.err
			continue
		}
		switch {
		case p.isNew:
			s.index.insert(p.m)
		case p.existing.ID != 0 && !p.existing.Stored:
			// A hashes-only item got its content: its hashes are now the
			// content's, in the indexes as in the database.
			s.index.update(p.existing, p.m)
			if p.m.Baseline == BaselineConfirmed {
				s.baseline.update(p.existing, p.m)
			}
		}
		c, err := s.compare(ctx, p.m, items[i].rec.Dihedral, g)
		c.New = p.isNew
		if p.repeated {
			c.New = g.firstSubmission(p.m.ID, p.sub.Key)
		}
		out[i] = Contributed{Comparison: c, Err: err}
	}
	return out
}

// listedItem finds the hashes-only item that m's content is, when a hash
// list named it by MD5 or SHA-1 alone (ICSE's CSV has no SHA-256): every
// digest the list gave must be m's. It returns ErrNotFound otherwise.
func (s *Service) listedItem(ctx context.Context, m Media) (Media, error) {
	ms, err := s.store.MediaByDigest(ctx, m.MD5, m.SHA1)
	if err != nil {
		return Media{}, err
	}
	for _, e := range ms {
		if !e.Stored && e.SHA256 == "" && (e.MD5 != "" || e.SHA1 != "") &&
			(e.MD5 == "" || strings.EqualFold(e.MD5, m.MD5)) && (e.SHA1 == "" || strings.EqualFold(e.SHA1, m.SHA1)) {
			return e, nil
		}
	}
	return Media{}, fmt.Errorf("%w: media item", ErrNotFound)
}

// recordItem writes one item of a group commit inside tx: its media row
// (created, or completed when a hashes-only item gets its content) and its
// submission; it returns the item's audit record, which the group appends
// with the others. copyOf is the group's earlier item with the same
// content, already recorded, if any.
func (s *Service) recordItem(ctx context.Context, tx Tx, caseID CaseID, p *pendingItem, copyOf *pendingItem) (auditEntry, error) {
	switch {
	case copyOf != nil:
		p.isNew, p.m = false, copyOf.m
	case p.isNew:
		if err := tx.CreateMedia(ctx, &p.m); err != nil {
			// Another upload of the same content won the race.
			got, gerr := tx.MediaBySHA256(ctx, p.m.SHA256)
			if gerr != nil {
				return auditEntry{}, conflict(err)
			}
			p.isNew, p.m = false, got
		}
	case !p.existing.Stored:
		// A hashes-only item now has its content and hashes.
		e := p.existing
		m := p.m
		m.ID, m.Created, m.Category, m.SeriesID, m.Baseline = e.ID, e.Created, e.Category, e.SeriesID, e.Baseline
		if m.PhotoDNA == "" {
			m.PhotoDNA = e.PhotoDNA // a list's; ivid does not compute it
		}
		if err := tx.UpdateMedia(ctx, &m); err != nil {
			return auditEntry{}, err
		}
		p.m = m
	default:
		p.m = p.existing
	}
	p.sub.MediaID = p.m.ID
	if p.repeated {
		return auditEntry{}, nil // submitted by the request's first sending
	}
	if err := tx.AddSubmission(ctx, &p.sub); err != nil {
		return auditEntry{}, conflict(err) // a key another request took meanwhile
	}
	return auditEntry{"media.contribute", obj("media", int64(p.m.ID)), fmt.Sprintf("case=%d new=%v", caseID, p.isNew)}, nil
}

func (s *Service) putContent(ctx context.Context, b *blob.Batch, sha256 string, h Hashed) (bool, error) {
	id, err := blob.ParseID(sha256)
	if err != nil {
		return false, err
	}
	if h.data != nil {
		return b.Put(ctx, id, bytes.NewReader(h.data))
	}
	f, err := os.Open(h.path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return b.Put(ctx, id, f)
}

func mediaFromRecord(rec filehash.Record) Media {
	m := Media{SHA256: rec.SHA256, MD5: rec.MD5, SHA1: rec.SHA1, MIME: rec.MIME, Size: rec.Size, Width: rec.Width, Height: rec.Height,
		PDQ: rec.PDQ, VPDQ: rec.VPDQ, VPDQCropped: rec.VPDQCropped, Stored: true, Category: hashset.Uncategorised, Kind: Image}
	if rec.Quality != nil {
		m.Quality = *rec.Quality
	}
	if rec.Kind == filehash.Video {
		m.Kind = Video
	}
	if rec.Video != nil {
		m.Duration = rec.Video.Duration
	}
	if md := rec.Metadata; md != nil {
		m.CameraMake, m.CameraModel, m.CameraSerial = md.CameraMake, md.CameraModel, md.CameraSerial
		m.CaptureTime = md.CaptureTime
		if md.GPS != nil {
			lat, lon := md.GPS.Latitude, md.GPS.Longitude
			m.Lat, m.Lon = &lat, &lon
		}
	}
	return m
}

// ContributeHashes adds hash-only entries (a VICS or ICSE file's) to a
// case: no pixels are stored; categories and series names given are kept
// as the contributor's proposal when the item is new. Entries are
// checked first, then committed in groups of HashGroup, each one
// transaction (one sync of the database's log); a failing group ends the
// contribution, and the groups before it stay. each gets every group's
// comparisons once it commits; an error it returns ends the contribution.
//
// keys, if set, names the entries: an entry whose key a submission of the
// case already has (the request was sent before, and its answer lost) adds
// no second submission, and is answered as it was the first time.
func (s *Service) ContributeHashes(ctx context.Context, a Actor, caseID CaseID, entries []hashset.Entry, keys EntryKeys, each func([]Comparison) error) error {
	if err := a.require(PermContribute); err != nil {
		return err
	}
	if _, err := s.Case(ctx, a, caseID); err != nil {
		return err
	}
	for i, e := range entries {
		if e.SHA256 == "" && e.MD5 == "" && e.SHA1 == "" {
			return fmt.Errorf("%w: entry %d has no MD5, SHA-1 or SHA-256", ErrInvalid, i+1)
		}
	}
	// A large list grows the tables its own lookups read: the planner's
	// statistics are refreshed as it grows fourfold, and after it.
	analyze := func() {
		if err := s.store.Analyze(ctx); err != nil {
			s.cfg.Log.Warn("refreshing the database's statistics", "err", err)
		}
	}
	done, next, last := 0, analyzeFrom, 0
	defer func() {
		if done >= analyzeFrom && last < done {
			analyze()
		}
	}()
	if keys.Prefix != "" && (len(keys.Prefix) > MaxRequestKey || keys.First < 0) {
		return fmt.Errorf("%w: a request key of 1 to %d characters and a first entry of 0 or more", ErrInvalid, MaxRequestKey)
	}
	for start := 0; start < len(entries); start += HashGroup {
		group := entries[start:min(start+HashGroup, len(entries))]
		cs, err := s.contributeHashGroup(ctx, a, caseID, group, keys.from(start))
		done += len(cs)
		if len(cs) > 0 {
			if err := each(cs); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		if done >= next {
			analyze()
			next, last = 4*next, done
		}
	}
	return nil
}

// analyzeFrom is the size of a hash list from which the database's
// statistics are refreshed during and after its contribution.
const analyzeFrom = 1024

// HashGroup is how many hash-only entries share a transaction. A
// transaction an entry made 5,000 MD5s take 2.8-3.9 s through the API on
// SQLite and 12-14 s on PostgreSQL; groups of 256, 1.2 and 6.5-6.8 s, and
// 0.84-0.88 and 5.6-7.0 s with the agencies read once a group. With every
// statement of a group's made for the group, not an entry (lookups, new
// rows, submissions, audit records), an entry took 68-76 µs on SQLite
// and 98-106 µs on PostgreSQL, against 164-313 µs and 1.5-1.6 ms ('ivid
// bench hashlist --entries 20000'). At 200,000 entries, where each group
// writes a page of the digests' indexes an entry, groups of 256, 1,024
// and 4,096 took 152, 120 and 103 µs an entry on SQLite, 103, 93 and 87
// on PostgreSQL (and 88, 68 and 67 for the list again). 1,024 holds
// SQLite's write lock about 0.1 s.
const HashGroup = 1024

// EntryKeys names the entries of a request: entry i is Prefix/(First+i),
// First being the request's place in a longer list that the client sends
// in parts. The zero value names none.
type EntryKeys struct {
	Prefix string
	First  int
}

// MaxRequestKey bounds a request's key, a file's or a list's (a SHA-256
// in hex is 64 characters).
const MaxRequestKey = 128

// of is entry i's submission key; "list:" keeps lists' keys apart from
// files'.
func (k EntryKeys) of(i int) string {
	if k.Prefix == "" {
		return ""
	}
	return "list:" + k.Prefix + "/" + strconv.Itoa(k.First+i)
}

// fileKey is the submission key of a file its request named key.
func fileKey(key string) string {
	if key == "" {
		return ""
	}
	return "file:" + key
}

// submittedFiles returns, by key, the items of the case's submissions that
// have the keys of items.
func (s *Service) submittedFiles(ctx context.Context, caseID CaseID, items []Hashed) (map[string]MediaID, error) {
	var keys []string
	for _, it := range items {
		if it.Key != "" {
			keys = append(keys, fileKey(it.Key))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return s.store.SubmittedKeys(ctx, caseID, keys)
}

func (k EntryKeys) from(i int) EntryKeys {
	k.First += i
	return k
}

// listedEntry is one entry of a group of ContributeHashes.
type listedEntry struct {
	m     Media
	isNew bool
	first int // the group's first entry naming the same content
	sub   Submission
	// repeated is true when the case has this entry's submission already.
	repeated bool
	// fills are the group's entries that give a known item hashes it
	// lacks; before and completed are its state before and what they
	// added.
	fills     []hashset.Entry
	before    Media
	completed []string
}

// completeFrom fills in what m lacks and e gives, and names what it
// filled: digests, PhotoDNA, and for a hashes-only item its PDQ or vPDQ
// (a later list may have them: NCMEC's gives PDQ where ICSE's gives MD5
// alone). Nothing known is replaced, nor the SHA-256: an entry that has
// one is found by it.
func completeFrom(m *Media, e hashset.Entry) []string {
	var done []string
	fill := func(name string, missing bool, set func()) {
		if missing {
			set()
			done = append(done, name)
		}
	}
	fill("md5", m.MD5 == "" && e.MD5 != "", func() { m.MD5 = e.MD5 })
	fill("sha1", m.SHA1 == "" && e.SHA1 != "", func() { m.SHA1 = e.SHA1 })
	fill("photodna", m.PhotoDNA == "" && e.PhotoDNA != "", func() { m.PhotoDNA = e.PhotoDNA })
	if !m.Stored {
		listed := mediaFromEntry(e)
		fill("pdq", m.PDQ == nil && e.PDQ != nil, func() { m.PDQ, m.Quality = listed.PDQ, listed.Quality })
		fill("vpdq", len(m.VPDQ) == 0 && len(e.VPDQ) > 0, func() { m.VPDQ, m.Kind = listed.VPDQ, Video })
	}
	return done
}

func (s *Service) contributeHashGroup(ctx context.Context, a Actor, caseID CaseID, group []hashset.Entry, names EntryKeys) ([]Comparison, error) {
	known, err := s.knownByDigest(ctx, group)
	if err != nil {
		return nil, err
	}
	var submitted map[string]MediaID
	if names.Prefix != "" {
		ks := make([]string, len(group))
		for i := range group {
			ks[i] = names.of(i)
		}
		if submitted, err = s.store.SubmittedKeys(ctx, caseID, ks); err != nil {
			return nil, err
		}
	}
	ls := make([]listedEntry, len(group))
	// Digests already named in the group: an entry naming one is the same
	// item, as the database would say once the earlier one is in it.
	seen := map[string]int{}
	byID := map[MediaID]int{} // known items, by the entry that found them
	for i, e := range group {
		l := &ls[i]
		l.first = i
		// As the database is searched: by SHA-256 if given, else by MD5 or
		// SHA-1.
		keys := digestKeys(e.SHA256, "", "")
		if e.SHA256 == "" {
			keys = digestKeys("", e.MD5, e.SHA1)
		}
		for _, k := range keys {
			if f, ok := seen[k]; ok {
				l.first = f
				break
			}
		}
		l.sub = Submission{CaseID: caseID, AgencyID: a.Agency.ID, UserID: a.User.ID, FileName: e.Label, Created: s.now(), Key: names.of(i)}
		m, isNew := known.find(e)
		if l.first == i && !isNew {
			// Entries naming a known item by different digests.
			if f, ok := byID[m.ID]; ok {
				l.first = f
			}
		}
		if l.first != i {
			f := &ls[l.first]
			if f.isNew {
				completeFrom(&f.m, e)
			} else if probe := f.m; len(completeFrom(&probe, e)) > 0 {
				f.fills = append(f.fills, e)
			}
			// Its other digests are that item's too: a later entry naming
			// one of them alone is the same item (and no two new items end
			// with the same digests, which CreateMediaItems needs).
			for _, k := range digestKeys(e.SHA256, e.MD5, e.SHA1) {
				if _, ok := seen[k]; !ok {
					seen[k] = l.first
				}
			}
			continue
		}
		for _, k := range digestKeys(e.SHA256, e.MD5, e.SHA1) {
			seen[k] = i
		}
		l.m, l.isNew = m, isNew
		if l.isNew {
			l.m = mediaFromEntry(e)
			l.m.Created = s.now()
			continue
		}
		byID[m.ID] = i
		if probe := m; len(completeFrom(&probe, e)) > 0 {
			l.fills = append(l.fills, e)
		}
	}
	// A key the case has must name the same item: the request sent again,
	// not another list under its key.
	for i := range ls {
		l := &ls[i]
		was, ok := submitted[l.sub.Key]
		if !ok {
			continue
		}
		if f := &ls[l.first]; f.isNew || f.m.ID != was {
			return nil, fmt.Errorf("%w: entry %d: its key names another item in this case", ErrConflict, names.First+i+1)
		}
		l.repeated = true
	}
	s.replaying.RLock()
	defer s.replaying.RUnlock()
	err = s.store.InTx(ctx, func(tx Tx) error {
		// New items first, in a few statements: the entries naming them
		// again need their IDs.
		var created []*Media
		for i := range ls {
			if ls[i].first == i && ls[i].isNew {
				created = append(created, &ls[i].m)
			}
		}
		if err := tx.CreateMediaItems(ctx, created); err != nil {
			return conflict(err)
		}
		recs := make([]auditEntry, 0, len(ls))
		subs := make([]Submission, 0, len(ls))
		for i := range ls {
			l := &ls[i]
			switch {
			case l.first != i:
				l.m = ls[l.first].m
			case !l.isNew && len(l.fills) > 0:
				if err := l.complete(ctx, tx); err != nil {
					return err
				}
			}
			detail := fmt.Sprintf("case=%d new=%v", caseID, l.isNew)
			if len(l.completed) > 0 {
				detail += " completed=" + strings.Join(l.completed, ",")
			}
			if l.repeated {
				// Submitted when the request was first sent; what it
				// completes now (another list in between) is still a change.
				if len(l.completed) > 0 {
					recs = append(recs, auditEntry{"media.contribute-hashes", obj("media", int64(l.m.ID)), detail + " repeated=true"})
				}
				continue
			}
			l.sub.MediaID = l.m.ID
			subs = append(subs, l.sub)
			recs = append(recs, auditEntry{"media.contribute-hashes", obj("media", int64(l.m.ID)), detail})
		}
		if err := tx.AddSubmissions(ctx, subs); err != nil {
			return conflict(err) // a key another request took meanwhile
		}
		if err := s.appendAudits(ctx, tx, a, recs); err != nil {
			return err
		}
		var cs []IndexChange
		for i := range ls {
			switch l := &ls[i]; {
			case l.first != i:
			case l.isNew:
				cs = append(cs, s.changeOf(l.m.ID, nil))
			case len(l.completed) > 0:
				cs = append(cs, s.changeOf(l.m.ID, &l.before))
			}
		}
		return s.noteChanges(ctx, tx, cs)
	})
	if err != nil {
		return nil, err
	}
	ids := make([]MediaID, len(ls))
	for i, l := range ls {
		ids[i] = l.m.ID
	}
	g := s.groupFacts(ctx, ids)
	out := make([]Comparison, 0, len(ls))
	for _, l := range ls {
		switch {
		case l.isNew:
			s.index.insert(l.m)
		case len(l.completed) > 0:
			s.index.update(l.before, l.m)
			if l.m.Baseline == BaselineConfirmed {
				s.baseline.update(l.before, l.m)
			}
		}
		c, err := s.compare(ctx, l.m, nil, g)
		if err != nil {
			return out, err
		}
		c.New = l.isNew
		if l.repeated {
			c.New = g.firstSubmission(l.m.ID, l.sub.Key)
		}
		out = append(out, c)
	}
	return out, nil
}

// complete gives a known item, read again inside tx, what the group's
// entries add to it.
func (l *listedEntry) complete(ctx context.Context, tx Tx) error {
	m, err := tx.Media(ctx, l.m.ID)
	if err != nil {
		return err
	}
	l.before = m
	l.completed = nil
	for _, e := range l.fills {
		l.completed = append(l.completed, completeFrom(&m, e)...)
	}
	if len(l.completed) > 0 {
		if err := tx.UpdateMedia(ctx, &m); err != nil {
			return err
		}
	}
	l.m = m
	return nil
}

// digestIndex finds a hash list's entries among the items read for them.
type digestIndex struct {
	sha256, md5, sha1 map[string]Media // the lowest ID for MD5 and SHA-1
}

// knownByDigest reads, in a few queries, the items that a group's entries
// may name.
func (s *Service) knownByDigest(ctx context.Context, group []hashset.Entry) (digestIndex, error) {
	var sha256s, md5s, sha1s []string
	for _, e := range group {
		if e.SHA256 != "" {
			sha256s = append(sha256s, e.SHA256)
		} else {
			md5s, sha1s = append(md5s, e.MD5), append(sha1s, e.SHA1)
		}
	}
	ms, err := s.store.MediaByDigests(ctx, sha256s, md5s, sha1s)
	if err != nil {
		return digestIndex{}, err
	}
	x := digestIndex{sha256: map[string]Media{}, md5: map[string]Media{}, sha1: map[string]Media{}}
	for _, m := range ms { // by ID
		for _, k := range []struct {
			to map[string]Media
			v  string
		}{{x.sha256, m.SHA256}, {x.md5, m.MD5}, {x.sha1, m.SHA1}} {
			if _, ok := k.to[k.v]; !ok && k.v != "" {
				k.to[k.v] = m
			}
		}
	}
	return x, nil
}

// find returns the item e names, as MediaBySHA256 would if e has a
// SHA-256, else as the first of MediaByDigest; isNew if there is none.
func (x digestIndex) find(e hashset.Entry) (m Media, isNew bool) {
	if e.SHA256 != "" {
		m, ok := x.sha256[e.SHA256]
		return m, !ok
	}
	m5, ok5 := x.md5[e.MD5]
	m1, ok1 := x.sha1[e.SHA1]
	switch {
	case ok5 && ok1 && m1.ID < m5.ID, !ok5 && ok1:
		return m1, false
	case ok5:
		return m5, false
	}
	return Media{}, true
}

// mediaFromEntry is a new hashes-only item as a hash list describes it.
func mediaFromEntry(e hashset.Entry) Media {
	m := Media{SHA256: e.SHA256, MD5: e.MD5, SHA1: e.SHA1, PDQ: e.PDQ, VPDQ: e.VPDQ, Kind: Image, MIME: "application/octet-stream",
		Category: e.Category, PhotoDNA: e.PhotoDNA}
	if e.Quality != nil {
		m.Quality = *e.Quality
	} else if e.PDQ != nil {
		m.Quality = pdq.MinQuality // a list's hash is taken as usable
	}
	if len(e.VPDQ) > 0 || e.MediaType == "video" || e.MediaType == "Video" {
		m.Kind = Video
	}
	return m
}

// digestKeys names the digests given, each with its kind.
func digestKeys(sha256, md5, sha1 string) []string {
	var keys []string
	for _, k := range [][2]string{{"sha256:", sha256}, {"md5:", md5}, {"sha1:", sha1}} {
		if k[1] != "" {
			keys = append(keys, k[0]+k[1])
		}
	}
	return keys
}

// groupFacts are what the comparisons of a group of items share, read
// once: the agencies, and the items' submissions.
type groupFacts struct {
	names map[AgencyID]Agency
	subs  map[MediaID][]Submission
}

// firstSubmission reports whether the item's first submission has key:
// the item was new when the request of that key was first sent.
func (g *groupFacts) firstSubmission(id MediaID, key string) bool {
	subs := g.subs[id]
	return len(subs) > 0 && subs[0].Key == key
}

// groupFacts reads the agencies and the submissions of ids. What cannot
// be read is left nil: each comparison then reads it again, and fails
// alone.
func (s *Service) groupFacts(ctx context.Context, ids []MediaID) *groupFacts {
	g := &groupFacts{}
	g.names, _ = s.agencyNames(ctx)
	if subs, err := s.store.SubmissionsOf(ctx, ids); err == nil {
		g.subs = map[MediaID][]Submission{}
		for _, sub := range subs {
			g.subs[sub.MediaID] = append(g.subs[sub.MediaID], sub)
		}
	}
	return g
}

// compare builds the answer for one item: its own facts, then exact,
// near-duplicate, same-camera and same-place links with their facts. g,
// if not nil, holds facts read for the item's group.
func (s *Service) compare(ctx context.Context, m Media, dih *filehash.Dihedral, g *groupFacts) (Comparison, error) {
	c := Comparison{Media: m}
	var subs []Submission
	var names map[AgencyID]Agency
	if g != nil {
		subs, names = g.subs[m.ID], g.names
	}
	var err error
	if g == nil || g.subs == nil {
		if subs, err = s.store.Submissions(ctx, m.ID); err != nil {
			return c, err
		}
	}
	c.Submissions = len(subs)
	if names == nil {
		if names, err = s.agencyNames(ctx); err != nil {
			return c, err
		}
	}
	seen := map[AgencyID]bool{}
	for _, sub := range subs {
		if !seen[sub.AgencyID] {
			seen[sub.AgencyID] = true
			c.Agencies = append(c.Agencies, names[sub.AgencyID].Name)
		}
	}
	if m.SeriesID != 0 {
		if c.Series, err = s.seriesFacts(ctx, m.SeriesID, names); err != nil {
			return c, err
		}
	}
	var links []Link
	linked := map[MediaID]bool{m.ID: true}
	addLink := func(l Link) {
		if !linked[l.MediaID] {
			linked[l.MediaID] = true
			links = append(links, l)
		}
	}
	if m.PDQ != nil && m.Quality >= pdq.MinQuality {
		hashes := []pdq.Hash{*m.PDQ}
		if dih != nil {
			all := dih.All()
			hashes = all[:]
		}
		for _, hm := range s.index.near(hashes, s.cfg.NearThreshold) {
			addLink(Link{Kind: LinkNear, MediaID: MediaID(hm.ID), Distance: float64(hm.Distance)})
		}
	}
	// A video is compared as the reference hashes it and, if it has black
	// bars, as the picture inside them; either may match either of an
	// indexed video's.
	for _, frames := range [][]vpdq.Frame{m.VPDQ, m.VPDQCropped} {
		if len(frames) == 0 {
			continue
		}
		ms := vpdq.Matches(s.index.videos.Query(onePerSecond(frames), false), vpdq.DefaultQueryPercent, vpdq.DefaultTargetPercent)
		for _, vm := range ms {
			id, _ := strconv.ParseInt(strings.TrimSuffix(vm.ID, croppedSuffix), 10, 64)
			addLink(Link{Kind: LinkNear, MediaID: MediaID(id), Distance: float64(vm.BestDistance), QueryPercent: vm.QueryPercent})
		}
	}
	if m.CameraSerial != "" {
		same, err := s.store.MediaBySerial(ctx, m.CameraSerial)
		if err != nil {
			return c, err
		}
		for _, o := range same {
			addLink(Link{Kind: LinkSameCamera, MediaID: o.ID})
		}
	}
	if m.Lat != nil && m.Lon != nil {
		r := s.cfg.PlaceRadius
		dLat := r / 111_320
		dLon := r / (111_320 * math.Max(0.01, math.Cos(*m.Lat*math.Pi/180)))
		near, err := s.store.MediaInBox(ctx, *m.Lat-dLat, *m.Lat+dLat, *m.Lon-dLon, *m.Lon+dLon)
		if err != nil {
			return c, err
		}
		for _, o := range near {
			if d := haversine(*m.Lat, *m.Lon, *o.Lat, *o.Lon); d <= r {
				addLink(Link{Kind: LinkSamePlace, MediaID: o.ID, Distance: math.Round(d*10) / 10})
			}
		}
	}
	seriesCache := map[SeriesID]*SeriesFacts{}
	for _, l := range links {
		o, err := s.store.Media(ctx, l.MediaID)
		if err != nil {
			return c, err
		}
		lf := LinkFacts{Link: l, Category: o.Category}
		if o.SeriesID != 0 {
			sf, ok := seriesCache[o.SeriesID]
			if !ok {
				if sf, err = s.seriesFacts(ctx, o.SeriesID, names); err != nil {
					return c, err
				}
				seriesCache[o.SeriesID] = sf
			}
			lf.Series = sf
		}
		c.Links = append(c.Links, lf)
	}
	return c, nil
}

// denseVideo: contributed videos are hashed at every frame, since each is
// also a known video for later queries, and known videos must be indexed
// densely for clips and frame-rate changes to match.
func (s *Service) denseVideo() *vpdq.Options {
	if s.cfg.Video == nil {
		return nil
	}
	o := *s.cfg.Video
	o.SecondsPerHash = 0
	return &o
}

// onePerSecond keeps the first frame of each second: a query at one hash a
// second, against the dense index.
func onePerSecond(frames []vpdq.Frame) []vpdq.Frame {
	var out []vpdq.Frame
	last := -1
	for _, f := range frames {
		if sec := int(f.Timestamp); sec != last {
			out = append(out, f)
			last = sec
		}
	}
	return out
}

// haversine is the great-circle distance in metres.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const R = 6_371_000
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := (lat2-lat1)*math.Pi/180, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * R * math.Asin(math.Min(1, math.Sqrt(a)))
}

func (s *Service) agencyNames(ctx context.Context) (map[AgencyID]Agency, error) {
	as, err := s.store.Agencies(ctx)
	out := make(map[AgencyID]Agency, len(as))
	for _, a := range as {
		out[a.ID] = a
	}
	return out, err
}

func (s *Service) seriesFacts(ctx context.Context, id SeriesID, names map[AgencyID]Agency) (*SeriesFacts, error) {
	x, err := s.store.Series(ctx, id)
	if err != nil {
		return nil, err
	}
	f := &SeriesFacts{Series: x}
	claims, err := s.store.Claims(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		f.Claims = append(f.Claims, ClaimFacts{Claim: c, Agency: names[c.AgencyID].Name, Country: names[c.AgencyID].Country})
	}
	vs, err := s.store.Victims(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		f.Victims = append(f.Victims, VictimFacts{Victim: v, Agency: names[v.AgencyID].Name, Country: names[v.AgencyID].Country})
	}
	os, err := s.store.Offenders(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, o := range os {
		f.Offenders = append(f.Offenders, OffenderFact{Offender: o, Agency: names[o.AgencyID].Name, Country: names[o.AgencyID].Country})
	}
	items, err := s.store.MediaInSeries(ctx, id)
	f.Items = len(items)
	return f, err
}
