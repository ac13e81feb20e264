package jpegluma

import (
	"encoding/binary"
	"fmt"
)

// fastBits is the width of the lookup tables: codes up to 9 bits (nearly
// all symbols of real JPEGs) decode with one table read.
const fastBits = 9

// table is a Huffman table. For a DC table, fast holds length | symbol<<5;
// for an AC table, it holds what skipping the coefficient takes: the bits
// to drop (code and value, up to 24) | coefficients advanced<<5 (64 for
// end of block). Zero means the code is longer than fastBits.
type table struct {
	fast [1 << fastBits]uint16
	sym  [1 << fastBits]uint16 // AC tables: length | symbol<<5, for decoding values
	// AC tables, symbols whose code and value fit fastBits together:
	// bits | run<<5 | value<<16, value 0 for end of block or sixteen zeros
	// (a coded value is never 0). Zero means use sym.
	acv     [1 << fastBits]int32
	maxcode [17]int32 // largest code of each length, -1 if none
	valptr  [17]int32 // index in vals of the first code of each length
	mincode [17]int32
	vals    []byte
	ac      bool
}

func newTable(counts [16]int, vals []byte, ac bool) (*table, error) {
	t := &table{vals: vals, ac: ac}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valptr[l], t.mincode[l] = k, code
		t.maxcode[l] = -1
		if n > 0 {
			t.maxcode[l] = code + n - 1
		}
		for range n {
			if code >= 1<<l {
				return nil, fmt.Errorf("%w: over-subscribed Huffman table", ErrCorrupt)
			}
			if l <= fastBits {
				sym := vals[k]
				var e uint16
				if ac {
					e = acEntry(l, sym)
					for i := code << (fastBits - l); i < (code+1)<<(fastBits-l); i++ {
						t.sym[i] = uint16(l) | uint16(sym)<<5
					}
					t.setValueEntries(l, code, sym)
				} else {
					e = uint16(l) | uint16(sym)<<5
				}
				shift := fastBits - l
				for i := code << shift; i < (code+1)<<shift; i++ {
					t.fast[i] = e
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	return t, nil
}

// setValueEntries fills acv for AC symbol rs with an l-bit code.
func (t *table) setValueEntries(l int, code int32, rs byte) {
	r, s := int32(rs>>4), int(rs&15)
	if l+s > fastBits {
		return
	}
	if s == 0 {
		shift := fastBits - l
		for i := code << shift; i < (code+1)<<shift; i++ {
			t.acv[i] = int32(l) | r<<5
		}
		return
	}
	shift := fastBits - l - s
	for v := range int32(1) << s {
		x := v
		if x < 1<<(s-1) {
			x -= 1<<s - 1
		}
		base := (code<<s | v) << shift
		for i := base; i < base+1<<shift; i++ {
			t.acv[i] = int32(l+s) | r<<5 | x<<16
		}
	}
}

// acEntry encodes how to skip an AC symbol rs whose code has l bits.
func acEntry(l int, rs byte) uint16 {
	r, s := int(rs>>4), int(rs&15)
	adv := r + 1
	switch {
	case s == 0 && r == 15:
		adv = 16
	case s == 0:
		adv = 64 // end of block
	}
	return uint16(l+s) | uint16(adv)<<5
}

// bitReader reads entropy-coded data, removing stuffed zero bytes. At a
// marker or the end of the data it feeds zero bytes and counts them.
type bitReader struct {
	data   []byte
	pos    int
	acc    uint64 // valid bits at the top
	n      uint
	marker bool
	zeros  int
}

func (b *bitReader) fill() {
	// Eight bytes at once when none of them is 0xff.
	if !b.marker && b.pos+8 <= len(b.data) {
		x := binary.BigEndian.Uint64(b.data[b.pos:])
		nx := ^x
		if (nx-0x0101010101010101)&^nx&0x8080808080808080 == 0 {
			t := (64 - b.n) / 8
			if t < 8 {
				x &^= 1<<(64-8*t) - 1
			}
			b.acc |= x >> b.n
			b.n += 8 * t
			b.pos += int(t)
			return
		}
	}
	for b.n <= 56 {
		var c byte
		switch {
		case b.marker || b.pos >= len(b.data):
			b.zeros++
		case b.data[b.pos] != 0xff:
			c = b.data[b.pos]
			b.pos++
		case b.pos+1 < len(b.data) && b.data[b.pos+1] == 0:
			c = 0xff
			b.pos += 2
		default:
			b.marker = true
			b.zeros++
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

func (b *bitReader) drop(k uint) {
	b.acc <<= k
	b.n -= k
}

// slow decodes a code longer than fastBits (b.n >= 16).
func (b *bitReader) slow(t *table) (byte, error) {
	for l := fastBits + 1; l <= 16; l++ {
		code := int32(b.acc >> (64 - l))
		if code <= t.maxcode[l] {
			b.drop(uint(l))
			i := t.valptr[l] + code - t.mincode[l]
			if int(i) >= len(t.vals) {
				break
			}
			return t.vals[i], nil
		}
	}
	return 0, fmt.Errorf("%w: bad Huffman code", ErrCorrupt)
}

// block decodes one block and returns its DC coefficient (quantised),
// skipping the AC coefficients.
func (b *bitReader) block(dc, ac *table, pred *int32) (int32, error) {
	if b.n < 32 {
		b.fill()
	}
	var s uint
	if e := dc.fast[b.acc>>(64-fastBits)]; e != 0 {
		b.drop(uint(e & 31))
		s = uint(e >> 5)
	} else {
		sym, err := b.slow(dc)
		if err != nil {
			return 0, err
		}
		s = uint(sym)
	}
	if s > 11 {
		return 0, fmt.Errorf("%w: DC category %d", ErrCorrupt, s)
	}
	if s > 0 {
		v := int32(b.acc >> (64 - s))
		b.drop(s)
		if v < 1<<(s-1) {
			v -= 1<<s - 1
		}
		*pred += v
	}
	if ac == nil {
		return *pred, nil
	}
	return *pred, b.skipAC(ac, 1)
}

// skipAC reads past a block's AC coefficients from index k on.
func (b *bitReader) skipAC(ac *table, k int) error {
	for k < 64 {
		if b.n < 32 {
			b.fill()
		}
		if e := ac.fast[b.acc>>(64-fastBits)]; e != 0 {
			b.drop(uint(e & 31))
			k += int(e >> 5)
			continue
		}
		rs, err := b.slow(ac)
		if err != nil {
			return err
		}
		r, sz := int(rs>>4), uint(rs&15)
		switch {
		case sz != 0:
			b.drop(sz)
			k += r + 1
		case r == 15:
			k += 16
		default:
			k = 64
		}
	}
	return nil
}

// lowCoefficients decodes a block's DC and its first two AC coefficients
// (zigzag 1 and 2: the lowest horizontal and vertical frequencies) and
// reads past the rest.
func (b *bitReader) lowCoefficients(dc, ac *table, pred *int32, low *[3]int32) error {
	if _, err := b.block(dc, nil, pred); err != nil {
		return err
	}
	*low = [3]int32{*pred}
	k := 1
	for k <= 2 {
		if b.n < 32 {
			b.fill()
		}
		rs, err := b.symbol(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r != 15 {
				return nil
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return fmt.Errorf("%w: coefficient index past 63", ErrCorrupt)
		}
		v := b.extend(s)
		if k <= 2 {
			low[k] = v
		}
		k++
	}
	return b.skipAC(ac, k)
}

// coefficients decodes one block into coef (zigzag order, quantised
// values; the caller clears it), appending the zigzag index of every
// non-zero coefficient to nz.
func (b *bitReader) coefficients(dc, ac *table, pred *int32, coef *[64]int32, nz []uint8) ([]uint8, error) {
	if _, err := b.block(dc, nil, pred); err != nil {
		return nz, err
	}
	coef[0] = *pred
	nz = append(nz, 0)
	for k := 1; k < 64; {
		if b.n < 32 {
			b.fill()
		}
		// A symbol and its value: from one table read when they fit, else
		// the symbol, then the value's bits.
		var r int
		var v int32
		if e := ac.acv[b.acc>>(64-fastBits)]; e != 0 {
			b.drop(uint(e & 31))
			r, v = int(e>>5)&15, e>>16 // v = 0: no value (end of block or sixteen zeros)
		} else {
			rs, err := b.symbol(ac)
			if err != nil {
				return nz, err
			}
			r = int(rs >> 4)
			if s := uint(rs & 15); s != 0 {
				v = b.extend(s)
			}
		}
		if v == 0 {
			if r != 15 {
				break
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return nz, fmt.Errorf("%w: coefficient index past 63", ErrCorrupt)
		}
		coef[k] = v
		nz = append(nz, uint8(k))
		k++
	}
	return nz, nil
}

// restartMarker discards the bits left before a restart marker and moves
// past it.
func (b *bitReader) restartMarker() error {
	b.acc, b.n, b.marker, b.zeros = 0, 0, false, 0
	for ; b.pos+1 < len(b.data); b.pos++ {
		if b.data[b.pos] != 0xff {
			continue
		}
		switch m := b.data[b.pos+1]; {
		case m >= 0xd0 && m <= 0xd7:
			b.pos += 2
			return nil
		case m != 0 && m != 0xff:
			return fmt.Errorf("%w: marker %#x where a restart marker was due", ErrCorrupt, m)
		}
	}
	return fmt.Errorf("%w: missing restart marker", ErrCorrupt)
}

// resume returns the offset of the marker after the scan's data.
func (b *bitReader) resume() int {
	for p := b.pos; p+1 < len(b.data); p++ {
		if m := b.data[p+1]; b.data[p] == 0xff && m != 0 && m != 0xff && (m < 0xd0 || m > 0xd7) {
			return p
		}
	}
	return len(b.data)
}

// receive reads n bits (n <= 16) as an unsigned value.
func (b *bitReader) receive(n uint) int32 {
	if n == 0 {
		return 0
	}
	if b.n < n {
		b.fill()
	}
	v := int32(b.acc >> (64 - n))
	b.drop(n)
	return v
}

// extend reads an s-bit magnitude category's value (T.81 F.2.2.1).
func (b *bitReader) extend(s uint) int32 {
	v := b.receive(s)
	if v < 1<<(s-1) {
		v -= 1<<s - 1
	}
	return v
}

// symbol decodes one Huffman symbol.
func (b *bitReader) symbol(t *table) (byte, error) {
	if b.n < 32 {
		b.fill()
	}
	lut := &t.fast
	if t.ac {
		lut = &t.sym
	}
	if e := lut[b.acc>>(64-fastBits)]; e != 0 {
		b.drop(uint(e & 31))
		return byte(e >> 5), nil
	}
	return b.slow(t)
}
