package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ivid-project/ivid/internal/audit"
)

func (s *queries) AuditHead(ctx context.Context) (*audit.Record, error) {
	var seq int64
	var hash string
	q := `SELECT seq, hash FROM audit_head WHERE id = 1`
	if s.tx && s.d == Postgres {
		q += ` FOR UPDATE` // SQLite transactions already hold the write lock
	}
	if err := s.row(ctx, q).Scan(&seq, &hash); err != nil {
		return nil, fmt.Errorf("audit head: %w", err)
	}
	if seq == 0 {
		return nil, nil
	}
	r, err := scanAudit(s.row(ctx, `SELECT seq, at, user_id, agency_id, action, object, detail, prev, hash FROM audit WHERE seq = ?`, seq))
	if err != nil {
		return nil, fmt.Errorf("audit head record %d: %w", seq, err)
	}
	return &r, nil
}

func (s *queries) AppendAudit(ctx context.Context, r audit.Record) error {
	if _, err := s.exec(ctx, `INSERT INTO audit (seq, at, user_id, agency_id, action, object, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, ts(r.Time), r.UserID, r.AgencyID, r.Action, r.Object, r.Detail, r.Prev, r.Hash); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	if _, err := s.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, r.Seq, r.Hash); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

func scanAudit(r interface{ Scan(...any) error }) (audit.Record, error) {
	var a audit.Record
	var at int64
	err := r.Scan(&a.Seq, &at, &a.UserID, &a.AgencyID, &a.Action, &a.Object, &a.Detail, &a.Prev, &a.Hash)
	a.Time = fromTS(at)
	return a, err
}

func (s *queries) AuditRange(ctx context.Context, from int64, limit int) ([]audit.Record, error) {
	rows, err := s.query(ctx, `SELECT seq, at, user_id, agency_id, action, object, detail, prev, hash FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?`, from, limit)
	return all(rows, err, func(r *sql.Rows) (audit.Record, error) { return scanAudit(r) })
}

func (s *queries) EachAudit(ctx context.Context, fn func(audit.Record) error) error {
	rows, err := s.query(ctx, `SELECT seq, at, user_id, agency_id, action, object, detail, prev, hash FROM audit ORDER BY seq`)
	return each(rows, err, func(r *sql.Rows) (audit.Record, error) { return scanAudit(r) }, fn)
}

func (s *queries) AuditMark(ctx context.Context) (seq int64, hash string, err error) {
	err = s.row(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	return seq, hash, err
}
