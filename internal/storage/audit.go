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

// AppendAudit inserts records in statements of up to 64 rows, sized by
// powers of two so that few query texts are prepared, then moves the head
// once.
func (s *queries) AppendAudit(ctx context.Context, rs ...audit.Record) error {
	if len(rs) == 0 {
		return nil
	}
	for rest := rs; len(rest) > 0; {
		n := pow2Chunk(len(rest), 64)
		q := `INSERT INTO audit (seq, at, user_id, agency_id, action, object, detail, prev, hash) VALUES ` + rowsOf(n, 9)
		args := make([]any, 0, 9*n)
		for _, r := range rest[:n] {
			args = append(args, r.Seq, ts(r.Time), r.UserID, r.AgencyID, r.Action, r.Object, r.Detail, r.Prev, r.Hash)
		}
		if _, err := s.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		rest = rest[n:]
	}
	last := rs[len(rs)-1]
	if _, err := s.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, last.Seq, last.Hash); err != nil {
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
