package hamming

import (
	"math/bits"
	"slices"
	"unsafe"

	"github.com/ivid-project/ivid/internal/pdq"
)

// Each chunk keeps its entries in group lines: one 64-byte line holds the
// entries of a few consecutive chunk values, so that a probe reads where
// its bucket is and the bucket's entries together, one cache miss rather
// than two. Each entry carries a tag, the first bits of the next chunk's
// value, which rules out most candidates before their code is read (see
// rangeFunc).
//
// A group whose entries do not fit in the line (crowded buckets) keeps
// them in the chunk's overflow arrays instead, and its line holds their
// offsets there.

// lineEntries is how many entries fit in a group line beside its header.
const lineEntries = 10

type groupLine struct {
	// Tags first: a query reads four from any slot in one 8-byte load,
	// which stays inside the line.
	tags [lineEntries]uint16
	// ends holds, 4 bits a value, the end of each value's entries in the
	// line; overflowed when they are in the overflow arrays.
	ends uint32
	pos  [lineEntries]uint32 // positions; offsets when overflowed
}

const overflowed = ^uint32(0)

// maxPer bounds the values a group line holds (their ends fill 32 bits).
const maxPer = 8

// groupMean is the mean number of entries a group line is given when
// choosing its values: few enough that most groups fit in a line (with a
// Poisson count of mean 5.5, 95 % hold 10 or fewer).
const groupMean = 5.5

// groups is a chunk's group lines and overflow arrays.
type groups struct {
	lines []groupLine
	per   uint32 // values a line
	magic uint64 // v*magic>>magicShift == v/per for v < 2^24
	// Overflowed groups' entries, by value.
	overPos  []uint32
	overTags []uint16
	// The tag's bits: [tagStart, tagStart+tagWidth) of the code.
	tagStart, tagWidth uint
}

const magicShift = 40

// line returns the group line and index within it of value v.
func (g *groups) line(v uint32) (uint32, uint32) {
	l := uint32(uint64(v) * g.magic >> magicShift)
	return l, v - l*g.per
}

// perLine picks how many values share a line for n entries over 2^width
// values.
func perLine(n int, width uint) uint32 {
	per := int(groupMean * float64(uint64(1)<<width) / float64(max(n, 1)))
	return uint32(min(maxPer, max(1, per)))
}

// fillGroups builds the chunk's group lines over st's codes; next is the
// chunk whose leading bits are the tags.
func (c *chunk) fillGroups(st *static, next *chunk) {
	codes := st.codes
	g := &c.groups
	g.per = perLine(len(codes), c.width)
	g.magic = (uint64(1)<<magicShift + uint64(g.per) - 1) / uint64(g.per)
	g.tagStart, g.tagWidth = next.start, min(16, next.width)
	values := uint32(1) << c.width
	g.lines = makeTable[groupLine](st, int((values+g.per-1)/g.per))
	counts := make([]uint32, values+1)
	for _, h := range codes {
		counts[extract(h, c.start, c.width)]++
	}
	// Each value's first slot: in its line, or in the overflow arrays.
	over := uint32(0)
	for l := range g.lines {
		gl := &g.lines[l]
		lo := uint32(l) * g.per
		hi := min(lo+g.per, values)
		total := uint32(0)
		for v := lo; v < hi; v++ {
			total += counts[v]
		}
		if total > lineEntries {
			gl.ends = overflowed
			for v := lo; v < hi; v++ {
				gl.pos[v-lo] = over
				k := counts[v]
				counts[v] = over
				over += k
			}
			gl.pos[hi-lo] = over
			continue
		}
		end := uint32(0)
		for v := lo; v < hi; v++ {
			k := counts[v]
			counts[v] = end
			end += k
			gl.ends |= end << (4 * (v - lo))
		}
		// Values past the last fill no slot.
		for v := hi; v < lo+g.per; v++ {
			gl.ends |= end << (4 * (v - lo))
		}
	}
	// From the Go heap, which reuses what the build freed: mapped like the
	// lines, at 100 million codes they raised the peak RSS while building
	// from 16.1 to 21.3 GiB, and were no faster. Three spare tags, so that
	// four can be read from any entry.
	g.overPos = make([]uint32, over)
	g.overTags = make([]uint16, over+3)
	for i, h := range codes {
		v := extract(h, c.start, c.width)
		tag := uint16(extract(h, g.tagStart, g.tagWidth))
		l, _ := g.line(v)
		gl := &g.lines[l]
		k := counts[v]
		counts[v]++
		if gl.ends == overflowed {
			g.overPos[k], g.overTags[k] = uint32(i), tag
		} else {
			gl.pos[k], gl.tags[k] = uint32(i), tag
		}
	}
}

func (g *groups) bytes() int {
	return len(g.lines)*int(unsafe.Sizeof(groupLine{})) + 4*len(g.overPos) + 2*len(g.overTags)
}

// pairBounds sets t2[u], the most that chunks u and u+1 (cyclically) may
// differ by together for u to be the first chunk of a run of chunks each
// within its share of r. With shares radii[u] + (r - sum radii)/m, whose
// sum is r, a code within r has a chunk from which every run's distance is
// within its shares (the cycle lemma; the pigeonring of Qin et al.), and in
// particular its first two chunks'.
func pairBounds(t2, radii []int, r int) {
	m := len(radii)
	sum := 0
	for _, x := range radii {
		sum += x
	}
	extra := 2 * (r - sum) / m
	for u := range m {
		t2[u] = radii[u] + radii[(u+1)%m] + extra
	}
}

// starts reports whether u is a chunk from which a code's run of one and
// two chunks are within their shares.
func (st *static) starts(code *pdq.Hash, qv *[32]uint32, radii, t2 []int, u int) bool {
	c := &st.chunks[u]
	du := bits.OnesCount32(extract(*code, c.start, c.width) ^ qv[u])
	if du > radii[u] {
		return false
	}
	w := (u + 1) % len(st.chunks)
	n := &st.chunks[w]
	return du+bits.OnesCount32(extract(*code, n.start, n.width)^qv[w]) <= t2[u]
}

// rangeFunc calls fn for every code within r of h. Codes within r have
// some chunk within its radius (see radii), so every chunk's buckets
// within its radius of the query's value are read. Each probe's line is
// requested well ahead (prefetch), so that many memory reads are in
// flight; when it comes, its bucket's tags are tested four at a time in
// one word, so that only the rare candidate takes a branch. Calls are few
// in the loop: Go keeps no register across a call. Candidates' codes are
// then read, again requested ahead, and verified.
func (st *static) rangeFunc(h pdq.Hash, r int, s *scratch, fn func(Match)) {
	if len(st.codes) == 0 || r < 0 {
		return
	}
	h = st.perm.forward(h)
	// Past a few bucket reads per entry, a linear scan is cheaper.
	if r >= pdq.Size || st.probeCost(r)*8 > float64(len(st.codes)) {
		for i, c := range st.codes {
			if d := pdq.Distance(c, h); d <= r && !st.isDeleted(uint32(i)) {
				fn(Match{ID: st.ids.at(uint32(i)), Hash: st.perm.back(c), Distance: d})
			}
		}
		return
	}
	m := len(st.chunks)
	var qv [32]uint32
	var rad, t2 [32]int
	radii(rad[:m], r)
	pairBounds(t2[:m], rad[:m], r)
	var qt [32]uint32  // the query's tag in each chunk
	var ends [32][]int // each chunk's rings' ends in its masks
	var first [33]int  // each chunk's first probe
	s.keys, s.addrs = s.keys[:0], s.addrs[:0]
	for t := range st.chunks {
		c := &st.chunks[t]
		g := &c.groups
		qv[t] = extract(h, c.start, c.width)
		qt[t] = extract(h, g.tagStart, g.tagWidth)
		first[t] = len(s.keys)
		base := uintptr(unsafe.Pointer(unsafe.SliceData(g.lines)))
		var masks []uint32
		masks, ends[t] = s.neighbourhood(c.width, rad[t])
		for _, mask := range masks {
			l, i := g.line(qv[t] ^ mask)
			s.keys = append(s.keys, l<<3|i)
			s.addrs = append(s.addrs, base+uintptr(l)*unsafe.Sizeof(groupLine{}))
		}
	}
	n := len(s.keys)
	first[m] = n
	prefetchAll(s.addrs[:min(ahead, n)])
	s.cands = s.cands[:0]
	s.spans = s.spans[:0] // overflowed buckets, read last
	for t := range st.chunks {
		lines, qtag := st.chunks[t].groups.lines, qt[t]
		p := first[t]
		for ring := range rad[t] + 1 {
			bound := t2[t] - ring
			// A lane's count plus this has its top bit set past bound.
			over := uint64(0x7fff-bound) * lanes
			for ; p < first[t]+ends[t][ring]; p++ {
				if p%16 == 0 && p+ahead < n {
					prefetchAll(s.addrs[p+ahead : min(p+ahead+16, n)])
				}
				k := s.keys[p]
				gl := &lines[k>>3]
				i := k & 7
				lo, hi := gl.slots(i)
				if gl.ends == overflowed || hi-lo > 4 {
					s.spans = append(s.spans, span{t: uint32(t), ring: uint32(ring), key: k})
					continue
				}
				four := *(*uint64)(unsafe.Add(unsafe.Pointer(&gl.tags), 2*lo))
				pass := ^(laneCounts(four^uint64(qtag)*lanes) + over) & topBits & (1<<(16*(hi-lo)) - 1)
				for pass != 0 {
					j := uint32(bits.TrailingZeros64(pass)) / 16
					s.cands = append(s.cands, cand{uint32(t), gl.pos[lo+j]})
					pass &= pass - 1
				}
			}
		}
	}
	for _, sp := range s.spans {
		g := &st.chunks[sp.t].groups
		if gl := &g.lines[sp.key>>3]; gl.ends == overflowed {
			if lo := gl.pos[sp.key&7]; lo < gl.pos[sp.key&7+1] {
				prefetch(unsafe.Pointer(&g.overPos[lo]))
				prefetch(unsafe.Pointer(&g.overTags[lo]))
			}
		}
	}
	for _, sp := range s.spans {
		g := &st.chunks[sp.t].groups
		s.cands = g.appendCands(s.cands, &g.lines[sp.key>>3], sp.key&7, sp.t, qt[sp.t], t2[sp.t]-int(sp.ring))
	}
	nc := len(s.cands)
	s.addrs = slices.Grow(s.addrs[:0], nc)[:nc]
	base := uintptr(unsafe.Pointer(unsafe.SliceData(st.codes)))
	for j, c := range s.cands {
		s.addrs[j] = base + uintptr(c.pos)*unsafe.Sizeof(pdq.Hash{})
	}
	prefetchAll(s.addrs)
	for _, c := range s.cands {
		code := &st.codes[c.pos]
		d := pdq.Distance(*code, h)
		if d > r || st.isDeleted(c.pos) || st.firstStart(code, &qv, rad[:m], t2[:m]) != int(c.t) {
			continue
		}
		fn(Match{ID: st.ids.at(c.pos), Hash: st.perm.back(*code), Distance: d})
	}
}

// lanes has 1 in each 16-bit lane; topBits each lane's top bit.
const (
	lanes   = 0x0001_0001_0001_0001
	topBits = 0x8000_8000_8000_8000
)

// laneCounts returns the number of ones in each 16-bit lane of x.
func laneCounts(x uint64) uint64 {
	x -= x >> 1 & 0x5555_5555_5555_5555
	x = x&0x3333_3333_3333_3333 + x>>2&0x3333_3333_3333_3333
	x = (x + x>>4) & 0x0f0f_0f0f_0f0f_0f0f
	return (x + x>>8) & 0x00ff_00ff_00ff_00ff
}

// bucket returns the positions of value i of line gl.
func (g *groups) bucket(gl *groupLine, i uint32) []uint32 {
	if gl.ends == overflowed {
		return g.overPos[gl.pos[i]:gl.pos[i+1]]
	}
	lo, hi := gl.slots(i)
	return gl.pos[lo:hi]
}

// slots returns the slots [lo, hi) of value i in a line not overflowed.
func (gl *groupLine) slots(i uint32) (lo, hi uint32) {
	e := uint64(gl.ends) << 4
	return uint32(e>>(4*i)) & 15, uint32(e>>(4*i+4)) & 15
}

// appendCands appends the entries of value i of line gl whose tags pass
// bound, testing four tags a word as rangeFunc does.
func (g *groups) appendCands(cands []cand, gl *groupLine, i, t, qtag uint32, bound int) []cand {
	pos := g.bucket(gl, i)
	var tags unsafe.Pointer
	if gl.ends == overflowed {
		tags = unsafe.Pointer(&g.overTags[gl.pos[i]])
	} else {
		lo, _ := gl.slots(i)
		tags = unsafe.Pointer(&gl.tags[lo])
	}
	over := uint64(0x7fff-bound) * lanes
	for j := 0; j < len(pos); j += 4 {
		// Within the line, or the overflow arrays' spare slots.
		four := *(*uint64)(unsafe.Add(tags, 2*j))
		pass := ^(laneCounts(four^uint64(qtag)*lanes) + over) & topBits & (1<<(16*min(4, len(pos)-j)) - 1)
		for pass != 0 {
			cands = append(cands, cand{t, pos[j+bits.TrailingZeros64(pass)/16]})
			pass &= pass - 1
		}
	}
	return cands
}

// firstStart returns the first chunk from which code's runs start within
// their shares (see pairBounds), so that a match is reported from that
// chunk only; m if none (the code is not within r).
func (st *static) firstStart(code *pdq.Hash, qv *[32]uint32, radii, t2 []int) int {
	for u := range radii {
		if st.starts(code, qv, radii, t2, u) {
			return u
		}
	}
	return len(radii)
}
