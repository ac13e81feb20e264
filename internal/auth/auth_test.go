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

func TestSecretBox(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 1
	box, err := NewSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal("JBSWY3DPEHPK3PXP", "user/7")
	if strings.Contains(sealed, "JBSWY3DPEHPK3PXP") || !IsSealed(sealed) {
		t.Fatalf("sealed value %q shows the secret or lacks its mark", sealed)
	}
	if got, err := box.Open(sealed, "user/7"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if box.Seal("JBSWY3DPEHPK3PXP", "user/7") == sealed {
		t.Error("two seals of one secret are equal (nonce reused)")
	}
	other := make([]byte, 32)
	otherBox, _ := NewSecretBox(other)
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 1
	for name, open := range map[string]func() (string, error){
		"another user": func() (string, error) { return box.Open(sealed, "user/8") },
		"another key":  func() (string, error) { return otherBox.Open(sealed, "user/7") },
		"tampered":     func() (string, error) { return box.Open(string(flipped), "user/7") },
		"truncated":    func() (string, error) { return box.Open(sealed[:12], "user/7") },
		"not base64":   func() (string, error) { return box.Open("sealed1:!!!", "user/7") },
	} {
		if _, err := open(); !errors.Is(err, ErrSealed) {
			t.Errorf("%s: %v, want ErrSealed", name, err)
		}
	}
	// Plain secrets written by earlier versions still open.
	if got, err := box.Open("JBSWY3DPEHPK3PXP", "user/7"); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Errorf("legacy plain secret: %q, %v", got, err)
	}
}
