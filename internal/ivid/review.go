package ivid

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ivid-project/ivid/internal/blob"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// MediaFacts is an item with what the network knows about it. Submissions
// of other agencies are counted, not listed.
type MediaFacts struct {
	Comparison
	Clues     []Clue `json:"clues,omitempty"`
	CanPixels bool   `json:"can_view_pixels"`
}

// Media returns an item's facts: hashes, metadata, category, series,
// links. They are network facts, visible to every national unit whatever
// the case's sharing.
func (s *Service) Media(ctx context.Context, a Actor, id MediaID) (MediaFacts, error) {
	if err := a.require(PermReadFacts); err != nil {
		return MediaFacts{}, err
	}
	m, err := s.store.Media(ctx, id)
	if err != nil {
		return MediaFacts{}, err
	}
	c, err := s.compare(ctx, m, nil, nil)
	if err != nil {
		return MediaFacts{}, err
	}
	clues, err := s.store.Clues(ctx, id)
	if err != nil {
		return MediaFacts{}, err
	}
	ok, err := s.canSeePixels(ctx, a, m)
	return MediaFacts{Comparison: c, Clues: clues, CanPixels: ok}, err
}

// canSeePixels: the pixels of an item are served to an agency that
// contributed it, or to any national unit when one of its submissions is
// in a network-shared case; never otherwise.
func (s *Service) canSeePixels(ctx context.Context, a Actor, m Media) (bool, error) {
	if !a.Can(PermReadPixels) || !m.Stored {
		return false, nil
	}
	subs, err := s.store.Submissions(ctx, m.ID)
	if err != nil {
		return false, err
	}
	for _, sub := range subs {
		if sub.AgencyID == a.Agency.ID {
			return true, nil
		}
	}
	if a.Agency.Kind != NationalUnit {
		return false, nil
	}
	for _, sub := range subs {
		c, err := s.store.Case(ctx, sub.CaseID)
		if err != nil {
			return false, err
		}
		if c.Sharing == SharingNetwork {
			return true, nil
		}
	}
	return false, nil
}

// Pixels opens an item's content for the actor, after writing the audit
// record of the read (no record, no pixels).
func (s *Service) Pixels(ctx context.Context, a Actor, id MediaID) (io.ReadCloser, Media, error) {
	if err := a.require(PermReadPixels); err != nil {
		return nil, Media{}, err
	}
	m, err := s.store.Media(ctx, id)
	if err != nil {
		return nil, Media{}, err
	}
	ok, err := s.canSeePixels(ctx, a, m)
	if err != nil {
		return nil, Media{}, err
	}
	if !ok {
		return nil, Media{}, fmt.Errorf("%w: the pixels of media %d are not shared with your agency", ErrForbidden, id)
	}
	bid, err := blob.ParseID(m.SHA256)
	if err != nil {
		return nil, Media{}, err
	}
	if err := s.record(ctx, a, "media.read", obj("media", int64(id)), ""); err != nil {
		return nil, Media{}, err
	}
	rc, err := s.blobs.Get(ctx, bid)
	return rc, m, err
}

// Categorise sets the category of items (one or a batch).
func (s *Service) Categorise(ctx context.Context, a Actor, ids []MediaID, c hashset.Category) error {
	if err := a.require(PermCategorise); err != nil {
		return err
	}
	if c < hashset.Uncategorised || c > hashset.Comparison || len(ids) == 0 || len(ids) > 10000 {
		return fmt.Errorf("%w: category -1..4 and 1 to 10000 items", ErrInvalid)
	}
	var withdrawn []Media
	s.replaying.RLock()
	defer s.replaying.RUnlock()
	err := s.store.InTx(ctx, func(tx Tx) error {
		withdrawn = withdrawn[:0]
		recs := make([]auditEntry, 0, len(ids))
		for _, id := range ids {
			m, err := tx.Media(ctx, id)
			if err != nil {
				return err
			}
			detail := fmt.Sprintf("%d->%d", m.Category, c)
			m.Category = c
			if c != hashset.CSAM && m.Baseline != BaselineNone {
				// Baseline is category 1 material only: an item taken out
				// of it leaves the list industry blocks, and needs two
				// agencies again to return.
				if err := tx.ClearBaselineVotes(ctx, id); err != nil {
					return err
				}
				detail += fmt.Sprintf(" baseline=%s->none", m.Baseline)
				if m.Baseline == BaselineConfirmed {
					withdrawn = append(withdrawn, m)
				}
				m.Baseline = BaselineNone
			}
			if err := tx.UpdateMedia(ctx, &m); err != nil {
				return err
			}
			recs = append(recs, auditEntry{"media.categorise", obj("media", int64(id)), detail})
		}
		if err := s.appendAudits(ctx, tx, a, recs); err != nil {
			return err
		}
		cs := make([]IndexChange, len(withdrawn))
		for i := range withdrawn {
			cs[i] = s.changeOf(withdrawn[i].ID, &withdrawn[i])
		}
		return s.noteChanges(ctx, tx, cs)
	})
	if err == nil {
		for _, m := range withdrawn {
			s.baseline.remove(m)
		}
	}
	return err
}

// CreateSeries opens a series.
func (s *Service) CreateSeries(ctx context.Context, a Actor, name string) (Series, error) {
	if err := a.require(PermEditSeries); err != nil {
		return Series{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return Series{}, fmt.Errorf("%w: a series needs a name", ErrInvalid)
	}
	x := Series{Name: name, Status: Unidentified, AgencyID: a.Agency.ID, Created: s.now()}
	err := s.change(ctx, a, "series.create", func(tx Tx) (string, string, error) {
		err := tx.CreateSeries(ctx, &x)
		return obj("series", int64(x.ID)), "", err
	})
	return x, err
}

// AssignSeries puts items into a series (0 takes them out). Splitting a
// series is creating one and assigning part of its items to it.
func (s *Service) AssignSeries(ctx context.Context, a Actor, ids []MediaID, series SeriesID) error {
	if err := a.require(PermCategorise); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		if series != 0 {
			if _, err := tx.Series(ctx, series); err != nil {
				return err
			}
		}
		recs := make([]auditEntry, 0, len(ids))
		for _, id := range ids {
			m, err := tx.Media(ctx, id)
			if err != nil {
				return err
			}
			m.SeriesID = series
			if err := tx.UpdateMedia(ctx, &m); err != nil {
				return err
			}
			recs = append(recs, auditEntry{"media.series", obj("media", int64(id)), fmt.Sprintf("series=%d", series)})
		}
		return s.appendAudits(ctx, tx, a, recs)
	})
}

// MergeSeries moves every item, claim, victim and offender of from into
// into, and leaves from empty.
func (s *Service) MergeSeries(ctx context.Context, a Actor, into, from SeriesID) error {
	if err := a.require(PermEditSeries); err != nil {
		return err
	}
	if into == from {
		return fmt.Errorf("%w: a series cannot be merged into itself", ErrInvalid)
	}
	return s.change(ctx, a, "series.merge", func(tx Tx) (string, string, error) {
		if _, err := tx.Series(ctx, into); err != nil {
			return "", "", err
		}
		items, err := tx.MediaInSeries(ctx, from)
		if err != nil {
			return "", "", err
		}
		for _, m := range items {
			m.SeriesID = into
			if err := tx.UpdateMedia(ctx, &m); err != nil {
				return "", "", err
			}
		}
		vs, err := tx.Victims(ctx, from)
		if err != nil {
			return "", "", err
		}
		for _, v := range vs {
			v.SeriesID = into
			if err := tx.CreateVictim(ctx, &v); err != nil {
				return "", "", err
			}
		}
		os, err := tx.Offenders(ctx, from)
		if err != nil {
			return "", "", err
		}
		for _, o := range os {
			o.SeriesID = into
			if err := tx.CreateOffender(ctx, &o); err != nil {
				return "", "", err
			}
		}
		x, err := tx.Series(ctx, from)
		if err != nil {
			return "", "", err
		}
		x.Name += fmt.Sprintf(" (merged into %d)", into)
		return obj("series", int64(into)), fmt.Sprintf("from=%d items=%d", from, len(items)), tx.UpdateSeries(ctx, &x)
	})
}

// Claim records that the actor's agency investigates a series.
func (s *Service) Claim(ctx context.Context, a Actor, series SeriesID) (Claim, error) {
	if err := a.require(PermClaim); err != nil {
		return Claim{}, err
	}
	c := Claim{SeriesID: series, AgencyID: a.Agency.ID, UserID: a.User.ID, Since: s.now()}
	err := s.change(ctx, a, "series.claim", func(tx Tx) (string, string, error) {
		x, err := tx.Series(ctx, series)
		if err != nil {
			return "", "", err
		}
		active, err := tx.Claims(ctx, series)
		if err != nil {
			return "", "", err
		}
		for _, o := range active {
			if o.AgencyID == a.Agency.ID {
				return "", "", fmt.Errorf("%w: your agency already claims this series", ErrConflict)
			}
		}
		if x.Status == Unidentified {
			x.Status = UnderInvestigation
			if err := tx.UpdateSeries(ctx, &x); err != nil {
				return "", "", err
			}
		}
		return obj("series", int64(series)), "", tx.CreateClaim(ctx, &c)
	})
	return c, err
}

// Release ends the actor's agency's claim on a series.
func (s *Service) Release(ctx context.Context, a Actor, series SeriesID) error {
	if err := a.require(PermClaim); err != nil {
		return err
	}
	return s.change(ctx, a, "series.release", func(tx Tx) (string, string, error) {
		active, err := tx.Claims(ctx, series)
		if err != nil {
			return "", "", err
		}
		for _, c := range active {
			if c.AgencyID == a.Agency.ID {
				if err := tx.ReleaseClaim(ctx, c.ID, s.now()); err != nil {
					return "", "", err
				}
				if len(active) == 1 {
					x, err := tx.Series(ctx, series)
					if err == nil && x.Status == UnderInvestigation {
						x.Status = Unidentified
						err = tx.UpdateSeries(ctx, &x)
					}
					if err != nil {
						return "", "", err
					}
				}
				return obj("series", int64(series)), "", nil
			}
		}
		return "", "", fmt.Errorf("%w: your agency has no claim on series %d", ErrNotFound, series)
	})
}

// RecordVictim adds a victim to a series; identified ones are attributed
// to the actor's agency, now. A series with an identified victim is
// "victim identified".
func (s *Service) RecordVictim(ctx context.Context, a Actor, v Victim) (Victim, error) {
	if err := a.require(PermIdentify); err != nil {
		return Victim{}, err
	}
	if !oneOf(v.AgeGroup, "", "infant", "toddler", "prepubescent", "pubescent") || !oneOf(v.Sex, "", "female", "male", "unknown") {
		return Victim{}, fmt.Errorf("%w: age group infant, toddler, prepubescent or pubescent; sex female, male or unknown", ErrInvalid)
	}
	if v.Identified {
		now := s.now()
		v.AgencyID, v.IdentifiedAt = a.Agency.ID, &now
	} else {
		v.AgencyID, v.IdentifiedAt = 0, nil
	}
	err := s.change(ctx, a, "victim.record", func(tx Tx) (string, string, error) {
		x, err := tx.Series(ctx, v.SeriesID)
		if err != nil {
			return "", "", err
		}
		if err := tx.CreateVictim(ctx, &v); err != nil {
			return "", "", err
		}
		if v.Identified && x.Status != VictimIdentified {
			x.Status = VictimIdentified
			if err := tx.UpdateSeries(ctx, &x); err != nil {
				return "", "", err
			}
		}
		return obj("victim", int64(v.ID)), fmt.Sprintf("series=%d identified=%v", v.SeriesID, v.Identified), nil
	})
	return v, err
}

// RecordOffender adds an offender to a series, with an optional INTERPOL
// notice reference.
func (s *Service) RecordOffender(ctx context.Context, a Actor, o Offender) (Offender, error) {
	if err := a.require(PermIdentify); err != nil {
		return Offender{}, err
	}
	if !oneOf(string(o.Notice), "", string(GreenNotice), string(BlueNotice)) || len(o.NoticeRef) > 100 {
		return Offender{}, fmt.Errorf("%w: notice is green or blue", ErrInvalid)
	}
	if o.Identified {
		now := s.now()
		o.AgencyID, o.IdentifiedAt = a.Agency.ID, &now
	} else {
		o.AgencyID, o.IdentifiedAt = 0, nil
	}
	err := s.change(ctx, a, "offender.record", func(tx Tx) (string, string, error) {
		if _, err := tx.Series(ctx, o.SeriesID); err != nil {
			return "", "", err
		}
		err := tx.CreateOffender(ctx, &o)
		return obj("offender", int64(o.ID)), fmt.Sprintf("series=%d identified=%v", o.SeriesID, o.Identified), err
	})
	return o, err
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// AddClue notes something on an item, optionally on a region of it.
func (s *Service) AddClue(ctx context.Context, a Actor, c Clue) (Clue, error) {
	if err := a.require(PermClue); err != nil {
		return Clue{}, err
	}
	c.Text = strings.TrimSpace(c.Text)
	if c.Text == "" || len(c.Text) > 4000 || len(c.Tags) > 50 {
		return Clue{}, fmt.Errorf("%w: a clue needs a text (at most 4000 characters)", ErrInvalid)
	}
	if r := c.Rect; r != nil && (r.X < 0 || r.Y < 0 || r.W <= 0 || r.H <= 0) {
		return Clue{}, fmt.Errorf("%w: a clue's rectangle needs a positive size", ErrInvalid)
	}
	c.AgencyID, c.UserID, c.Created = a.Agency.ID, a.User.ID, s.now()
	err := s.change(ctx, a, "clue.add", func(tx Tx) (string, string, error) {
		if _, err := tx.Media(ctx, c.MediaID); err != nil {
			return "", "", err
		}
		err := tx.CreateClue(ctx, &c)
		return obj("clue", int64(c.ID)), fmt.Sprintf("media=%d", c.MediaID), err
	})
	return c, err
}

// VoteBaseline proposes an item for the Baseline list or, from a second,
// distinct agency, confirms it. Only category 1 items qualify.
func (s *Service) VoteBaseline(ctx context.Context, a Actor, id MediaID) (BaselineState, error) {
	if !a.Can(PermBaselinePropose) && !a.Can(PermBaselineConfirm) {
		return "", fmt.Errorf("%w: %s", ErrForbidden, PermBaselinePropose)
	}
	var state BaselineState
	var confirmed Media
	var wasConfirmed bool
	var before Media
	vote := func(tx Tx) (string, string, error) {
		m, err := tx.Media(ctx, id)
		if err != nil {
			return "", "", err
		}
		before = m
		wasConfirmed = m.Baseline == BaselineConfirmed
		if m.Category != hashset.CSAM {
			return "", "", fmt.Errorf("%w: only category 1 items can be Baseline", ErrInvalid)
		}
		votes, err := tx.BaselineVotes(ctx, id)
		if err != nil {
			return "", "", err
		}
		if len(votes) == 0 && !a.Can(PermBaselinePropose) {
			return "", "", fmt.Errorf("%w: %s", ErrForbidden, PermBaselinePropose)
		}
		if len(votes) > 0 && !a.Can(PermBaselineConfirm) {
			return "", "", fmt.Errorf("%w: %s", ErrForbidden, PermBaselineConfirm)
		}
		if err := tx.AddBaselineVote(ctx, id, a.Agency.ID, a.User.ID, s.now()); err != nil {
			return "", "", err
		}
		if votes, err = tx.BaselineVotes(ctx, id); err != nil {
			return "", "", err
		}
		state = BaselineProposed
		if len(votes) >= 2 {
			state = BaselineConfirmed
		}
		if m.Baseline != state {
			m.Baseline = state
			if err := tx.UpdateMedia(ctx, &m); err != nil {
				return "", "", err
			}
		}
		confirmed = m
		return obj("media", int64(id)), fmt.Sprintf("votes=%d state=%s", len(votes), state), nil
	}
	s.replaying.RLock()
	defer s.replaying.RUnlock()
	err := s.store.InTx(ctx, func(tx Tx) error {
		object, detail, err := vote(tx)
		if err != nil {
			return err
		}
		if err := s.appendAudit(ctx, tx, a, "media.baseline", object, detail); err != nil {
			return err
		}
		if state == BaselineConfirmed && !wasConfirmed {
			return s.noteChanges(ctx, tx, []IndexChange{s.changeOf(id, &before)})
		}
		return nil
	})
	if err == nil && state == BaselineConfirmed && !wasConfirmed {
		s.baseline.add(confirmed)
	}
	return state, err
}

// ContactSheet writes a JPEG grid of frames of a video item, for review
// (audited as a read of its pixels, and scoped like one).
func (s *Service) ContactSheet(ctx context.Context, a Actor, id MediaID, tmpDir string, w io.Writer) error {
	if s.cfg.Video == nil {
		return fmt.Errorf("%w: video support is off on this server", ErrInvalid)
	}
	rc, m, err := s.Pixels(ctx, a, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if m.Kind != Video {
		return fmt.Errorf("%w: media %d is not a video", ErrInvalid, id)
	}
	f, err := os.CreateTemp(tmpDir, "sheet-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return vpdq.ContactSheet(ctx, f.Name(), *s.cfg.Video, vpdq.SheetOptions{}, w)
}
