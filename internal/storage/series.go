package storage

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/ivid-project/ivid/internal/ivid"
)

func (s *queries) CreateSeries(ctx context.Context, x *ivid.Series) error {
	id, err := s.insert(ctx, `INSERT INTO series (name, status, agency_id, created) VALUES (?, ?, ?, ?)`, x.Name, string(x.Status), x.AgencyID, ts(x.Created))
	x.ID = ivid.SeriesID(id)
	return err
}

func (s *queries) UpdateSeries(ctx context.Context, x *ivid.Series) error {
	_, err := s.exec(ctx, `UPDATE series SET name = ?, status = ? WHERE id = ?`, x.Name, string(x.Status), x.ID)
	return err
}

func scanSeries(r interface{ Scan(...any) error }) (ivid.Series, error) {
	var x ivid.Series
	var status string
	var created int64
	err := r.Scan(&x.ID, &x.Name, &status, &x.AgencyID, &created)
	x.Status, x.Created = ivid.SeriesStatus(status), fromTS(created)
	return x, err
}

func (s *queries) Series(ctx context.Context, id ivid.SeriesID) (ivid.Series, error) {
	x, err := scanSeries(s.row(ctx, `SELECT id, name, status, agency_id, created FROM series WHERE id = ?`, id))
	return x, notFound(err, "series")
}

func (s *queries) AllSeries(ctx context.Context) ([]ivid.Series, error) {
	rows, err := s.query(ctx, `SELECT id, name, status, agency_id, created FROM series ORDER BY id`)
	return all(rows, err, func(r *sql.Rows) (ivid.Series, error) { return scanSeries(r) })
}

func (s *queries) CreateClaim(ctx context.Context, c *ivid.Claim) error {
	id, err := s.insert(ctx, `INSERT INTO claims (series_id, agency_id, user_id, since) VALUES (?, ?, ?, ?)`, c.SeriesID, c.AgencyID, c.UserID, ts(c.Since))
	c.ID = id
	return err
}

func (s *queries) ReleaseClaim(ctx context.Context, id int64, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE claims SET released = ? WHERE id = ? AND released IS NULL`, ts(at), id)
	return err
}

func (s *queries) Claims(ctx context.Context, series ivid.SeriesID) ([]ivid.Claim, error) {
	rows, err := s.query(ctx, `SELECT id, series_id, agency_id, user_id, since, released FROM claims WHERE released IS NULL AND (? = 0 OR series_id = ?) ORDER BY id`, series, series)
	return all(rows, err, func(r *sql.Rows) (ivid.Claim, error) {
		var c ivid.Claim
		var since int64
		var released sql.NullInt64
		err := r.Scan(&c.ID, &c.SeriesID, &c.AgencyID, &c.UserID, &since, &released)
		c.Since, c.Released = fromTS(since), fromNullTS(released)
		return c, err
	})
}

func nullID(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }

func (s *queries) CreateVictim(ctx context.Context, v *ivid.Victim) error {
	id, err := s.insert(ctx, `INSERT INTO victims (series_id, identified, agency_id, identified_at, age_group, sex) VALUES (?, ?, ?, ?, ?, ?)`,
		v.SeriesID, b2i(v.Identified), nullID(int64(v.AgencyID)), nullTS(v.IdentifiedAt), v.AgeGroup, v.Sex)
	v.ID = ivid.VictimID(id)
	return err
}

func (s *queries) UpdateVictim(ctx context.Context, v *ivid.Victim) error {
	_, err := s.exec(ctx, `UPDATE victims SET identified = ?, agency_id = ?, identified_at = ?, age_group = ?, sex = ? WHERE id = ?`,
		b2i(v.Identified), nullID(int64(v.AgencyID)), nullTS(v.IdentifiedAt), v.AgeGroup, v.Sex, v.ID)
	return err
}

func (s *queries) Victims(ctx context.Context, series ivid.SeriesID) ([]ivid.Victim, error) {
	rows, err := s.query(ctx, `SELECT id, series_id, identified, agency_id, identified_at, age_group, sex FROM victims WHERE ? = 0 OR series_id = ? ORDER BY id`, series, series)
	return all(rows, err, func(r *sql.Rows) (ivid.Victim, error) {
		var v ivid.Victim
		var ident int
		var agency, at sql.NullInt64
		err := r.Scan(&v.ID, &v.SeriesID, &ident, &agency, &at, &v.AgeGroup, &v.Sex)
		v.Identified, v.AgencyID, v.IdentifiedAt = ident == 1, ivid.AgencyID(agency.Int64), fromNullTS(at)
		return v, err
	})
}

func (s *queries) CreateOffender(ctx context.Context, o *ivid.Offender) error {
	id, err := s.insert(ctx, `INSERT INTO offenders (series_id, identified, agency_id, identified_at, notice, notice_ref) VALUES (?, ?, ?, ?, ?, ?)`,
		o.SeriesID, b2i(o.Identified), nullID(int64(o.AgencyID)), nullTS(o.IdentifiedAt), string(o.Notice), o.NoticeRef)
	o.ID = ivid.OffenderID(id)
	return err
}

func (s *queries) UpdateOffender(ctx context.Context, o *ivid.Offender) error {
	_, err := s.exec(ctx, `UPDATE offenders SET identified = ?, agency_id = ?, identified_at = ?, notice = ?, notice_ref = ? WHERE id = ?`,
		b2i(o.Identified), nullID(int64(o.AgencyID)), nullTS(o.IdentifiedAt), string(o.Notice), o.NoticeRef, o.ID)
	return err
}

func (s *queries) Offenders(ctx context.Context, series ivid.SeriesID) ([]ivid.Offender, error) {
	rows, err := s.query(ctx, `SELECT id, series_id, identified, agency_id, identified_at, notice, notice_ref FROM offenders WHERE ? = 0 OR series_id = ? ORDER BY id`, series, series)
	return all(rows, err, func(r *sql.Rows) (ivid.Offender, error) {
		var o ivid.Offender
		var ident int
		var agency, at sql.NullInt64
		var notice string
		err := r.Scan(&o.ID, &o.SeriesID, &ident, &agency, &at, &notice, &o.NoticeRef)
		o.Identified, o.AgencyID, o.IdentifiedAt, o.Notice = ident == 1, ivid.AgencyID(agency.Int64), fromNullTS(at), ivid.NoticeType(notice)
		return o, err
	})
}

func (s *queries) CreateClue(ctx context.Context, c *ivid.Clue) error {
	var x, y, w, h sql.NullInt64
	if c.Rect != nil {
		x, y, w, h = nullInt(c.Rect.X), nullInt(c.Rect.Y), nullInt(c.Rect.W), nullInt(c.Rect.H)
	}
	id, err := s.insert(ctx, `INSERT INTO clues (media_id, agency_id, user_id, text, tags, x, y, w, h, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.MediaID, c.AgencyID, c.UserID, c.Text, strings.Join(c.Tags, ","), x, y, w, h, ts(c.Created))
	c.ID = ivid.ClueID(id)
	return err
}

func nullInt(v int) sql.NullInt64 { return sql.NullInt64{Int64: int64(v), Valid: true} }

func (s *queries) Clues(ctx context.Context, m ivid.MediaID) ([]ivid.Clue, error) {
	rows, err := s.query(ctx, `SELECT id, media_id, agency_id, user_id, text, tags, x, y, w, h, created FROM clues WHERE media_id = ? ORDER BY id`, m)
	return all(rows, err, func(r *sql.Rows) (ivid.Clue, error) {
		var c ivid.Clue
		var tags string
		var x, y, w, h sql.NullInt64
		var created int64
		err := r.Scan(&c.ID, &c.MediaID, &c.AgencyID, &c.UserID, &c.Text, &tags, &x, &y, &w, &h, &created)
		if tags != "" {
			c.Tags = strings.Split(tags, ",")
		}
		if x.Valid {
			c.Rect = &ivid.Rect{X: int(x.Int64), Y: int(y.Int64), W: int(w.Int64), H: int(h.Int64)}
		}
		c.Created = fromTS(created)
		return c, err
	})
}

func (s *queries) AddBaselineVote(ctx context.Context, m ivid.MediaID, a ivid.AgencyID, u ivid.UserID, at time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO baseline_votes (media_id, agency_id, user_id, at) VALUES (?, ?, ?, ?) ON CONFLICT (media_id, agency_id) DO NOTHING`, m, a, u, ts(at))
	return err
}

func (s *queries) ClearBaselineVotes(ctx context.Context, m ivid.MediaID) error {
	_, err := s.exec(ctx, `DELETE FROM baseline_votes WHERE media_id = ?`, m)
	return err
}

func (s *queries) BaselineVotes(ctx context.Context, m ivid.MediaID) ([]ivid.AgencyID, error) {
	rows, err := s.query(ctx, `SELECT agency_id FROM baseline_votes WHERE media_id = ? ORDER BY at`, m)
	return all(rows, err, func(r *sql.Rows) (ivid.AgencyID, error) {
		var a ivid.AgencyID
		return a, r.Scan(&a)
	})
}
