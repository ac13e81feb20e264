package server

import (
	"context"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/audit"
	"github.com/ivid-project/ivid/internal/auth"
	"github.com/ivid-project/ivid/internal/ivid"
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
