// Package jpegluma decodes a JPEG's luma alone: in full with libjpeg's
// accurate integer inverse DCT, or at 1/2, 1/4 or 1/8 of its size in the
// DCT domain, each output value then the mean of a block of the full image
// computed from a few coefficients (at 1/8, the DC coefficient alone, as
// libjpeg's 1/8 scaling). Chroma is read past, never transformed: little is
// left to pay beyond the entropy decoding.
//
// Supported: 8-bit Huffman JPEGs, sequential (SOF0, SOF1) or progressive
// (SOF2), whose first component is luma. Of a progressive JPEG only the
// luma's scans are decoded (at 1/8, only its DC scans); the chroma's AC
// scans are skipped unread. Everything else (arithmetic, lossless, 12-bit,
// RGB or CMYK JPEGs) returns [ErrUnsupported] and the caller decodes the
// full image instead.
package jpegluma

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

var (
	// ErrUnsupported: a valid JPEG this decoder does not handle.
	ErrUnsupported = errors.New("jpegluma: unsupported JPEG")
	// ErrCorrupt: not a JPEG, or a malformed one.
	ErrCorrupt = errors.New("jpegluma: corrupt JPEG")
	// ErrTooLarge: the declared size is above the pixel limit.
	ErrTooLarge = errors.New("jpegluma: image above the pixel limit")
)

// Image is a decoded reduced-scale luma plane.
type Image struct {
	// Luma holds Rows x Cols values, row-major: the mean luma (0-255, not
	// rounded) of each Scale x Scale block of the image.
	Luma []float32
	// GradX and GradY (1/8 scale with Options.Gradient) are each block's
	// least-squares slope of the lowest-frequency terms, in levels per
	// pixel, across and down.
	GradX, GradY []float32
	Rows, Cols   int
	Scale        int
	// Width and Height are the full image's dimensions.
	Width, Height int
}

// Options configure Decode.
type Options struct {
	// MaxPixels: images declaring more pixels are refused before any
	// entropy decoding.
	MaxPixels int64
	// Scale returns the scale (1, 2, 4 or 8) for an image of the given
	// size, or 0 to refuse it with ErrUnsupported. Nil means 8. At 1 the
	// luma is decoded in full with libjpeg's accurate integer inverse DCT:
	// equal, sample for sample, to libjpeg's (djpeg -grayscale).
	Scale func(width, height int) int
	// Gradient, if it returns true for the image's size at 1/8 scale, also
	// asks for each block's mean slope across and down (GradX, GradY), from
	// its two lowest AC coefficients: a plane rather than a flat tile,
	// which keeps PDQ's filter accurate on smaller photos.
	Gradient func(width, height int) bool
	// Luma, when large enough, is reused for the output (a caller decoding
	// many images saves the allocation and its page faults).
	Luma []float32
}

type component struct {
	id, h, v, tq     int
	blocksX, blocksY int // the component's own blocks (non-interleaved scans)
	td, ta           int // Huffman tables of the current scan
	pred             int32
}

// markers reads a JPEG's markers and segments from pos on.
type markers struct {
	data []byte
	pos  int
}

type decoder struct {
	markers
	width        int
	height       int
	comps        []component
	quant        [4][64]uint16
	haveQuant    [4]bool
	dc, ac       [4]*table
	restart      int
	adobe        bool
	adobeXform   int
	frame        bool
	planes       bool // 1/8 scale with slopes
	progressive  bool
	mcusX, mcusY int
	weights      [64][16]float32
	coefs        []int16 // progressive: the luma's coefficients, zigzag order, 64 a block (1 at 1/8)
	scans        int     // progressive scans decoded
	bits         bitReader
	opts         Options
	scale        int
	out          *Image
	lumaDone     bool
}

// Decode decodes data's luma at reduced scale.
func Decode(data []byte, opts Options) (*Image, error) {
	d := &decoder{markers: markers{data: data}, opts: opts}
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, fmt.Errorf("%w: no start-of-image marker", ErrCorrupt)
	}
	d.pos = 2
	for !d.lumaDone {
		marker, err := d.nextMarker()
		if err != nil {
			return nil, err
		}
		switch {
		case marker == 0xd9: // EOI
			if !d.frame || d.out == nil || !d.progressive || d.scans == 0 {
				return nil, fmt.Errorf("%w: no image data", ErrCorrupt)
			}
			d.finishProgressive()
			return d.out, nil
		case marker >= 0xd0 && marker <= 0xd7, marker == 0x01:
			continue // stray restart or TEM: no length
		}
		seg, err := d.segment()
		if err != nil {
			return nil, err
		}
		switch {
		case marker == 0xc0 || marker == 0xc1 || marker == 0xc2:
			d.progressive = marker == 0xc2
			if err := d.parseFrame(seg); err != nil {
				return nil, err
			}
		case marker >= 0xc3 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			return nil, fmt.Errorf("%w: SOF%d (lossless, hierarchical or arithmetic)", ErrUnsupported, marker-0xc0)
		case marker == 0xcc:
			return nil, fmt.Errorf("%w: arithmetic coding", ErrUnsupported)
		case marker == 0xc4:
			if err := d.parseHuffman(seg); err != nil {
				return nil, err
			}
		case marker == 0xdb:
			if err := d.parseQuant(seg); err != nil {
				return nil, err
			}
		case marker == 0xdd:
			if len(seg) != 2 {
				return nil, fmt.Errorf("%w: DRI length", ErrCorrupt)
			}
			d.restart = int(binary.BigEndian.Uint16(seg))
		case marker == 0xee:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeXform = true, int(seg[11])
			}
		case marker == 0xda:
			if err := d.scan(seg); err != nil {
				return nil, err
			}
		}
	}
	return d.out, nil
}

// Segments calls fn with the marker and content of each segment before the
// image data (up to the first start of scan or the end of the image) until
// fn returns false; a misplaced marker or a segment running past the end is
// ErrCorrupt. Every step moves forward, so any input ends.
func Segments(data []byte, fn func(marker byte, seg []byte) bool) error {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return fmt.Errorf("%w: no start-of-image marker", ErrCorrupt)
	}
	d := markers{data: data, pos: 2}
	for {
		marker, err := d.nextMarker()
		if err != nil {
			return err
		}
		switch {
		case marker == 0xd9 || marker == 0xda:
			return nil
		case marker >= 0xd0 && marker <= 0xd8, marker == 0x01:
			continue // no length
		}
		seg, err := d.segment()
		if err != nil {
			return err
		}
		if !fn(marker, seg) {
			return nil
		}
	}
}

// nextMarker skips to the next marker (fill bytes allowed) and returns its code.
func (d *markers) nextMarker() (byte, error) {
	for d.pos+1 < len(d.data) {
		if d.data[d.pos] != 0xff {
			return 0, fmt.Errorf("%w: expected a marker at offset %d", ErrCorrupt, d.pos)
		}
		m := d.data[d.pos+1]
		if m == 0xff {
			d.pos++
			continue
		}
		d.pos += 2
		return m, nil
	}
	return 0, fmt.Errorf("%w: truncated before the image data", ErrCorrupt)
}

func (d *markers) segment() ([]byte, error) {
	if d.pos+2 > len(d.data) {
		return nil, fmt.Errorf("%w: truncated segment", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(d.data[d.pos:]))
	if n < 2 || d.pos+n > len(d.data) {
		return nil, fmt.Errorf("%w: segment length %d at offset %d", ErrCorrupt, n, d.pos)
	}
	seg := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return seg, nil
}

func (d *decoder) parseFrame(seg []byte) error {
	if d.frame {
		return fmt.Errorf("%w: two frames", ErrCorrupt)
	}
	if len(seg) < 6 {
		return fmt.Errorf("%w: short SOF", ErrCorrupt)
	}
	if seg[0] != 8 {
		return fmt.Errorf("%w: %d-bit samples", ErrUnsupported, seg[0])
	}
	d.height = int(binary.BigEndian.Uint16(seg[1:]))
	d.width = int(binary.BigEndian.Uint16(seg[3:]))
	n := int(seg[5])
	if d.height == 0 {
		return fmt.Errorf("%w: height given by a DNL marker", ErrUnsupported)
	}
	if d.width == 0 || n == 0 || len(seg) != 6+3*n {
		return fmt.Errorf("%w: SOF declares %dx%d, %d components", ErrCorrupt, d.width, d.height, n)
	}
	if int64(d.width)*int64(d.height) > d.opts.MaxPixels {
		return fmt.Errorf("%w: %dx%d", ErrTooLarge, d.width, d.height)
	}
	if n != 1 && n != 3 {
		return fmt.Errorf("%w: %d components", ErrUnsupported, n)
	}
	for i := range n {
		c := component{id: int(seg[6+3*i]), h: int(seg[7+3*i] >> 4), v: int(seg[7+3*i] & 15), tq: int(seg[8+3*i])}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return fmt.Errorf("%w: component %d sampling %dx%d, table %d", ErrCorrupt, c.id, c.h, c.v, c.tq)
		}
		d.comps = append(d.comps, c)
	}
	// Component IDs 'R','G','B' or an Adobe marker saying "no transform"
	// mean the first component is red, not luma.
	if n == 3 && (d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B' || d.adobe && d.adobeXform == 0) {
		return fmt.Errorf("%w: RGB JPEG", ErrUnsupported)
	}
	d.scale = 8
	if d.opts.Scale != nil {
		d.scale = d.opts.Scale(d.width, d.height)
	}
	if d.scale != 1 && d.scale != 2 && d.scale != 4 && d.scale != 8 {
		return fmt.Errorf("%w: no reduced scale for %dx%d", ErrUnsupported, d.width, d.height)
	}
	d.frame = true
	d.planes = d.scale == 8 && d.opts.Gradient != nil && d.opts.Gradient(d.width, d.height)
	hmax, vmax := 1, 1
	for _, c := range d.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	d.mcusX, d.mcusY = (d.width+8*hmax-1)/(8*hmax), (d.height+8*vmax-1)/(8*vmax)
	for i := range d.comps {
		c := &d.comps[i]
		c.blocksX = ((d.width*c.h+hmax-1)/hmax + 7) / 8
		c.blocksY = ((d.height*c.v+vmax-1)/vmax + 7) / 8
	}
	if d.progressive {
		stride := 64
		if d.scale == 8 && !d.planes {
			stride = 1
		}
		d.coefs = make([]int16, d.comps[0].blocksX*d.comps[0].blocksY*stride)
	}
	rows, cols := (d.height+d.scale-1)/d.scale, (d.width+d.scale-1)/d.scale
	luma := d.opts.Luma
	if cap(luma) < rows*cols {
		luma = make([]float32, rows*cols)
	}
	luma = luma[:rows*cols]
	if d.scale != 1 {
		clear(luma) // partial edge blocks are written only where inside
	}
	d.out = &Image{Luma: luma, Rows: rows, Cols: cols, Scale: d.scale, Width: d.width, Height: d.height}
	if d.planes {
		d.out.GradX, d.out.GradY = make([]float32, rows*cols), make([]float32, rows*cols)
	}
	return nil
}

func (d *decoder) parseQuant(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, int(seg[0]&15)
		if tq > 3 || pq > 1 {
			return fmt.Errorf("%w: DQT table %d precision %d", ErrCorrupt, tq, pq)
		}
		size := 1 + 64*(1+int(pq))
		if len(seg) < size {
			return fmt.Errorf("%w: short DQT", ErrCorrupt)
		}
		for k := range 64 {
			if pq == 0 {
				d.quant[tq][k] = uint16(seg[1+k])
			} else {
				d.quant[tq][k] = binary.BigEndian.Uint16(seg[1+2*k:])
			}
		}
		d.haveQuant[tq] = true
		seg = seg[size:]
	}
	return nil
}

func (d *decoder) parseHuffman(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("%w: short DHT", ErrCorrupt)
		}
		class, id := seg[0]>>4, int(seg[0]&15)
		if class > 1 || id > 3 {
			return fmt.Errorf("%w: DHT class %d table %d", ErrCorrupt, class, id)
		}
		var counts [16]int
		total := 0
		for i := range counts {
			counts[i] = int(seg[1+i])
			total += counts[i]
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return fmt.Errorf("%w: DHT with %d symbols", ErrCorrupt, total)
		}
		t, err := newTable(counts, seg[17:17+total], class == 1)
		if err != nil {
			return err
		}
		if class == 0 {
			d.dc[id] = t
		} else {
			d.ac[id] = t
		}
		seg = seg[17+total:]
	}
	return nil
}

// scan decodes a scan's entropy-coded data, keeping what the luma needs.
func (d *decoder) scan(seg []byte) error {
	if !d.frame {
		return fmt.Errorf("%w: scan before frame", ErrCorrupt)
	}
	if len(seg) < 1 {
		return fmt.Errorf("%w: short SOS", ErrCorrupt)
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(d.comps) || len(seg) != 4+2*ns {
		return fmt.Errorf("%w: SOS with %d components", ErrCorrupt, ns)
	}
	ss, se, ah, al := int(seg[1+2*ns]), int(seg[2+2*ns]), int(seg[3+2*ns]>>4), uint(seg[3+2*ns]&15)
	var scomps []*component
	for i := range ns {
		id, tables := int(seg[1+2*i]), seg[2+2*i]
		var c *component
		for k := range d.comps {
			if d.comps[k].id == id {
				c = &d.comps[k]
			}
		}
		if c == nil {
			return fmt.Errorf("%w: scan names unknown component %d", ErrCorrupt, id)
		}
		c.td, c.ta = int(tables>>4), int(tables&15)
		needDC := !d.progressive || ss == 0 && ah == 0
		needAC := !d.progressive || ss > 0
		if c.td > 3 || c.ta > 3 || needDC && d.dc[c.td] == nil || needAC && d.ac[c.ta] == nil {
			return fmt.Errorf("%w: scan uses an undefined Huffman table", ErrCorrupt)
		}
		c.pred = 0
		scomps = append(scomps, c)
	}
	luma := &d.comps[0]
	if !d.haveQuant[luma.tq] {
		return fmt.Errorf("%w: no quantisation table for luma", ErrCorrupt)
	}
	d.setWeights()
	if d.progressive {
		if ss > se || se > 63 || ss == 0 && se != 0 || ss > 0 && ns != 1 || al > 13 {
			return fmt.Errorf("%w: progressive scan %d-%d, %d components", ErrCorrupt, ss, se, ns)
		}
		// (A refinement scan depends on every earlier scan of its band, so
		// the luma's AC scans are decoded all or none.)
		if ss > 0 && (scomps[0] != luma || d.scale == 8 && !d.planes) {
			// AC of chroma, or AC not needed at 1/8: skip the scan's data.
			d.pos = (&bitReader{data: d.data, pos: d.pos}).resume()
			return nil
		}
		d.scans++
	}
	d.bits = bitReader{data: d.data, pos: d.pos}
	br := &d.bits
	mcusX, mcusY := d.mcusX, d.mcusY
	if ns == 1 {
		// A non-interleaved scan walks the component's own blocks.
		mcusX, mcusY = scomps[0].blocksX, scomps[0].blocksY
	}
	var coef [64]int32
	nz := make([]uint8, 0, 64)
	eobrun := 0
	left := d.restart
	for my := range mcusY {
		for mx := range mcusX {
			if d.restart > 0 {
				if left == 0 {
					if err := br.restartMarker(); err != nil {
						return err
					}
					for _, c := range scomps {
						c.pred = 0
					}
					eobrun = 0
					left = d.restart
				}
				left--
			}
			for _, c := range scomps {
				nh, nv := c.h, c.v
				if ns == 1 {
					nh, nv = 1, 1
				}
				for by := range nv {
					for bx := range nh {
						bx, by := mx*nh+bx, my*nv+by
						var err error
						switch {
						case c != luma && !d.progressive:
							_, err = br.block(d.dc[c.td], d.ac[c.ta], &c.pred)
						case c != luma && ah == 0:
							_, err = br.block(d.dc[c.td], nil, &c.pred) // a DC scan: no AC
						case c != luma:
							br.receive(1) // a DC refinement bit
						case !d.progressive && d.planes:
							var low [3]int32
							if err = br.lowCoefficients(d.dc[c.td], d.ac[c.ta], &c.pred, &low); err == nil {
								d.emitGradient(bx, by, &low)
							}
						case !d.progressive && d.scale == 8:
							var dc int32
							if dc, err = br.block(d.dc[c.td], d.ac[c.ta], &c.pred); err == nil {
								d.emitDC(bx, by, dc)
							}
						case !d.progressive:
							if nz, err = br.coefficients(d.dc[c.td], d.ac[c.ta], &c.pred, &coef, nz[:0]); err == nil {
								d.emit(bx, by, &coef, nz)
							}
						default:
							err = d.progressiveBlock(c, bx, by, ss, se, ah, al, &eobrun)
						}
						if err != nil {
							return err
						}
					}
				}
			}
		}
		if br.zeros > maxZeroBytes {
			return fmt.Errorf("%w: entropy-coded data truncated", ErrCorrupt)
		}
	}
	if br.zeros > maxZeroBytes {
		return fmt.Errorf("%w: entropy-coded data truncated", ErrCorrupt)
	}
	if !d.progressive && slices.Contains(scomps, luma) {
		d.lumaDone = true
	}
	d.pos = br.resume()
	return nil
}

// emitFull writes a block's 8x8 samples from its coefficients (zigzag
// order; the non-zero ones listed in nz, cleared on the way).
func (d *decoder) emitFull(bx, by int, coef *[64]int32, nz []uint8) {
	q := &d.quant[d.comps[0].tq]
	var in [64]int32
	for _, k := range nz {
		k &= 63
		in[zigzag[k]] = coef[k] * int32(q[k])
		coef[k] = 0
	}
	var blk [64]uint8
	idct(&in, &blk)
	out := d.out
	for i := range 8 {
		y := by*8 + i
		if y >= out.Rows {
			break
		}
		row := out.Luma[y*out.Cols : (y+1)*out.Cols]
		for j, v := range blk[8*i : 8*i+8] {
			if x := bx*8 + j; x < len(row) {
				row[x] = float32(v)
			}
		}
	}
}

// emitGradient writes a block's mean and slopes at 1/8 scale from its DC
// and lowest AC coefficients (zigzag order: DC, across, down).
func (d *decoder) emitGradient(bx, by int, low *[3]int32) {
	d.emitDC(bx, by, low[0])
	if bx < d.out.Cols && by < d.out.Rows {
		q := &d.quant[d.comps[0].tq]
		i := by*d.out.Cols + bx
		d.out.GradX[i] = float32(low[1]) * float32(q[1]) * slope1
		d.out.GradY[i] = float32(low[2]) * float32(q[2]) * slope1
	}
}

// slope1 is the least-squares slope, in levels per pixel and per unit of
// a dequantised coefficient, of the first AC basis function over the 8
// pixels of a block: C(0)C(1)/4 * cos((2x+1)pi/16), against x - 3.5.
var slope1 = func() float32 {
	num, den := 0.0, 0.0
	for x := range 8 {
		dx := float64(x) - 3.5
		num += math.Cos(float64(2*x+1)*math.Pi/16) * dx
		den += dx * dx
	}
	return float32(num / den / (4 * math.Sqrt2))
}()

// emitDC writes a block's output at 1/8 scale from its DC coefficient.
func (d *decoder) emitDC(bx, by int, dc int32) {
	if bx < d.out.Cols && by < d.out.Rows {
		d.out.Luma[by*d.out.Cols+bx] = min(max(float32(dc)*float32(d.quant[d.comps[0].tq][0])/8+128, 0), 255)
	}
}

// emit writes a block's outputs from its coefficients (zigzag order; the
// non-zero ones listed in nz, cleared on the way).
func (d *decoder) emit(bx, by int, coef *[64]int32, nz []uint8) {
	if d.scale == 1 {
		d.emitFull(bx, by, coef, nz)
		return
	}
	n := 8 / d.scale
	var blk [16]float32
	if n == 2 {
		var b0, b1, b2, b3 float32
		for _, k := range nz {
			k &= 63
			v := float32(coef[k])
			coef[k] = 0
			w := &d.weights[k]
			b0 += v * w[0]
			b1 += v * w[1]
			b2 += v * w[2]
			b3 += v * w[3]
		}
		blk[0], blk[1], blk[2], blk[3] = b0, b1, b2, b3
	} else {
		for _, k := range nz {
			k &= 63
			v := float32(coef[k])
			coef[k] = 0
			w := &d.weights[k]
			for i := range blk {
				blk[i] += v * w[i]
			}
		}
	}
	out := d.out
	for i := range n {
		y := by*n + i
		if y >= out.Rows {
			break
		}
		row := out.Luma[y*out.Cols : (y+1)*out.Cols]
		for j := range n {
			if x := bx*n + j; x < len(row) {
				row[x] = min(max(blk[i*n+j]+128, 0), 255)
			}
		}
	}
}

// setWeights fills d.weights[k][i*n+j], coefficient k's share
// (dequantised) in output (i, j) of its block.
func (d *decoder) setWeights() {
	if d.scale == 8 || d.scale == 1 {
		return
	}
	n := 8 / d.scale
	q := &d.quant[d.comps[0].tq]
	m := &means[d.scale/4]
	for k := range 64 {
		row, col := zigzag[k]/8, zigzag[k]%8
		for i := range n {
			for j := range n {
				d.weights[k][i*n+j] = float32(q[k]) * m[i][row] * m[j][col]
			}
		}
	}
}

// maxZeroBytes is how far past the end of the entropy-coded data (or a
// marker) decoding may read zeros before the file counts as truncated.
const maxZeroBytes = 64

// zigzag maps a coefficient's zigzag index to its natural (row*8+col) one.
var zigzag = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// means[0] (scale 2) and means[1] (scale 4): means[.][i][u] is the mean,
// over output i's pixels, of the inverse DCT's basis function u with its
// normalisation: C(u)/2 * cos((2x+1)u*pi/16), C(0) = 1/sqrt(2). A block's
// output (i, j) is then sum over (v, u) of F(v,u) * m[i][v] * m[j][u].
var means = func() (m [2][4][8]float32) {
	for t, s := range []int{2, 4} {
		for i := range 8 / s {
			for u := range 8 {
				c := 0.5
				if u == 0 {
					c = 0.5 / math.Sqrt2
				}
				sum := 0.0
				for x := i * s; x < (i+1)*s; x++ {
					sum += math.Cos(float64(2*x+1) * float64(u) * math.Pi / 16)
				}
				m[t][i][u] = float32(c * sum / float64(s))
			}
		}
	}
	return m
}()
