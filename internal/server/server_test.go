package server

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
)

// TestSecondFactorSecretsSealed: a plain second-factor secret left by an
// earlier version is sealed at the next start (with an audit record), the
// user still signs in with a code from it, and after a master-key rotation
// too (the sealing key derives from the blob store's secret, which a
// rotation re-seals but keeps).
func TestSecondFactorSecretsSealed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, AdminPassword: "a long enough admin password"}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	hash, err := auth.HashPassword("camille's long password")
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB.InTx(ctx, func(tx ivid.Tx) error {
		ag := ivid.Agency{Name: "France", Country: "FR", Kind: ivid.NationalUnit, Created: time.Now()}
		if err := tx.CreateAgency(ctx, &ag); err != nil {
			return err
		}
		u := ivid.User{AgencyID: ag.ID, Name: "camille", Roles: ivid.Roles{ivid.RoleSpecialist}, PasswordHash: hash,
			TOTPSecret: secret, TOTPEnabled: true, Created: time.Now()}
		return tx.CreateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	signIn := func(what string) {
		t.Helper()
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		u, err := s.DB.UserByName(ctx, "camille")
		if err != nil {
			t.Fatal(err)
		}
		if !auth.IsSealed(u.TOTPSecret) {
			t.Fatalf("%s: stored secret %q is not sealed", what, u.TOTPSecret)
		}
		code, _ := auth.TOTPCode(secret, time.Now())
		if _, sess, err := s.Svc.Login(ctx, "camille", "camille's long password", code, "test"); err != nil || !sess.MFA {
			t.Fatalf("%s: sign-in with the code: %v (mfa %v)", what, err, sess.MFA)
		}
	}
	signIn("after the start that sealed it")

	db, err := OpenDB(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sealed := 0
	err = db.EachAudit(ctx, func(r audit.Record) error {
		if r.Action == "totp.seal" {
			sealed++
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sealed != 1 {
		t.Errorf("%d totp.seal audit records, want 1", sealed)
	}

	if _, err := RotateKeys(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	signIn("after a master-key rotation")
}

// TestThrottleSurvivesRestart: five failed sign-ins, then a restart: the
// sixth attempt, even with the right password, is still refused (the
// throttle is rebuilt from the audit trail), and another client's attempt
// for another account goes through.
func TestThrottleSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir(), AdminName: "admin", AdminPassword: "a long enough admin password", TOTPOptional: true}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := s.Svc.Login(ctx, "admin", "wrong password, long enough", "", "198.51.100.7"); !errors.Is(err, ivid.ErrUnauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	s.Close()
	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Svc.Login(ctx, "admin", cfg.AdminPassword, "", "198.51.100.7"); !errors.Is(err, ivid.ErrTooMany) {
		t.Fatalf("after a restart: %v, want ErrTooMany", err)
	}
	if _, _, err := s.Svc.Login(ctx, "nobody", "whatever password", "", "192.0.2.1"); !errors.Is(err, ivid.ErrUnauthenticated) {
		t.Fatalf("another client and account: %v, want ErrUnauthenticated", err)
	}
}

// TestServersFollow: two servers over one PostgreSQL database, each with
// its own data folder, as two nodes behind a load balancer. An item
// contributed through one reaches the other's index by itself (FollowEvery).
func TestServersFollow(t *testing.T) {
	base := os.Getenv(storagetest.EnvPostgres)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true", storagetest.EnvPostgres)
		}
		t.Skip("two servers share a PostgreSQL database: set " + storagetest.EnvPostgres)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := storagetest.PostgresURL(t, base)
	var nodes [2]*Server
	for i := range nodes {
		s, err := Open(ctx, Config{DataDir: t.TempDir(), DatabaseURL: url, AdminPassword: "a long enough admin password", TOTPOptional: true, FollowEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.ServeListener(ctx, ln, nil)
		nodes[i] = s
	}
	var a ivid.Actor
	err := nodes[0].DB.InTx(ctx, func(tx ivid.Tx) error {
		a.Agency = ivid.Agency{Name: "France", Country: "FR", Kind: ivid.NationalUnit, Created: time.Now()}
		if err := tx.CreateAgency(ctx, &a.Agency); err != nil {
			return err
		}
		a.User = ivid.User{AgencyID: a.Agency.ID, Name: "camille", Roles: ivid.Roles{ivid.RoleSpecialist}, PasswordHash: "x", Created: time.Now()}
		return tx.CreateUser(ctx, &a.User)
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := nodes[0].Svc.CreateCase(ctx, a, ivid.Case{Reference: "FR-NODES", Sharing: ivid.SharingAgency})
	if err != nil {
		t.Fatal(err)
	}
	h := pdq.Hash{1, 2, 3, 4}
	if err := nodes[0].Svc.ContributeHashes(ctx, a, c.ID, []hashset.Entry{{MD5: strings.Repeat("ab", 16), PDQ: &h}}, ivid.EntryKeys{}, func([]ivid.Comparison) error { return nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for nodes[1].Svc.IndexSize() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the second server's index holds %d items 5 s after the first's contribution, want 1", nodes[1].Svc.IndexSize())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
