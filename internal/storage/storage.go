// Package storage keeps ivid's domain in SQLite (the embedded default,
// pure Go) or PostgreSQL (production, through pgx), with one set of
// forward-only migrations per dialect and the same queries for both.
package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/ivid-project/ivid/internal/ivid"
)

// Dialect is the SQL flavour of a database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

//go:embed migrations
var migrations embed.FS

// DB is an ivid.Store over database/sql.
type DB struct {
	queries
	db *sql.DB
}

var _ ivid.Store = (*DB)(nil)

// Open connects to a database: a postgres:// or postgresql:// URL, or
// otherwise the path of an SQLite file (created if missing). It does not
// migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var db *sql.DB
	var d Dialect
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		d = Postgres
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(16)
		}
	} else {
		d = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		abs, aerr := filepath.Abs(path)
		if aerr != nil {
			return nil, aerr
		}
		// WAL with synchronous=FULL: a committed transaction survives a
		// crash or power loss. BEGIN IMMEDIATE takes the write lock up
		// front so that concurrent writers wait instead of failing.
		q := url.Values{}
		for _, p := range []string{"busy_timeout(15000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		db, err = sql.Open("sqlite", "file:"+abs+"?"+q.Encode())
		if err == nil {
			db.SetMaxOpenConns(4)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	out := &DB{queries: queries{q: db, d: d}, db: db}
	if d == SQLite {
		out.stmts = &stmtCache{db: db, m: map[string]*sql.Stmt{}}
	}
	return out, nil
}

// Dialect reports the database's flavour.
func (db *DB) Dialect() Dialect { return db.d }

func (db *DB) Close() error {
	if db.stmts != nil {
		db.stmts.close()
	}
	return db.db.Close()
}

// SQL is the underlying pool, for maintenance tools and tests that must
// reach under the domain (to tamper with the audit trail, say).
func (db *DB) SQL() *sql.DB { return db.db }

func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// CreateDatabase creates an empty database named prefix and a random
// suffix on the PostgreSQL server at base (tests and benchmarks use
// one each), and returns its URL and a function that drops it.
func CreateDatabase(ctx context.Context, base, prefix string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("want a postgres:// URL, got %q", base)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), func() {
		if a, err := sql.Open("pgx", base); err == nil {
			a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	}, nil
}

// Analyze refreshes PostgreSQL's statistics of the tables a bulk
// contribution grows. Without them (autovacuum off, or a minute behind an
// import into a new database), the planner takes each of 256 digests for
// 0.5 % of the items and reads the whole table instead of its index:
// 'ivid bench hashlist --entries 20000' gave 1.2-1.6 ms an entry on its
// second pass, 0.2 ms once analysed. SQLite's planner needs no statistics
// to prefer these indexes.
func (db *DB) Analyze(ctx context.Context) error {
	if db.d != Postgres {
		return nil
	}
	_, err := db.db.ExecContext(ctx, `ANALYZE media, submissions`)
	return err
}

// InTx runs fn in a transaction, committed if fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(ivid.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&queries{q: tx, d: db.d, tx: true, stmts: db.stmts}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func (db *DB) migrations() ([]migration, error) {
	dir := "migrations/" + string(db.d)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: bad name", e.Name())
		}
		b, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{v, e.Name(), string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations: %s out of sequence", m.name)
		}
	}
	return out, nil
}

// Version returns the schema version applied and the one this build
// expects.
func (db *DB) Version(ctx context.Context) (have, want int, err error) {
	ms, err := db.migrations()
	if err != nil {
		return 0, 0, err
	}
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, 0, err
	}
	err = db.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&have)
	return have, len(ms), err
}

// ErrSchemaNewer means the database was migrated by a newer ivid.
var ErrSchemaNewer = errors.New("the database schema is newer than this ivid: upgrade ivid")

// Migrate applies the migrations not yet applied, each in its own
// transaction together with its version record. It returns how many ran.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	have, want, err := db.Version(ctx)
	if err != nil {
		return 0, err
	}
	if have > want {
		return 0, fmt.Errorf("%w (schema %d, this build %d)", ErrSchemaNewer, have, want)
	}
	ms, _ := db.migrations()
	n := 0
	for _, m := range ms[have:] {
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return n, err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return n, fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, rebind(db.d, `INSERT INTO schema_version (version) VALUES (?)`), m.version); err != nil {
			tx.Rollback()
			return n, err
		}
		if err := tx.Commit(); err != nil {
			return n, fmt.Errorf("migration %s: %w", m.name, err)
		}
		n++
	}
	return n, nil
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements ivid.Tx on a connection pool or a transaction.
type queries struct {
	q     querier
	d     Dialect
	tx    bool
	stmts *stmtCache // nil: every query is prepared anew
}

// stmtCache keeps SQLite's prepared statements by query text: preparing
// (parsing and planning) took about 0.4 ms of each contribution's CPU.
// PostgreSQL needs none: pgx caches its statements itself. Query texts
// built on the fly (lists of IDs) would grow it without end, so it stops
// at maxStmts.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxStmts = 256

// stmt returns the prepared statement for q, bound to tx if tx is not nil,
// or nil if q is not cached.
func (c *stmtCache) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[q]
	if !ok && len(c.m) < maxStmts {
		var err error
		if st, err = c.db.PrepareContext(ctx, q); err != nil {
			c.mu.Unlock()
			return nil // the query itself reports the error
		}
		c.m[q] = st
	}
	c.mu.Unlock()
	if st == nil || tx == nil {
		return st
	}
	// Prepared once per connection and reused; closed with tx.
	return tx.StmtContext(ctx, st)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	clear(c.m)
}

func (s *queries) prepared(ctx context.Context, q string) *sql.Stmt {
	if s.stmts == nil {
		return nil
	}
	tx, _ := s.q.(*sql.Tx)
	return s.stmts.stmt(ctx, tx, q)
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(d Dialect, q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *queries) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := s.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.q.ExecContext(ctx, rebind(s.d, q), args...)
}

func (s *queries) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.q.QueryContext(ctx, rebind(s.d, q), args...)
}

func (s *queries) row(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.q.QueryRowContext(ctx, rebind(s.d, q), args...)
}

// insert runs an INSERT … RETURNING id.
func (s *queries) insert(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := s.row(ctx, q+" RETURNING id", args...).Scan(&id)
	return id, err
}

// pow2Chunk is how many of n rows the next multi-row statement takes: the
// largest power of two up to n and max (a power of two). Statements of a
// few sizes only keep the statement caches small.
func pow2Chunk(n, max int) int {
	c := max
	for c > n {
		c /= 2
	}
	return c
}

// rowsOf returns n rows of cols placeholders: "(?, ?), (?, ?)".
func rowsOf(n, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", n-1) + row
}

// inList returns the placeholders and arguments of an IN list of vs (1
// to inMax values), padded with repeats of the last value to a power of
// two, so that few query texts are prepared.
func inList[T any](vs []T) (string, []any) {
	n := inMax
	for n/2 >= len(vs) {
		n /= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = vs[min(i, len(vs)-1)]
	}
	return "(" + strings.Repeat("?, ", n-1) + "?)", args
}

// inMax is the most values an IN list takes; longer lists are queried in
// parts.
const inMax = 256

// notFound maps sql.ErrNoRows to ivid.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ivid.ErrNotFound)
	}
	return err
}

// Times are stored as microseconds since the epoch, in both dialects.
func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullTS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

// nullString stores "" as NULL.
func nullString(v string) sql.NullString { return sql.NullString{String: v, Valid: v != ""} }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// each scans every row of a query with scan and passes it to fn.
func each[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error), fn func(T) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// all collects every row of a query.
func all[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	var out []T
	err = each(rows, err, scan, func(v T) error { out = append(out, v); return nil })
	return out, err
}
