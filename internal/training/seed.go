// Package training seeds an ivid server with a synthetic training data set
// ("exercices de simulation"): agencies of several countries, users of
// every role, cases, series in every status, identifications and claims,
// over benign generated landscapes with near-duplicate variants. No real
// material, ever.
package training

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ivid-project/ivid/internal/demo"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
)

// Account is a seeded user to print for trainees.
type Account struct {
	Name, Password, Agency, Roles string
	Token                         string `json:",omitempty"` // industry only
}

// Password is every training account's password (training mode only).
const Password = "training-password"

// Seed fills an empty server through its services, as users would, so that
// the audit trail and indexes are those of real use. dir receives the
// generated images. It does nothing if the database already holds cases.
func Seed(ctx context.Context, svc *ivid.Service, root ivid.Actor, dir string) ([]Account, error) {
	s := &seeder{ctx: ctx, svc: svc, root: root, actors: map[string]ivid.Actor{}}
	agencies := []ivid.Agency{
		{Name: "OCRVP (France)", Country: "FR", Kind: ivid.NationalUnit},
		{Name: "BKA (Germany)", Country: "DE", Kind: ivid.NationalUnit},
		{Name: "Policía Nacional (Spain)", Country: "ES", Kind: ivid.NationalUnit},
		{Name: "Polícia Federal (Brazil)", Country: "BR", Kind: ivid.NationalUnit},
		{Name: "Example Hosting", Kind: ivid.Industry},
	}
	ags := map[string]ivid.Agency{"hub": root.Agency}
	for _, a := range agencies {
		ag, err := svc.CreateAgency(ctx, root, a)
		if err != nil {
			return nil, fmt.Errorf("seed agency: %w", err)
		}
		key := a.Country
		if key == "" {
			key = "industry"
		}
		ags[key] = ag
	}
	users := []struct{ name, agency, roles string }{
		{"fr.specialist", "FR", "specialist"},
		{"fr.investigator", "FR", "investigator"},
		{"fr.admin", "FR", "agency-admin"},
		{"de.specialist", "DE", "specialist"},
		{"es.specialist", "ES", "specialist"},
		{"br.viewer", "BR", "viewer"},
		{"hub.auditor", "hub", "auditor"},
		{"industry.api", "industry", "industry"},
		{"hub.monitor", "hub", "monitor"},
	}
	var accounts []Account
	for _, u := range users {
		roles, _ := ivid.ParseRoles(u.roles)
		usr, _, err := svc.CreateUser(ctx, root, u.name, ags[u.agency].ID, roles, Password)
		if err != nil {
			return nil, fmt.Errorf("seed user: %w", err)
		}
		s.actors[u.name] = ivid.Actor{User: usr, Agency: ags[u.agency]}
		acc := Account{Name: u.name, Password: Password, Agency: ags[u.agency].Name, Roles: u.roles}
		if roles.HubIssuesTokens() {
			tok, _, err := svc.CreateToken(ctx, root, usr.ID, "training", 0)
			if err != nil {
				return nil, err
			}
			acc.Token = tok
		}
		accounts = append(accounts, acc)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// France: scenes 1-3 (agency case) — a series whose victim France
	// identified, with an offender under a green notice.
	frCase := s.newCase("fr.specialist", "FR-2025-0412", ivid.SharingAgency)
	// One camera, on the coast of Brittany: the series page maps its items,
	// and a later photo from the same camera or the same spot is linked.
	brest := &demo.Camera{Make: "Synthetic", Model: "Trainer One", Serial: "TRN-0412", Lat: 48.3904, Lon: -4.4861}
	fr := s.contribute("fr.specialist", frCase, dir, []int{1, 2, 3}, demo.Original, brest)
	// Germany: scenes 4-5 (network case) — a series Germany investigates.
	deCase := s.newCase("de.specialist", "DE-ZOLL-77", ivid.SharingNetwork)
	de := s.contribute("de.specialist", deCase, dir, []int{4, 5}, demo.Original, nil)
	// Spain: scene 6 — a series nobody has claimed yet; and near copies of
	// France's and Germany's scenes, which the comparison links.
	esCase := s.newCase("es.specialist", "ES-UCO-3", ivid.SharingAgency)
	// Spain's scene 6 was taken 20 m from France's photos, with the same
	// camera body: both links show.
	nearBrest := &demo.Camera{Make: "Synthetic", Model: "Trainer One", Serial: "TRN-0412", Lat: 48.39058, Lon: -4.4861}
	es := s.contribute("es.specialist", esCase, dir, []int{6}, demo.Original, nearBrest)
	s.contribute("es.specialist", esCase, dir, []int{1, 4}, demo.Resized, nil)
	s.contribute("es.specialist", esCase, dir, []int{2}, demo.Mirrored, nil)
	// New, uncategorised items for the review queue.
	s.contribute("fr.investigator", frCase, dir, []int{7, 8}, demo.Original, nil)
	if s.err != nil {
		return nil, s.err
	}

	lighthouse := s.series("fr.specialist", "Lighthouse", fr, hashset.CSAM)
	s.claim("fr.specialist", lighthouse)
	s.victim("fr.specialist", lighthouse, true, "prepubescent", "female")
	s.offender("fr.specialist", lighthouse, true, ivid.GreenNotice, "G-2025-1187")
	harbour := s.series("de.specialist", "Harbour", de, hashset.CSAM)
	s.claim("de.specialist", harbour)
	s.victim("de.specialist", harbour, false, "pubescent", "male")
	s.series("es.specialist", "Orchard", es, hashset.Exploitative)
	s.clue("fr.specialist", fr[0], "Lighthouse with a red band: coastline of Brittany?", []string{"place", "landmark"}, &ivid.Rect{X: 40, Y: 30, W: 120, H: 160})
	// Baseline: proposed by France, confirmed by Germany.
	for _, m := range fr[:2] {
		s.baseline("fr.specialist", m)
		s.baseline("de.specialist", m)
	}
	s.baseline("fr.specialist", fr[2]) // proposed only
	if s.err != nil {
		return nil, s.err
	}
	return accounts, nil
}

type seeder struct {
	ctx    context.Context
	svc    *ivid.Service
	root   ivid.Actor
	actors map[string]ivid.Actor
	err    error
}

func (s *seeder) fail(err error) {
	if s.err == nil && err != nil {
		s.err = fmt.Errorf("seed: %w", err)
	}
}

func (s *seeder) newCase(user, ref string, sharing ivid.Sharing) ivid.CaseID {
	c, err := s.svc.CreateCase(s.ctx, s.actors[user], ivid.Case{Reference: ref, Title: "Training exercise", Sharing: sharing})
	s.fail(err)
	return c.ID
}

func (s *seeder) contribute(user string, c ivid.CaseID, dir string, scenes []int, v demo.Variant, cam *demo.Camera) []ivid.MediaID {
	var ids []ivid.MediaID
	for _, n := range scenes {
		if s.err != nil {
			return nil
		}
		img := demo.Apply(demo.Scene(n, 640, 426), v)
		b, ext, err := demo.Encode(img, v)
		if err == nil && cam != nil {
			// A camera writes JPEG with EXIF.
			if b, ext, err = demo.Encode(img, demo.Brighter); err == nil {
				b, err = demo.WithEXIF(b, *cam)
			}
		}
		if err != nil {
			s.fail(err)
			return nil
		}
		p := filepath.Join(dir, fmt.Sprintf("scene-%03d-%s%s", n, v, ext))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			s.fail(err)
			return nil
		}
		cmp, err := s.svc.Contribute(s.ctx, s.actors[user], c, filepath.Base(p), p)
		s.fail(err)
		ids = append(ids, cmp.Media.ID)
	}
	return ids
}

func (s *seeder) series(user, name string, items []ivid.MediaID, c hashset.Category) ivid.SeriesID {
	if s.err != nil {
		return 0
	}
	a := s.actors[user]
	x, err := s.svc.CreateSeries(s.ctx, a, name)
	s.fail(err)
	s.fail(s.svc.AssignSeries(s.ctx, a, items, x.ID))
	s.fail(s.svc.Categorise(s.ctx, a, items, c))
	return x.ID
}

func (s *seeder) claim(user string, x ivid.SeriesID) {
	if s.err == nil {
		_, err := s.svc.Claim(s.ctx, s.actors[user], x)
		s.fail(err)
	}
}

func (s *seeder) victim(user string, x ivid.SeriesID, identified bool, age, sex string) {
	if s.err == nil {
		_, err := s.svc.RecordVictim(s.ctx, s.actors[user], ivid.Victim{SeriesID: x, Identified: identified, AgeGroup: age, Sex: sex})
		s.fail(err)
	}
}

func (s *seeder) offender(user string, x ivid.SeriesID, identified bool, n ivid.NoticeType, ref string) {
	if s.err == nil {
		_, err := s.svc.RecordOffender(s.ctx, s.actors[user], ivid.Offender{SeriesID: x, Identified: identified, Notice: n, NoticeRef: ref})
		s.fail(err)
	}
}

func (s *seeder) clue(user string, m ivid.MediaID, text string, tags []string, r *ivid.Rect) {
	if s.err == nil {
		_, err := s.svc.AddClue(s.ctx, s.actors[user], ivid.Clue{MediaID: m, Text: text, Tags: tags, Rect: r})
		s.fail(err)
	}
}

func (s *seeder) baseline(user string, m ivid.MediaID) {
	if s.err == nil {
		_, err := s.svc.VoteBaseline(s.ctx, s.actors[user], m)
		s.fail(err)
	}
}
