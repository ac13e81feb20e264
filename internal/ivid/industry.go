package ivid

import (
	"context"
	"fmt"
	"strings"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/pdq"
)

// MatchQuery is one hash an industry partner asks about.
type MatchQuery struct {
	Type  string `json:"type"` // pdq, md5, sha1 or sha256
	Value string `json:"value"`
}

// MatchResult says whether a hash matches the Baseline list; nothing about
// cases, agencies or people is ever returned.
type MatchResult struct {
	MatchQuery
	Match    bool   `json:"match"`
	Distance int    `json:"distance,omitempty"`
	ID       string `json:"baseline_id,omitempty"` // stable, opaque
}

// MaxMatchBatch bounds one match request.
const MaxMatchBatch = 10000

// Match looks hashes up in the confirmed Baseline list: exact for digests,
// within the PDQ threshold for PDQ.
func (s *Service) Match(ctx context.Context, a Actor, qs []MatchQuery) ([]MatchResult, error) {
	if err := a.require(PermMatch); err != nil {
		return nil, err
	}
	if len(qs) == 0 || len(qs) > MaxMatchBatch {
		return nil, fmt.Errorf("%w: 1 to %d hashes a request", ErrInvalid, MaxMatchBatch)
	}
	out := make([]MatchResult, len(qs))
	for i, q := range qs {
		r := MatchResult{MatchQuery: q}
		v := strings.ToLower(strings.TrimSpace(q.Value))
		switch q.Type {
		case "md5", "sha1", "sha256":
			want := map[string]int{"md5": 32, "sha1": 40, "sha256": 64}[q.Type]
			if len(v) != want {
				return nil, fmt.Errorf("%w: hash %d: %s must be %d hex digits", ErrInvalid, i+1, q.Type, want)
			}
			if id, ok := s.baseline.exact(v); ok {
				r.Match, r.ID = true, baselineRef(id)
			}
		case "pdq":
			h, err := pdq.ParseHex(v)
			if err != nil {
				return nil, fmt.Errorf("%w: hash %d: %v", ErrInvalid, i+1, err)
			}
			best := hamming.Match{Distance: pdq.Size + 1}
			s.baseline.pdq.RangeFunc(h, s.cfg.NearThreshold, func(m hamming.Match) {
				if m.Distance < best.Distance || m.Distance == best.Distance && m.ID < best.ID {
					best = m
				}
			})
			if best.Distance <= s.cfg.NearThreshold {
				r.Match, r.Distance, r.ID = true, best.Distance, baselineRef(MediaID(best.ID))
			}
		default:
			return nil, fmt.Errorf("%w: hash %d: type is pdq, md5, sha1 or sha256", ErrInvalid, i+1)
		}
		out[i] = r
	}
	return out, nil
}

func baselineRef(id MediaID) string { return fmt.Sprintf("B%d", id) }

// BaselineList streams the confirmed Baseline entries to fn, after
// auditing the export.
func (s *Service) BaselineList(ctx context.Context, a Actor, format string, fn func(hashset.Entry) error) error {
	if err := a.require(PermBaselineList); err != nil {
		return err
	}
	if err := s.record(ctx, a, "export.baseline", "baseline", "format="+format); err != nil {
		return err
	}
	yes := true
	return s.store.EachBaseline(ctx, func(m Media) error {
		e := hashset.Entry{MD5: m.MD5, SHA1: m.SHA1, SHA256: m.SHA256, PDQ: m.PDQ, Category: hashset.CSAM, Baseline: &yes,
			MediaID: baselineRef(m.ID), MediaType: string(m.Kind)}
		if m.PDQ != nil {
			q := m.Quality
			e.Quality = &q
		}
		return fn(e)
	})
}

// BaselineSize is the number of confirmed Baseline entries indexed.
func (s *Service) BaselineSize() int { return s.baseline.len() }

// Stats are the network's figures, like the published ICSE studies.
type Stats struct {
	Media               int64            `json:"media"`
	ByCategory          map[string]int64 `json:"by_category"`
	Series              int              `json:"series"`
	SeriesByStatus      map[string]int   `json:"series_by_status"`
	VictimsIdentified   int              `json:"victims_identified"`
	OffendersIdentified int              `json:"offenders_identified"`
	Agencies            int              `json:"agencies"`
	Countries           int              `json:"countries"`
	// Per country and per year: victims identified.
	VictimsByCountry map[string]int `json:"victims_by_country"`
	VictimsByYear    map[int]int    `json:"victims_by_year"`
	OffendersByYear  map[int]int    `json:"offenders_by_year"`
	// Indicators over identified and unidentified victims.
	ByAgeGroup map[string]int `json:"victims_by_age_group"`
	BySex      map[string]int `json:"victims_by_sex"`
}

// Stats computes the network's figures.
func (s *Service) Stats(ctx context.Context, a Actor) (Stats, error) {
	if err := a.require(PermStats); err != nil {
		return Stats{}, err
	}
	st := Stats{ByCategory: map[string]int64{}, SeriesByStatus: map[string]int{}, VictimsByCountry: map[string]int{},
		VictimsByYear: map[int]int{}, OffendersByYear: map[int]int{}, ByAgeGroup: map[string]int{}, BySex: map[string]int{}}
	counts, err := s.store.CountMedia(ctx)
	if err != nil {
		return st, err
	}
	for c, n := range counts {
		st.Media += n
		st.ByCategory[categoryName(c)] += n
	}
	series, err := s.store.AllSeries(ctx)
	if err != nil {
		return st, err
	}
	st.Series = len(series)
	for _, x := range series {
		st.SeriesByStatus[string(x.Status)]++
	}
	names, err := s.agencyNames(ctx)
	if err != nil {
		return st, err
	}
	countries := map[string]bool{}
	for _, ag := range names {
		if ag.Kind == NationalUnit {
			st.Agencies++
			countries[ag.Country] = true
		}
	}
	st.Countries = len(countries)
	vs, err := s.store.Victims(ctx, 0)
	if err != nil {
		return st, err
	}
	for _, v := range vs {
		st.ByAgeGroup[orUnknown(v.AgeGroup)]++
		st.BySex[orUnknown(v.Sex)]++
		if v.Identified {
			st.VictimsIdentified++
			st.VictimsByCountry[names[v.AgencyID].Country]++
			if v.IdentifiedAt != nil {
				st.VictimsByYear[v.IdentifiedAt.Year()]++
			}
		}
	}
	os, err := s.store.Offenders(ctx, 0)
	if err != nil {
		return st, err
	}
	for _, o := range os {
		if o.Identified {
			st.OffendersIdentified++
			if o.IdentifiedAt != nil {
				st.OffendersByYear[o.IdentifiedAt.Year()]++
			}
		}
	}
	return st, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func categoryName(c hashset.Category) string {
	switch c {
	case hashset.Uncategorised:
		return "uncategorised"
	case hashset.NonPertinent:
		return "0-non-pertinent"
	case hashset.CSAM:
		return "1-csam"
	case hashset.Exploitative:
		return "2-exploitative"
	case hashset.CGI:
		return "3-cgi"
	case hashset.Comparison:
		return "4-comparison"
	}
	return fmt.Sprint(int(c))
}

// Deconfliction lists every series with its claims and identifications:
// what every unit must see before starting work on a series.
func (s *Service) Deconfliction(ctx context.Context, a Actor) ([]SeriesFacts, error) {
	if err := a.require(PermReadFacts); err != nil {
		return nil, err
	}
	names, err := s.agencyNames(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.store.AllSeries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SeriesFacts, 0, len(all))
	for _, x := range all {
		f, err := s.seriesFacts(ctx, x.ID, names)
		if err != nil {
			return nil, err
		}
		out = append(out, *f)
	}
	return out, nil
}

// Series returns one series as the network sees it, with its items.
func (s *Service) Series(ctx context.Context, a Actor, id SeriesID) (*SeriesFacts, []Media, error) {
	if err := a.require(PermReadFacts); err != nil {
		return nil, nil, err
	}
	names, err := s.agencyNames(ctx)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.seriesFacts(ctx, id, names)
	if err != nil {
		return nil, nil, err
	}
	items, err := s.store.MediaInSeries(ctx, id)
	return f, items, err
}

// ReviewQueue lists the actor's agency's uncategorised items.
func (s *Service) ReviewQueue(ctx context.Context, a Actor, limit int) ([]Media, error) {
	if err := a.require(PermCategorise); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.Uncategorised(ctx, a.Agency.ID, limit)
}

// VerifyAudit checks the whole audit trail and returns how many records it
// holds; a *audit.BreakError says where it was tampered with.
func (s *Service) VerifyAudit(ctx context.Context, a Actor) (int64, error) {
	if err := a.require(PermAudit); err != nil {
		return 0, err
	}
	n, err := VerifyTrail(ctx, s.store)
	if err != nil {
		return n, err
	}
	return n, s.record(ctx, a, "audit.verify", "audit", fmt.Sprintf("records=%d", n))
}

// AuditRecords returns the trail's records from seq on (auditors); a
// negative from counts back from the end (-50: the last 50).
func (s *Service) AuditRecords(ctx context.Context, a Actor, from int64, limit int) ([]audit.Record, error) {
	if err := a.require(PermAudit); err != nil {
		return nil, err
	}
	if from < 0 {
		head, _, err := s.store.AuditMark(ctx)
		if err != nil {
			return nil, err
		}
		from = max(1, head+from+1)
	}
	return s.store.AuditRange(ctx, from, limit)
}

// VerifyTrail checks a store's audit trail against its recorded head.
func VerifyTrail(ctx context.Context, st Tx) (int64, error) {
	var v audit.Verifier
	if err := st.EachAudit(ctx, v.Next); err != nil {
		return v.Count, err
	}
	seq, hash, err := st.AuditMark(ctx)
	if err != nil {
		return v.Count, err
	}
	return v.Count, v.End(seq, hash)
}

// SeedBaselineIndex adds hashes to the in-memory Baseline index only, with
// IDs from first on, without database rows: for load benchmarks of the
// match API at sizes a test database cannot hold. Never used by the server.
// It returns the size of the index's tables.
func (s *Service) SeedBaselineIndex(first uint64, hashes []pdq.Hash) (indexBytes int64) {
	es := make([]hamming.Entry, len(hashes))
	for i, h := range hashes {
		es[i] = hamming.Entry{ID: first + uint64(i), Hash: h}
	}
	s.baseline.mu.Lock()
	defer s.baseline.mu.Unlock()
	s.baseline.pdq = hamming.Build(append(s.baseline.pdq.Entries(), es...))
	s.baseline.n += len(hashes)
	return s.baseline.pdq.Bytes()
}
