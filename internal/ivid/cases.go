package ivid

import (
	"context"
	"fmt"
	"strings"
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
