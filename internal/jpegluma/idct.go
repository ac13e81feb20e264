package jpegluma

// The accurate integer inverse DCT of the IJG's libjpeg (jidctint.c, the
// default JDCT_ISLOW that libjpeg-turbo and ImageMagick decode with), in
// the same integer arithmetic, so that full-scale luma equals theirs sample
// for sample: 13-bit fixed-point constants, 2 extra bits between passes.
const (
	constBits = 13
	pass1Bits = 2

	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

func descale(x int32, n uint) int32 { return (x + 1<<(n-1)) >> n }

// idct transforms a block of dequantised coefficients (natural order) into
// 8x8 samples, level-shifted and clamped to 0..255.
func idct(in *[64]int32, out *[64]uint8) {
	var ws [64]int32
	for c := range 8 {
		if in[8+c]|in[16+c]|in[24+c]|in[32+c]|in[40+c]|in[48+c]|in[56+c] == 0 {
			dc := in[c] << pass1Bits
			for r := range 8 {
				ws[8*r+c] = dc
			}
			continue
		}
		// Even part.
		z2, z3 := in[16+c], in[48+c]
		z1 := (z2 + z3) * fix0541196100
		tmp2 := z1 - z3*fix1847759065
		tmp3 := z1 + z2*fix0765366865
		z2, z3 = in[c], in[32+c]
		tmp0 := (z2 + z3) << constBits
		tmp1 := (z2 - z3) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		// Odd part.
		tmp0, tmp1, tmp2, tmp3 = in[56+c], in[40+c], in[24+c], in[8+c]
		o0, o1, o2, o3 := odd(tmp0, tmp1, tmp2, tmp3)
		const n = constBits - pass1Bits
		ws[c] = descale(tmp10+o3, n)
		ws[56+c] = descale(tmp10-o3, n)
		ws[8+c] = descale(tmp11+o2, n)
		ws[48+c] = descale(tmp11-o2, n)
		ws[16+c] = descale(tmp12+o1, n)
		ws[40+c] = descale(tmp12-o1, n)
		ws[24+c] = descale(tmp13+o0, n)
		ws[32+c] = descale(tmp13-o0, n)
	}
	for r := range 8 {
		w := ws[8*r : 8*r+8 : 8*r+8]
		o := out[8*r : 8*r+8 : 8*r+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := sample(descale(w[0], pass1Bits+3))
			for i := range o {
				o[i] = v
			}
			continue
		}
		z2, z3 := w[2], w[6]
		z1 := (z2 + z3) * fix0541196100
		tmp2 := z1 - z3*fix1847759065
		tmp3 := z1 + z2*fix0765366865
		tmp0 := (w[0] + w[4]) << constBits
		tmp1 := (w[0] - w[4]) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		o0, o1, o2, o3 := odd(w[7], w[5], w[3], w[1])
		const n = constBits + pass1Bits + 3
		o[0] = sample(descale(tmp10+o3, n))
		o[7] = sample(descale(tmp10-o3, n))
		o[1] = sample(descale(tmp11+o2, n))
		o[6] = sample(descale(tmp11-o2, n))
		o[2] = sample(descale(tmp12+o1, n))
		o[5] = sample(descale(tmp12-o1, n))
		o[3] = sample(descale(tmp13+o0, n))
		o[4] = sample(descale(tmp13-o0, n))
	}
}

// odd is the odd part of a pass, from the inputs at positions 7, 5, 3, 1.
func odd(tmp0, tmp1, tmp2, tmp3 int32) (int32, int32, int32, int32) {
	z1 := tmp0 + tmp3
	z2 := tmp1 + tmp2
	z3 := tmp0 + tmp2
	z4 := tmp1 + tmp3
	z5 := (z3 + z4) * fix1175875602
	tmp0 *= fix0298631336
	tmp1 *= fix2053119869
	tmp2 *= fix3072711026
	tmp3 *= fix1501321110
	z1 *= -fix0899976223
	z2 *= -fix2562915447
	z3 = z3*-fix1961570560 + z5
	z4 = z4*-fix0390180644 + z5
	return tmp0 + z1 + z3, tmp1 + z2 + z4, tmp2 + z2 + z3, tmp3 + z1 + z4
}

// sample level-shifts and clamps, as libjpeg's range limit does for every
// value a valid JPEG can produce.
func sample(v int32) uint8 { return uint8(min(max(v+128, 0), 255)) }
