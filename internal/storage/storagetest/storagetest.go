// Package storagetest gives tests real databases: a fresh SQLite file
// always, and a fresh PostgreSQL database when IVID_TEST_POSTGRES holds
// the URL of a server to create it on. Under CI=true a missing PostgreSQL
// is a failure, not a skip.
package storagetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ivid-project/ivid/internal/storage"
)

// EnvPostgres names the variable holding the PostgreSQL URL.
const EnvPostgres = "IVID_TEST_POSTGRES"

// Engine opens a fresh, migrated database for a test.
type Engine struct {
	Name string
	Open func(t testing.TB) *storage.DB
}

// Engines returns SQLite, and PostgreSQL when configured.
func Engines(t testing.TB) []Engine {
	es := []Engine{{Name: "sqlite", Open: SQLite}}
	if u := os.Getenv(EnvPostgres); u != "" {
		es = append(es, Engine{Name: "postgres", Open: func(t testing.TB) *storage.DB { return Postgres(t, u) }})
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set under CI=true: the PostgreSQL tests must run", EnvPostgres)
	}
	return es
}

// Run runs fn once per engine as a subtest.
func Run(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Open(t)) })
	}
}

func migrate(t testing.TB, db *storage.DB) *storage.DB {
	t.Helper()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLite opens a migrated database in a temporary file.
func SQLite(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "ivid.db"))
	if err != nil {
		t.Fatal(err)
	}
	return migrate(t, db)
}

// PostgresURL creates an empty database on the server at base for the
// test, drops it when the test ends, and returns its URL.
func PostgresURL(t testing.TB, base string) string {
	t.Helper()
	u, drop, err := storage.CreateDatabase(context.Background(), base, "ivid_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return u
}

// Postgres creates a migrated database named for the test on the server
// at base, and drops it when the test ends.
func Postgres(t testing.TB, base string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), PostgresURL(t, base))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the drop registered above
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}
