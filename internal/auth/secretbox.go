package auth

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// SecretBox seals small secrets kept in the database (second-factor
// secrets), so that a copy of the database alone does not give them away.
// Each secret is sealed with XChaCha20-Poly1305 and bound to a context (the
// user it belongs to): a sealed value moved to another row does not open.
type SecretBox struct {
	aead cipher.AEAD
}

// sealedPrefix marks a sealed value; base32 TOTP secrets stored by earlier
// versions never contain a colon.
const sealedPrefix = "sealed1:"

// ErrSealed is returned for sealed values that do not open: another key,
// another context, or tampering.
var ErrSealed = errors.New("sealed secret does not open")

// NewSecretBox returns a box for a 32-byte key.
func NewSecretBox(key []byte) (*SecretBox, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

// Seal returns secret sealed for context, as text.
func (b *SecretBox) Seal(secret, context string) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(secret)+b.aead.Overhead())
	rand.Read(nonce)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(secret), []byte(context)))
}

// IsSealed reports whether s was made by Seal (rather than stored plain by
// an earlier version).
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// Open returns the secret sealed in s for context. A value that is not
// sealed (stored by a version before sealing) is returned as it is.
func (b *SecretBox) Open(s, context string) (string, error) {
	if !IsSealed(s) {
		return s, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(s[len(sealedPrefix):])
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrSealed
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", ErrSealed
	}
	return string(plain), nil
}
