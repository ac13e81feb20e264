// Package pdq computes Meta's PDQ perceptual image hash, bit for bit as the
// ThreatExchange C++ reference does, and offers the 256-bit hash type ivid matches on.
package pdq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
)

// Size is the length of a hash in bits.
const Size = 256

// HexLen is the length of a hash written in hexadecimal.
const HexLen = Size / 4

// MatchThreshold is the Hamming distance at or below which two hashes are
// taken as the same picture (pdq/README, python-threatexchange).
const MatchThreshold = 31

// MinQuality is the lowest quality a hash must have to be worth matching on.
const MinQuality = 50

// Hash is a 256-bit PDQ hash. Hash[0] holds the most significant 64 bits, so
// that the order of words is the order of the 64 hex digits of the reference.
// Bit k of the reference (k = row*16 + column of the 16x16 DCT) is bit k%64 of
// Hash[3-k/64].
type Hash [4]uint64

// ErrHexLength is returned for hex strings of the wrong length.
var ErrHexLength = errors.New("pdq: hash must be 64 hex digits")

// ParseHex reads a hash from exactly 64 hex digits, in either case.
func ParseHex(s string) (Hash, error) {
	var h Hash
	if len(s) != HexLen {
		return h, fmt.Errorf("%w, got %d characters", ErrHexLength, len(s))
	}
	var buf [32]byte
	if _, err := hex.Decode(buf[:], []byte(s)); err != nil {
		return h, fmt.Errorf("pdq: invalid hex hash: %w", err)
	}
	for w := range 4 {
		var v uint64
		for _, b := range buf[w*8 : w*8+8] {
			v = v<<8 | uint64(b)
		}
		h[w] = v
	}
	return h, nil
}

// String returns the 64 lower-case hex digits of the reference's output.
func (h Hash) String() string {
	const digits = "0123456789abcdef"
	var out [HexLen]byte
	for w, v := range h {
		for i := range 16 {
			out[w*16+i] = digits[(v>>(60-4*uint(i)))&0xf]
		}
	}
	return string(out[:])
}

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHex(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Distance returns the Hamming distance between two hashes (0..256).
func Distance(a, b Hash) int {
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}

// Bit reports whether reference bit k (0..255) is set.
func (h Hash) Bit(k int) bool { return h[3-k/64]>>(uint(k)%64)&1 == 1 }

func (h *Hash) setBit(k int) { h[3-k/64] |= 1 << (uint(k) % 64) }

// IsZero reports whether every bit is clear, as for images too small to hash.
func (h Hash) IsZero() bool { return h == Hash{} }
