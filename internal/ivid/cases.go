package ivid

import (
	"context"
	"fmt"
	"strings"

	"github.com/ivid-project/ivid/internal/hashset"
)

// CreateCase opens a case in the actor's agency.
func (s *Service) CreateCase(ctx context.Context, a Actor, c Case) (Case, error) {
	if err := a.require(PermContribute); err != nil {
		return Case{}, err
	}
	c.Reference = strings.TrimSpace(c.Reference)
	if c.Reference == "" || len(c.Reference) > 200 {
		return Case{}, fmt.Errorf("%w: a case needs a reference (at most 200 characters)", ErrInvalid)
	}
	if c.Sharing == "" {
		c.Sharing = SharingAgency
	}
	if c.Sharing != SharingAgency && c.Sharing != SharingNetwork {
		return Case{}, fmt.Errorf("%w: sharing is agency or network", ErrInvalid)
	}
	c.AgencyID, c.CreatedBy, c.Created = a.Agency.ID, a.User.ID, s.now()
	err := s.change(ctx, a, "case.create", func(tx Tx) (string, string, error) {
		err := tx.CreateCase(ctx, &c)
		return obj("case", int64(c.ID)), "sharing=" + string(c.Sharing), err
	})
	return c, conflict(err)
}

// Case returns one of the actor's agency's cases. Another agency's case is
// reported as not found: its existence is not a network fact.
func (s *Service) Case(ctx context.Context, a Actor, id CaseID) (Case, error) {
	if err := a.require(PermReadCases); err != nil {
		return Case{}, err
	}
	c, err := s.store.Case(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if c.AgencyID != a.Agency.ID {
		return Case{}, fmt.Errorf("case %d: %w", id, ErrNotFound)
	}
	return c, nil
}

// Cases lists the actor's agency's cases.
func (s *Service) Cases(ctx context.Context, a Actor) ([]Case, error) {
	if err := a.require(PermReadCases); err != nil {
		return nil, err
	}
	return s.store.Cases(ctx, a.Agency.ID)
}

// CaseMedia lists the items submitted in one of the actor's cases.
func (s *Service) CaseMedia(ctx context.Context, a Actor, id CaseID) ([]Media, error) {
	if _, err := s.Case(ctx, a, id); err != nil {
		return nil, err
	}
	return s.store.MediaInCase(ctx, id)
}

// RecentActivity lists the actor's agency's latest submissions.
func (s *Service) RecentActivity(ctx context.Context, a Actor, limit int) ([]Submission, error) {
	if err := a.require(PermReadCases); err != nil {
		return nil, err
	}
	return s.store.RecentSubmissions(ctx, a.Agency.ID, limit)
}

// ExportCase streams a case's items to fn as hash-set entries (hashes,
// category, series and whether its victims and offenders are identified,
// Baseline), for VICS or ICSE tools. The export is audited; no pixels leave.
func (s *Service) ExportCase(ctx context.Context, a Actor, id CaseID, format string, fn func(hashset.Entry) error) error {
	if err := a.require(PermReadCases); err != nil {
		return err
	}
	items, err := s.CaseMedia(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.record(ctx, a, "export.case", obj("case", int64(id)), fmt.Sprintf("format=%s items=%d", format, len(items))); err != nil {
		return err
	}
	type seriesFacts struct {
		name               string
		victimID, offendID bool
	}
	known := map[SeriesID]seriesFacts{}
	facts := func(sid SeriesID) (seriesFacts, error) {
		if f, ok := known[sid]; ok {
			return f, nil
		}
		sr, err := s.store.Series(ctx, sid)
		if err != nil {
			return seriesFacts{}, err
		}
		f := seriesFacts{name: sr.Name}
		vs, err := s.store.Victims(ctx, sid)
		if err != nil {
			return f, err
		}
		for _, v := range vs {
			f.victimID = f.victimID || v.Identified
		}
		offs, err := s.store.Offenders(ctx, sid)
		if err != nil {
			return f, err
		}
		for _, o := range offs {
			f.offendID = f.offendID || o.Identified
		}
		known[sid] = f
		return f, nil
	}
	for _, m := range items {
		e := hashset.Entry{MD5: m.MD5, SHA1: m.SHA1, SHA256: m.SHA256, PDQ: m.PDQ, VPDQ: m.VPDQ, PhotoDNA: m.PhotoDNA,
			Category: m.Category, MediaID: fmt.Sprintf("ivid:%d", m.ID), MediaType: string(m.Kind)}
		if m.PDQ != nil {
			q := m.Quality
			e.Quality = &q
		}
		stored := m.Stored
		e.FileAvailable = &stored
		subs, err := s.store.Submissions(ctx, m.ID)
		if err != nil {
			return err
		}
		e.Submissions = len(subs)
		if m.Baseline == BaselineConfirmed {
			yes := true
			e.Baseline = &yes
		}
		if m.SeriesID != 0 {
			f, err := facts(m.SeriesID)
			if err != nil {
				return err
			}
			e.Series, e.VictimIdentified, e.OffenderIdentified = f.name, &f.victimID, &f.offendID
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
