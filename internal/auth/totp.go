package auth

import (
	"bytes"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// NewTOTP creates a TOTP secret for a user and returns it with its
// otpauth:// URL and a QR code of it as PNG, rendered here (no third party
// sees the secret).
func NewTOTP(issuer, account string) (secret, url string, qrPNG []byte, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account})
	if err != nil {
		return "", "", nil, err
	}
	img, err := k.Image(200, 200)
	if err != nil {
		return "", "", nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", "", nil, err
	}
	return k.Secret(), k.URL(), buf.Bytes(), nil
}

// CheckTOTP validates a 6-digit code at time now, allowing one 30-second
// step of clock skew either way.
func CheckTOTP(secret, code string, now time.Time) bool {
	ok, err := totp.ValidateCustom(code, secret, now, totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return err == nil && ok
}

// TOTPCode computes the current code (for tests and the demo's printed
// accounts).
func TOTPCode(secret string, now time.Time) (string, error) {
	c, err := totp.GenerateCode(secret, now)
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	return c, nil
}
