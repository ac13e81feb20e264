package pdq

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHex(t *testing.T) {
	const s = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
	tests := []struct {
		in      string
		wantErr bool
	}{
		{s, false},
		{strings.ToUpper(s), false},
		{s[:63], true},
		{s + "0", true},
		{"", true},
		{strings.Repeat("g", 64), true},
		{" " + s[1:], true},
	}
	for _, tc := range tests {
		h, err := ParseHex(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseHex(%q): err %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && h.String() != strings.ToLower(tc.in) {
			t.Errorf("round trip: got %s, want %s", h, strings.ToLower(tc.in))
		}
	}
	if _, err := ParseHex("abc"); !errors.Is(err, ErrHexLength) {
		t.Errorf("short hex: got %v, want ErrHexLength", err)
	}
}

// TestBitLayout checks the reference's layout: bit 0 is the last hex digit's
// lowest bit, bit 255 the first digit's highest.
func TestBitLayout(t *testing.T) {
	var h Hash
	h.setBit(0)
	if got := h.String(); got != strings.Repeat("0", 63)+"1" {
		t.Errorf("bit 0: %s", got)
	}
	h = Hash{}
	h.setBit(255)
	if got := h.String(); got != "8"+strings.Repeat("0", 63) {
		t.Errorf("bit 255: %s", got)
	}
	h.setBit(17)
	if !h.Bit(17) || h.Bit(16) || !h.Bit(255) {
		t.Error("Bit disagrees with setBit")
	}
}

func TestDistance(t *testing.T) {
	a, _ := ParseHex(strings.Repeat("0", 64))
	b, _ := ParseHex(strings.Repeat("f", 64))
	c, _ := ParseHex(strings.Repeat("0", 63) + "7")
	for _, tc := range []struct {
		x, y Hash
		want int
	}{{a, a, 0}, {a, b, 256}, {a, c, 3}, {b, c, 253}} {
		if got := Distance(tc.x, tc.y); got != tc.want {
			t.Errorf("Distance(%v, %v) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
}

func FuzzParseHex(f *testing.F) {
	f.Add("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
	f.Add("F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22")
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHex(s)
		if err != nil {
			return
		}
		if len(s) != 64 {
			t.Fatalf("accepted %d characters", len(s))
		}
		if !strings.EqualFold(h.String(), s) {
			t.Fatalf("round trip %q -> %s", s, h)
		}
		var u Hash
		if err := u.UnmarshalText([]byte(h.String())); err != nil || u != h {
			t.Fatalf("UnmarshalText: %v", err)
		}
	})
}
