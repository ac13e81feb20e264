package ivid

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/pdq"
)

// LookupResult is what the database knows about a hash or a file that is
// not contributed: exact items and near-duplicates, with their facts.
type LookupResult struct {
	Query string       `json:"query"`
	Kind  string       `json:"kind"` // md5, sha1, sha256/pdq, file
	Exact []Comparison `json:"exact,omitempty"`
	Near  []LinkFacts  `json:"near,omitempty"`
}

var hexRE = regexp.MustCompile(`^[0-9a-f]+$`)

// LookupHash answers "what is known about this?" for an MD5, SHA-1,
// SHA-256 or PDQ hash (64 hex digits are tried as both).
func (s *Service) LookupHash(ctx context.Context, a Actor, q string) (LookupResult, error) {
	if err := a.require(PermReadFacts); err != nil {
		return LookupResult{}, err
	}
	q = strings.ToLower(strings.TrimSpace(q))
	r := LookupResult{Query: q}
	if !hexRE.MatchString(q) {
		return r, fmt.Errorf("%w: a hash is hexadecimal: MD5 (32), SHA-1 (40), SHA-256 or PDQ (64)", ErrInvalid)
	}
	var exact []Media
	switch len(q) {
	case 32, 40:
		r.Kind = map[int]string{32: "md5", 40: "sha1"}[len(q)]
		md5, sha1 := q, ""
		if len(q) == 40 {
			md5, sha1 = "", q
		}
		ms, err := s.store.MediaByDigest(ctx, md5, sha1)
		if err != nil {
			return r, err
		}
		exact = ms
	case 64:
		r.Kind = "sha256/pdq"
		m, err := s.store.MediaBySHA256(ctx, q)
		if err == nil {
			exact = append(exact, m)
		} else if !errors.Is(err, ErrNotFound) {
			return r, err
		}
		h, _ := pdq.ParseHex(q)
		probe := Media{PDQ: &h, Quality: pdq.MinQuality}
		c, err := s.compare(ctx, probe, nil, nil)
		if err != nil {
			return r, err
		}
		r.Near = c.Links
	default:
		return r, fmt.Errorf("%w: a hash is hexadecimal: MD5 (32), SHA-1 (40), SHA-256 or PDQ (64)", ErrInvalid)
	}
	for _, m := range exact {
		c, err := s.compare(ctx, m, nil, nil)
		if err != nil {
			return r, err
		}
		r.Exact = append(r.Exact, c)
	}
	return r, nil
}

// LookupFile hashes a file without storing it and says what is known:
// the same content, near-duplicates (dihedral variants included), same
// camera, same place.
func (s *Service) LookupFile(ctx context.Context, a Actor, name, path string) (LookupResult, error) {
	if err := a.require(PermReadFacts); err != nil {
		return LookupResult{}, err
	}
	rec, _, err := filehash.New(filehash.Options{Dihedral: true, MaxPixels: s.cfg.MaxPixels, DecodeLimit: s.cfg.DecodeLimit, Stuck: &s.stuck, Decoders: s.cfg.Decoders, Video: s.denseVideo()}).FileContext(ctx, path)
	if err != nil && rec.SHA256 == "" {
		return LookupResult{}, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	r := LookupResult{Query: name, Kind: "file"}
	if m, err := s.store.MediaBySHA256(ctx, rec.SHA256); err == nil {
		c, err := s.compare(ctx, m, rec.Dihedral, nil)
		if err != nil {
			return r, err
		}
		r.Exact = append(r.Exact, c)
		return r, nil
	} else if !errors.Is(err, ErrNotFound) {
		return r, err
	}
	probe := mediaFromRecord(rec)
	c, err := s.compare(ctx, probe, rec.Dihedral, nil)
	r.Near = c.Links
	return r, err
}

// ProposedBaseline lists items proposed for Baseline and not yet
// confirmed, for a second agency or the hub to review.
func (s *Service) ProposedBaseline(ctx context.Context, a Actor) ([]Media, error) {
	if err := a.require(PermBaselineConfirm); err != nil {
		return nil, err
	}
	return s.store.MediaByBaseline(ctx, BaselineProposed, 500)
}
