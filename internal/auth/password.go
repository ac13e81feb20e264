// Package auth holds the credentials of ivid's users: argon2id password
// hashes, TOTP second factors, random session and API tokens stored only as
// hashes, and login throttling.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106's second recommendation, memory-constrained).
const (
	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// ErrBadPassword means the password does not match.
var ErrBadPassword = errors.New("wrong user name or password")

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// HashPassword returns an encoded argon2id hash with its salt and
// parameters: $argon2id$v=19$m=65536,t=3,p=2$salt$hash.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("password must have at least %d characters", MinPasswordLen)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword compares a password with an encoded hash in constant time.
func CheckPassword(encoded, password string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return fmt.Errorf("unsupported password hash")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<21 || t > 16 {
		return fmt.Errorf("bad password hash parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return fmt.Errorf("bad password hash encoding")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrBadPassword
	}
	return nil
}

// dummyHash is checked when a user does not exist, so that timing does not
// tell which user names exist. It is a constant, made once by HashPassword
// with the current parameters (a test keeps them in step): computing it at
// start-up cost every ivid command an argon2id run and 64 MiB.
const dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$ridGjWUWyL21BQLAYQ9WWw$mpPEA14MuBT8GyouBG5OkxSnlJ9aXufQ+NUOYdwhXmg"

// CheckMissingUser spends the time a password check takes.
func CheckMissingUser(password string) { CheckPassword(dummyHash, password) }

// NewToken returns a random token (to hand out once) and its SHA-256 (to
// store). Tokens are 256-bit random values, so a fast hash suffices.
func NewToken(prefix string) (token string, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken is the stored form of a token.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// NewPassword returns a random one-time password of 20 characters.
func NewPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
