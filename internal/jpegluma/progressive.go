package jpegluma

import "fmt"

// progressiveBlock decodes luma block (bx, by)'s part of a progressive scan
// (ITU T.81 G.1.2; the refinement follows libjpeg's decode_mcu_AC_refine)
// into d.coefs. Blocks outside the luma's own grid (MCU padding in
// interleaved DC scans) are decoded and dropped.
func (d *decoder) progressiveBlock(c *component, bx, by, ss, se, ah int, al uint, eobrun *int) error {
	br := &d.bits
	var blk []int16
	if bx < c.blocksX && by < c.blocksY {
		i := by*c.blocksX + bx
		if d.scale == 8 && !d.planes {
			blk = d.coefs[i : i+1]
		} else {
			blk = d.coefs[64*i : 64*i+64]
		}
	}
	if ss == 0 {
		if ah == 0 {
			if _, err := br.block(d.dc[c.td], nil, &c.pred); err != nil {
				return err
			}
			if blk != nil {
				blk[0] = int16(c.pred << al)
			}
		} else if br.receive(1) != 0 && blk != nil {
			blk[0] |= 1 << al
		}
		return nil
	}
	if blk == nil {
		blk = make([]int16, 64) // cannot happen in a non-interleaved scan; keeps the decoding in step
	}
	ac := d.ac[c.ta]
	if ah == 0 {
		if *eobrun > 0 {
			*eobrun--
			return nil
		}
		for k := ss; k <= se; k++ {
			rs, err := br.symbol(ac)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), uint(rs&15)
			if s == 0 {
				if r < 15 {
					*eobrun = 1<<r - 1 + int(br.receive(uint(r)))
					break
				}
				k += 15
				continue
			}
			k += r
			if k > 63 {
				return fmt.Errorf("%w: coefficient index past 63", ErrCorrupt)
			}
			blk[k] = int16(br.extend(s) << al)
		}
		return nil
	}
	p1, m1 := int16(1)<<al, int16(-1)<<al
	refine := func(k int) {
		if blk[k] != 0 && br.receive(1) != 0 && blk[k]&p1 == 0 {
			if blk[k] >= 0 {
				blk[k] += p1
			} else {
				blk[k] += m1
			}
		}
	}
	k := ss
	if *eobrun == 0 {
		for ; k <= se; k++ {
			rs, err := br.symbol(ac)
			if err != nil {
				return err
			}
			r, s := int(rs>>4), rs&15
			var v int16
			if s != 0 {
				v = m1
				if br.receive(1) != 0 {
					v = p1
				}
			} else if r != 15 {
				*eobrun = 1<<r + int(br.receive(uint(r)))
				break
			}
			// Skip r zero coefficients, refining the non-zero ones passed.
			for ; k <= se; k++ {
				if blk[k] != 0 {
					refine(k)
				} else {
					if r == 0 {
						break
					}
					r--
				}
			}
			if s != 0 {
				if k > se {
					return fmt.Errorf("%w: refinement past the band", ErrCorrupt)
				}
				blk[k] = v
			}
		}
	}
	if *eobrun > 0 {
		for ; k <= se; k++ {
			refine(k)
		}
		*eobrun--
	}
	return nil
}

// finishProgressive computes the luma from the coefficients gathered.
func (d *decoder) finishProgressive() {
	c := &d.comps[0]
	var coef [64]int32
	nz := make([]uint8, 0, 64)
	for by := range c.blocksY {
		for bx := range c.blocksX {
			i := by*c.blocksX + bx
			if d.planes {
				low := [3]int32{int32(d.coefs[64*i]), int32(d.coefs[64*i+1]), int32(d.coefs[64*i+2])}
				d.emitGradient(bx, by, &low)
				continue
			}
			if d.scale == 8 {
				d.emitDC(bx, by, int32(d.coefs[i]))
				continue
			}
			nz = nz[:0]
			for k, v := range d.coefs[64*i : 64*i+64] {
				if v != 0 {
					coef[k] = int32(v)
					nz = append(nz, uint8(k))
				}
			}
			d.emit(bx, by, &coef, nz)
		}
	}
}
