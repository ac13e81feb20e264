package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q", h)
	}
	if err := CheckPassword(h, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := CheckPassword(h, "correct horse batterY"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("short password accepted")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$aa$bb", "$argon2id$v=19$m=99999999,t=1,p=1$aa$bb", "$argon2id$v=19$m=65536,t=3,p=2$!!$bb"} {
		if err := CheckPassword(bad, "x"); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
}

func TestTOTP(t *testing.T) {
	secret, url, qr, err := NewTOTP("ivid", "alice@fr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "otpauth://totp/ivid:alice@fr?") || len(qr) < 100 || string(qr[1:4]) != "PNG" {
		t.Fatalf("url %q, qr %d bytes", url, len(qr))
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	code, _ := TOTPCode(secret, now)
	if !CheckTOTP(secret, code, now.Add(25*time.Second)) {
		t.Fatal("current code refused")
	}
	if CheckTOTP(secret, code, now.Add(5*time.Minute)) {
		t.Fatal("a 5-minute-old code accepted")
	}
	if CheckTOTP(secret, "000000x", now) {
		t.Fatal("malformed code accepted")
	}
}

func TestTokens(t *testing.T) {
	a, ha := NewToken("ivid_")
	b, _ := NewToken("ivid_")
	if a == b || !strings.HasPrefix(a, "ivid_") || HashToken(a) != ha || strings.Contains(ha, a) {
		t.Fatal("tokens")
	}
}

func TestThrottle(t *testing.T) {
	th := NewThrottle(3, time.Minute)
	now := time.Now()
	for range 3 {
		if !th.Allowed("bob", now) {
			t.Fatal("refused too early")
		}
		th.Fail("bob", now)
	}
	if th.Allowed("bob", now.Add(30*time.Second)) {
		t.Fatal("fourth attempt allowed")
	}
	if !th.Allowed("alice", now) {
		t.Fatal("another user throttled")
	}
	if !th.Allowed("bob", now.Add(61*time.Second)) {
		t.Fatal("still refused after the window")
	}
	th.Fail("carol", now)
	th.Succeed("carol")
	if len(th.fails) > 2 {
		t.Fatalf("throttle keeps %d keys", len(th.fails))
	}
}

// TestDummyHashParameters: the constant checked for unknown users carries
// the parameters HashPassword uses now, so that both checks take as long,
// and it verifies its own password.
func TestDummyHashParameters(t *testing.T) {
	h, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	params := func(s string) string { return strings.Join(strings.Split(s, "$")[:4], "$") }
	if params(h) != params(dummyHash) {
		t.Errorf("dummy hash %s, HashPassword %s", params(dummyHash), params(h))
	}
	if err := CheckPassword(dummyHash, "not-a-real-password-at-all"); err != nil {
		t.Errorf("dummy hash does not verify: %v", err)
	}
}
