// Package hamming is an exact in-memory index of 256-bit hashes (PDQ, vPDQ
// frames) answering "every entry within Hamming distance r" and k-nearest.
//
// It is a multi-index hash (Norouzi, Punjani and Fleet, 2012): the 256 bits
// are cut into m chunks of about log2(n) bits; if two codes are within r,
// some chunk is close (see rangeFunc for the exact bound), so reading the
// buckets of each chunk's neighbourhood finds every candidate, and each
// candidate is verified on the full code. Buckets are contiguous sorted
// arrays, not maps: codes are stored in chunk 0's order, and every other
// chunk has an array of positions with 2-byte offsets. Memory at 10 million
// entries (11 chunks): 32 bytes a code, 4 an ID (8 if any exceeds 32 bits),
// 4 per chunk after the first, about 2.1 per bucket: 965 MiB in all.
//
// A query is bound by memory reads, not by computation: about 8,000 random
// cache lines at radius 31 over 10 million codes. It is written so that
// many are in flight at once: phases of independent reads, each requested
// well ahead of its use (prefetch), and no branch on data that mispredicts
// often.
//
// Tried and measured, not kept (10 M uniform codes, radius 31): entries
// carrying 96 more bits of their code, to rule out candidates without
// reading the code, cut the codes read from 2,933 to 159 a query, but the
// entries' phase, four times the bytes, took 120 µs more (70 -> 190 µs)
// where the codes' phase saved 105 (123 -> 18), and the index took 2.1
// GiB instead of 0.97.
package hamming

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ivid-project/ivid/internal/pdq"
)

// Match is an entry found by a query.
type Match struct {
	ID       uint64
	Hash     pdq.Hash
	Distance int
}

// Entry is a hash with the ID of the item it belongs to. IDs need not be
// unique: a video has one entry per frame.
type Entry struct {
	ID   uint64
	Hash pdq.Hash
}

// maxDelta is how many inserted entries are scanned by brute force before
// they are folded into a multi-index.
const maxDelta = 8192

// maxLatest bounds the latest inserts while a fold runs: past it, an
// insert waits for the fold, so that a bulk import cannot make every query
// scan millions of entries by brute force (32,768 take about 0.1 ms).
// Contributions, a few a second, do not reach it.
const maxLatest = 4 * maxDelta

// Index is safe for concurrent use. Queries take no lock: they read a
// published set of tiers, which writers replace rather than change, so an
// insert never waits for a query in flight, nor a query for an insert.
//
// Entries live in tiers, each queried in turn: st, the bulk; mid, what
// was inserted since st was built, while it is under a sixteenth of st;
// and the latest inserts, scanned by brute force. Folding the latest into
// mid, or everything into a new st, builds in the background: at 10
// million entries a build takes seconds, during which queries answer from
// the old tiers and inserts go on. Only the swap holds the writers' lock.
type Index struct {
	cur atomic.Pointer[tiers]
	mu  sync.Mutex // held by writers
	// fold is the running fold, if any.
	fold *fold
	// Per-query work lists, reused.
	scratch sync.Pool
	// foldHook, if set (by tests), runs in a fold after its build, before
	// the swap.
	foldHook func()
}

// tiers is what queries read. Once published it is never changed, but for
// the statics' deleted bits (set atomically); the slices' arrays may be
// shared with a later tiers that appends past their length.
type tiers struct {
	st  *static
	mid *static // nil when empty
	// Entries being built into a new tier by fold, still scanned here.
	folding []Entry
	// Entries inserted since, scanned by brute force.
	delta []Entry
}

// fold is a tier being built in the background.
type fold struct {
	done chan struct{}
	// Deleted while it ran: it may have read them before the deletion, so
	// the deletion is replayed on the tier it built.
	deleted []Entry
}

// foldIfDueLocked starts a fold when enough was inserted or deleted: the
// latest inserts into mid, or, once mid (with them) reaches a sixteenth of
// st or half of st is deleted, everything into a new st. Folds run one at
// a time; inserts meanwhile wait in delta for the next (see maxLatest).
func (x *Index) foldIfDueLocked() {
	if x.fold != nil {
		return
	}
	t := x.cur.Load()
	st, mid := t.st, t.mid
	midLive, midCodes := 0, 0
	if mid != nil {
		midLive, midCodes = mid.live, len(mid.codes)
	}
	all := len(st.codes) > maxDelta && st.live < len(st.codes)/2
	switch {
	case all:
	case len(t.delta) >= maxDelta:
		all = midLive+len(t.delta) >= st.live/16
	case midCodes > maxDelta && midLive < midCodes/2:
		// mid alone, to drop its deleted entries
	default:
		return
	}
	f := &fold{done: make(chan struct{})}
	folding, hook := t.delta, x.foldHook
	x.fold = f
	x.cur.Store(&tiers{st: st, mid: mid, folding: folding})
	var sources []*static
	if mid != nil {
		sources = append(sources, mid)
	}
	if all {
		sources = append(sources, st)
	}
	go func() {
		// Deletions mark the tiers' bitsets atomically, so they can be read
		// here without the lock; one that lands after its entry was read is
		// replayed below.
		n := len(folding)
		for _, t := range sources {
			n += len(t.codes)
		}
		es := make([]Entry, 0, n)
		for _, t := range sources {
			es = t.appendLive(es)
		}
		// One builder, so that a core stays with the queries.
		built := build(append(es, folding...), 1)
		if hook != nil {
			hook()
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, e := range f.deleted {
			built.delete(e.ID, e.Hash)
		}
		t := *x.cur.Load()
		t.folding = nil
		switch {
		case all:
			t.st, t.mid = built, nil
		case built.live > 0:
			t.mid = built
		default:
			t.mid = nil
		}
		x.cur.Store(&t)
		x.fold = nil
		close(f.done)
		x.foldIfDueLocked()
	}()
}

// static is an immutable multi-index over a set of entries, but for its
// deleted bits (set atomically, under the Index's writers' lock). Codes
// are kept in the order of chunk 0's value, so chunk 0's buckets are
// ranges of codes and need no entry array.
type static struct {
	perm    *permutation // nil: bits in their own order
	codes   []pdq.Hash   // permuted
	ids     idList
	deleted []uint64 // bitset over positions
	live    int      // entries not deleted; under the Index's writers' lock
	chunks  []chunk
}

type chunk struct {
	start, width uint // bit range [start, start+width) of the 256
	buckets      buckets
	entries      []uint32 // positions by bucket; nil for chunk 0
}

// idList holds IDs in 4 bytes each while they all fit, 8 otherwise.
type idList struct {
	narrow []uint32
	wide   []uint64
}

func (l *idList) at(pos uint32) uint64 {
	if l.wide != nil {
		return l.wide[pos]
	}
	return uint64(l.narrow[pos])
}

// buckets maps a chunk value v to its entries [off(v), off(v+1)) in about
// 2 bytes a value rather than 4, and in one cache line: a line holds a
// uint32 base for lineValues values and each one's uint16 offset from it.
// A line whose entries do not fit 16 bits (thousands of near-identical
// codes) keeps absolute offsets in wide, its base then holding
// wideBlock|index.
type buckets struct {
	lines []bucketLine
	wide  []uint32
}

// lineValues values fill a 64-byte line with their base.
const lineValues = 30

type bucketLine struct {
	base uint32
	rel  [lineValues]uint16
}

const wideBlock = 1 << 31

func (b *buckets) off(v uint32) uint32 {
	l := &b.lines[v/lineValues]
	i := v % lineValues
	if l.base&wideBlock != 0 {
		return b.wide[(l.base&^wideBlock)*lineValues+i]
	}
	return l.base + uint32(l.rel[i])
}

// makeBuckets compresses counts (counts[v] = entries with value v, one more
// slot than values) into offsets, and returns them with the start of each
// value's range in next (reusing counts).
func makeBuckets(st *static, counts []uint32) (buckets, []uint32) {
	b := buckets{lines: makeTable[bucketLine](st, (len(counts)+lineValues-1)/lineValues)}
	sum := uint32(0)
	for i, c := range counts {
		counts[i] = sum
		sum += c
	}
	for blk := range b.lines {
		l := &b.lines[blk]
		lo := blk * lineValues
		hi := min(lo+lineValues, len(counts))
		first := counts[lo]
		if counts[hi-1]-first > 0xffff {
			l.base = wideBlock | uint32(len(b.wide)/lineValues)
			b.wide = append(b.wide, counts[lo:hi]...)
			b.wide = append(b.wide, make([]uint32, lineValues-(hi-lo))...)
			continue
		}
		l.base = first
		for v := lo; v < hi; v++ {
			l.rel[v-lo] = uint16(counts[v] - first)
		}
	}
	return b, counts
}

// New returns an empty index.
func New() *Index { return Build(nil) }

// Build returns an index holding entries, built in bulk.
func Build(entries []Entry) *Index {
	x := &Index{}
	x.cur.Store(&tiers{st: build(entries, 2)})
	return x
}

// Bytes returns the size of the index's tables, which queries read at
// random.
func (x *Index) Bytes() int64 {
	t := x.cur.Load()
	n := t.st.bytes() + int64((len(t.folding)+len(t.delta))*int(unsafe.Sizeof(Entry{})))
	if t.mid != nil {
		n += t.mid.bytes()
	}
	return n
}

func (st *static) bytes() int64 {
	n := len(st.codes)*int(unsafe.Sizeof(pdq.Hash{})) + 4*len(st.ids.narrow) + 8*len(st.ids.wide) + 8*len(st.deleted)
	for _, c := range st.chunks {
		n += len(c.buckets.lines)*int(unsafe.Sizeof(bucketLine{})) + 4*len(c.buckets.wide) + 4*len(c.entries)
	}
	return int64(n)
}

// Len returns the number of live entries.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur.Load().len()
}

// len counts the live entries; the statics' counts are the writers'.
func (t *tiers) len() int {
	n := t.st.live + len(t.folding) + len(t.delta)
	if t.mid != nil {
		n += t.mid.live
	}
	return n
}

// Insert adds an entry. It waits only for other writers, or for a running
// fold when maxLatest entries already wait for the next.
func (x *Index) Insert(e Entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for f := x.fold; f != nil && len(x.cur.Load().delta) >= maxLatest; f = x.fold {
		x.mu.Unlock()
		<-f.done
		x.mu.Lock()
	}
	t := *x.cur.Load()
	// Appending writes past the published length, which no query reads.
	t.delta = append(t.delta, e)
	x.cur.Store(&t)
	x.foldIfDueLocked()
}

// Delete removes every entry with this ID and hash and reports how many.
func (x *Index) Delete(id uint64, h pdq.Hash) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	is := func(e Entry) bool { return e.ID == id && e.Hash == h }
	// Queries and the fold read the lists without the lock: they are
	// replaced, never changed.
	without := func(es []Entry) ([]Entry, int) {
		if !slices.ContainsFunc(es, is) {
			return es, 0
		}
		kept := slices.DeleteFunc(slices.Clone(es), is)
		return kept, len(es) - len(kept)
	}
	t := *x.cur.Load()
	var n, k int
	t.delta, n = without(t.delta)
	t.folding, k = without(t.folding)
	n += k
	if f := x.fold; f != nil {
		// The fold may have read the entry already: the deletion is
		// replayed on what it builds.
		f.deleted = append(f.deleted, Entry{ID: id, Hash: h})
	}
	n += t.st.delete(id, h)
	if t.mid != nil {
		n += t.mid.delete(id, h)
	}
	x.cur.Store(&t)
	x.foldIfDueLocked()
	return n
}

// delete marks every live entry with this ID and hash deleted.
func (st *static) delete(id uint64, h pdq.Hash) int {
	n := 0
	st.exact(h, func(pos uint32) {
		if st.ids.at(pos) == id && !st.isDeleted(pos) {
			atomic.OrUint64(&st.deleted[pos/64], 1<<(pos%64))
			st.live--
			n++
		}
	})
	return n
}

// Compact folds every entry into one multi-index and drops deleted ones,
// at once. Inserts and deletes fold in the background when worthwhile.
func (x *Index) Compact() {
	for {
		x.mu.Lock()
		if f := x.fold; f != nil {
			x.mu.Unlock()
			<-f.done
			continue
		}
		x.cur.Store(&tiers{st: build(x.cur.Load().entries(), 2)})
		x.mu.Unlock()
		return
	}
}

// Entries returns a copy of every live entry.
func (x *Index) Entries() []Entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur.Load().entries()
}

func (t *tiers) entries() []Entry {
	all := make([]Entry, 0, t.len())
	all = t.st.appendLive(all)
	if t.mid != nil {
		all = t.mid.appendLive(all)
	}
	all = append(all, t.folding...)
	return append(all, t.delta...)
}

func (st *static) appendLive(dst []Entry) []Entry {
	for i, c := range st.codes {
		if !st.isDeleted(uint32(i)) {
			dst = append(dst, Entry{ID: st.ids.at(uint32(i)), Hash: st.perm.back(c)})
		}
	}
	return dst
}

// Range returns every entry within distance r (0..256) of h, nearest first.
func (x *Index) Range(h pdq.Hash, r int) []Match {
	var out []Match
	x.RangeFunc(h, r, func(m Match) { out = append(out, m) })
	sortMatches(out)
	return out
}

// RangeFunc calls fn for every entry within distance r of h, in no order.
func (x *Index) RangeFunc(h pdq.Hash, r int, fn func(Match)) {
	t := x.cur.Load()
	s, _ := x.scratch.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	t.st.rangeFunc(h, r, s, fn)
	if t.mid != nil {
		t.mid.rangeFunc(h, r, s, fn)
	}
	x.scratch.Put(s)
	scan(t.folding, h, r, fn)
	scan(t.delta, h, r, fn)
}

// scan is brute force over es.
func scan(es []Entry, h pdq.Hash, r int, fn func(Match)) {
	for i := range es {
		e := &es[i]
		if d := pdq.Distance(e.Hash, h); d <= r {
			fn(Match{ID: e.ID, Hash: e.Hash, Distance: d})
		}
	}
}

// Nearest returns the k entries nearest to h (ties broken by ID), nearest
// first.
func (x *Index) Nearest(h pdq.Hash, k int) []Match {
	if k <= 0 {
		return nil
	}
	for _, r := range []int{8, 16, 32, 48, 64} {
		if m := x.Range(h, r); len(m) >= k {
			return m[:k]
		}
	}
	m := x.Range(h, pdq.Size)
	return m[:min(k, len(m))]
}

func sortMatches(m []Match) {
	slices.SortFunc(m, func(a, b Match) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// chunkWidth picks about log2(n) bits a chunk, at most 24: buckets then
// hold about one entry each (fewer candidates to verify, each a cache miss),
// while the offsets tables (2 bytes per bucket) stay below the entries' size
// up to tens of millions of entries. Measured at 10 M uniform codes, r=31:
// 22-bit chunks p50 0.73 ms and 2,689 queries/s on 2 cores; 24-bit chunks
// p50 0.51 ms and 4,388 queries/s, for 280 MiB more.
func chunkWidth(n int) uint {
	return uint(min(24, max(8, bits.Len(uint(n)))))
}

// build builds entries' multi-index, filling workers chunks at once.
func build(entries []Entry, workers int) *static {
	return buildWidth(entries, chunkWidth(len(entries)), workers)
}

// buildWidth is build with w-bit chunks.
func buildWidth(entries []Entry, w uint, workers int) *static {
	n := len(entries)
	st := &static{live: n, deleted: make([]uint64, (n+63)/64)}
	m := (pdq.Size + int(w) - 1) / int(w)
	// Spread 256 bits over m chunks whose widths differ by at most one.
	start := uint(0)
	for i := range m {
		width := uint(pdq.Size / m)
		if i < pdq.Size%m {
			width++
		}
		st.chunks = append(st.chunks, chunk{start: start, width: width})
		start += width
	}
	if n >= permuteMin {
		sample := make([]pdq.Hash, 0, 16384)
		for i := 0; i < n; i += max(1, n/cap(sample)) {
			sample = append(sample, entries[i].Hash)
		}
		widths := make([]uint, m)
		for i := range widths {
			widths[i] = st.chunks[i].width
		}
		st.perm = newPermutation(sample, widths)
	}
	// Chunk 0: place the codes themselves in bucket order.
	c0 := &st.chunks[0]
	counts := make([]uint32, 1<<c0.width+1)
	wideIDs := false
	for _, e := range entries {
		counts[extract(st.perm.forward(e.Hash), c0.start, c0.width)]++
		wideIDs = wideIDs || e.ID > math.MaxUint32
	}
	var next []uint32
	c0.buckets, next = makeBuckets(st, counts)
	st.codes = makeTable[pdq.Hash](st, n)
	if wideIDs {
		st.ids.wide = make([]uint64, n)
	} else {
		st.ids.narrow = make([]uint32, n)
	}
	for _, e := range entries {
		h := st.perm.forward(e.Hash)
		v := extract(h, c0.start, c0.width)
		pos := next[v]
		next[v]++
		st.codes[pos] = h
		if wideIDs {
			st.ids.wide[pos] = e.ID
		} else {
			st.ids.narrow[pos] = uint32(e.ID)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i := 1; i < m; i++ {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st.chunks[i].fill(st)
		})
	}
	wg.Wait()
	return st
}

// fill builds the chunk's buckets by counting sort.
func (c *chunk) fill(st *static) {
	codes := st.codes
	counts := make([]uint32, 1<<c.width+1)
	for _, h := range codes {
		counts[extract(h, c.start, c.width)]++
	}
	var next []uint32
	c.buckets, next = makeBuckets(st, counts)
	c.entries = makeTable[uint32](st, len(codes)+4)
	for i, h := range codes {
		v := extract(h, c.start, c.width)
		c.entries[next[v]] = uint32(i)
		next[v]++
	}
}

// extract returns bits [start, start+width) of h, counting from the most
// significant bit of h[0]; width <= 32.
func extract(h pdq.Hash, start, width uint) uint32 {
	w, off := start/64, start%64
	v := h[w] << off
	if off+width > 64 && w < 3 {
		v |= h[w+1] >> (64 - off)
	}
	return uint32(v >> (64 - width))
}

func (st *static) isDeleted(pos uint32) bool {
	return atomic.LoadUint64(&st.deleted[pos/64])>>(pos%64)&1 == 1
}

// probeCost estimates the bucket reads of a multi-index query at radius r:
// every chunk's neighbourhood of radius r/m.
func (st *static) probeCost(r int) float64 {
	q := r / len(st.chunks)
	total := 0.0
	for _, c := range st.chunks {
		n := 1.0
		for k := 1; k <= q; k++ {
			n = n * float64(int(c.width)-k+1) / float64(k)
			total += n
		}
		total++
	}
	return total
}

// scratch holds one query's work lists.
type scratch struct {
	probes []probe
	spans  []span
	reads  []span  // spans whose entries are read
	cands  []probe // chunk, position
	sizes  []int   // entries per chunk and ring
	saved  []int   // chooseRadii's knapsack
	next   []int
	choice []int8
	hoods  []hood
}

// hood is a cached neighbourhood: the masks within distance q in width bits.
type hood struct {
	width uint
	q     int
	masks []uint32
}

// probe is a bucket to read: chunk t, value v.
type probe struct{ t, v uint32 }

// span is a probed bucket's range of entries and its distance from the
// query's chunk value.
type span struct{ t, ring, lo, hi uint32 }

// rangeFunc answers in phases (bucket values, their offsets, their
// positions, the codes), each a loop of independent reads: the processor
// then overlaps their cache misses instead of waiting on each in turn.
//
// Which buckets to read is chosen per query. Codes within r of the query
// have, for any radii rho_i with sum(rho_i+1) > r, some chunk i within
// rho_i (otherwise the distance would be at least that sum). Every chunk's
// neighbourhood of radius r/m is located first, which is cheap (offsets
// only); then the radii that satisfy the bound with the fewest entries to
// verify are picked. Correlated bits make some buckets crowded, and this
// steers around them (measured on correlated codes: half the candidates).
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
	q := r / m
	var qv [32]uint32
	s.probes = s.probes[:0]
	for t, c := range st.chunks {
		qv[t] = extract(h, c.start, c.width)
		for _, mask := range s.neighbourhood(c.width, q) {
			s.probes = append(s.probes, probe{uint32(t), qv[t] ^ mask})
		}
	}
	s.spans = slices.Grow(s.spans[:0], len(s.probes))[:len(s.probes)]
	for i := range min(ahead, len(s.probes)) {
		st.prefetchBucket(s.probes[i])
	}
	rings := q + 1
	s.sizes = slices.Grow(s.sizes[:0], m*rings)[:m*rings]
	clear(s.sizes)
	for i, p := range s.probes {
		if i+ahead < len(s.probes) {
			st.prefetchBucket(s.probes[i+ahead])
		}
		b := &st.chunks[p.t].buckets
		ring := uint32(bits.OnesCount32(p.v ^ qv[p.t]))
		lo, hi := b.off(p.v), b.off(p.v+1)
		s.spans[i] = span{p.t, ring, lo, hi}
		s.sizes[int(p.t)*rings+int(ring)] += int(hi - lo)
	}
	var radii [32]int
	s.chooseRadii(radii[:m], q, r)
	// Most buckets hold zero, one or two entries, so branching on their
	// sizes would mispredict about every other time: the buckets to read
	// are listed without a branch, then up to four entries copied
	// unconditionally (the entry tables have four spare slots) and the
	// count advanced by the real number.
	s.reads = slices.Grow(s.reads[:0], len(s.spans))[:len(s.spans)]
	nr := 0
	for _, sp := range s.spans {
		s.reads[nr] = sp
		k := sp.hi - sp.lo
		nonEmpty := (k | -k) >> 31                        // 1 if k > 0
		outside := uint32(radii[sp.t]-int(sp.ring)) >> 31 // 1 if ring > radius
		nr += int(nonEmpty & (outside ^ 1))
	}
	s.reads = s.reads[:nr]
	for i := range min(ahead, nr) {
		st.prefetchEntries(s.reads[i])
	}
	s.cands = slices.Grow(s.cands[:0], 4)
	n := 0
	for i, sp := range s.reads {
		if i+ahead < nr {
			st.prefetchEntries(s.reads[i+ahead])
		}
		k := int(sp.hi - sp.lo)
		if n+max(k, 4) > cap(s.cands) {
			s.cands = slices.Grow(s.cands[:n], max(k, 4))
		}
		dst := s.cands[n:cap(s.cands)]
		switch {
		case sp.t == 0:
			for j := range k {
				dst[j] = probe{0, sp.lo + uint32(j)}
			}
		case k <= 4:
			e := st.chunks[sp.t].entries[sp.lo : sp.lo+4]
			dst[0], dst[1], dst[2], dst[3] = probe{sp.t, e[0]}, probe{sp.t, e[1]}, probe{sp.t, e[2]}, probe{sp.t, e[3]}
		default:
			for j, pos := range st.chunks[sp.t].entries[sp.lo:sp.hi] {
				dst[j] = probe{sp.t, pos}
			}
		}
		n += k
	}
	s.cands = s.cands[:n]
	for i := range min(ahead, len(s.cands)) {
		prefetch(unsafe.Pointer(&st.codes[s.cands[i].v]))
	}
	for i, c := range s.cands {
		if i+ahead < len(s.cands) {
			prefetch(unsafe.Pointer(&st.codes[s.cands[i+ahead].v]))
		}
		code := &st.codes[c.v]
		d := pdq.Distance(*code, h)
		if d > r || st.isDeleted(c.v) || st.foundEarlier(code, &qv, radii[:m], int(c.t)) {
			continue
		}
		fn(Match{ID: st.ids.at(c.v), Hash: st.perm.back(*code), Distance: d})
	}
}

// chooseRadii sets radii[t] in -1..q (-1: chunk not read) so that
// sum(radii[t]+1) > r with the fewest entries to verify, from s.sizes
// (entries per chunk and ring). Starting from every radius at q, the sum
// exceeds r by slack; the choice is which rings to give up within that
// slack, a knapsack over the chunks small enough to solve exactly (slack is
// 1 for radius 31 over 11 chunks).
func (s *scratch) chooseRadii(radii []int, q, r int) {
	m := len(radii)
	rings := q + 1
	slack := m*rings - (r + 1)
	// best[j]: most entries saved over the chunks so far, giving up j rings.
	s.saved = slices.Grow(s.saved[:0], slack+1)[:slack+1]
	s.next = slices.Grow(s.next[:0], slack+1)[:slack+1]
	s.choice = slices.Grow(s.choice[:0], m*(slack+1))[:m*(slack+1)]
	best, next := s.saved, s.next
	clear(best)
	for t := range m {
		sizes := s.sizes[t*rings : (t+1)*rings]
		for j := range next {
			next[j], s.choice[t*(slack+1)+j] = best[j], 0
			saved := 0
			for k := 1; k <= min(j, rings); k++ {
				saved += sizes[rings-k]
				if v := best[j-k] + saved; v > next[j] {
					next[j], s.choice[t*(slack+1)+j] = v, int8(k)
				}
			}
		}
		best, next = next, best
	}
	j := slack
	for t := m - 1; t >= 0; t-- {
		k := int(s.choice[t*(slack+1)+j])
		radii[t] = q - k
		j -= k
	}
}

// foundEarlier reports whether a chunk table before t also reaches code, so
// that each match is reported once without a per-query set.
func (st *static) foundEarlier(code *pdq.Hash, qv *[32]uint32, radii []int, t int) bool {
	for u := range t {
		c := &st.chunks[u]
		if bits.OnesCount32(extract(*code, c.start, c.width)^qv[u]) <= radii[u] {
			return true
		}
	}
	return false
}

// exact calls fn with the position of every code equal to h.
func (st *static) exact(h pdq.Hash, fn func(pos uint32)) {
	if len(st.codes) == 0 {
		return
	}
	h = st.perm.forward(h)
	c := &st.chunks[0]
	v := extract(h, c.start, c.width)
	for pos := c.buckets.off(v); pos < c.buckets.off(v+1); pos++ {
		if st.codes[pos] == h {
			fn(pos)
		}
	}
}

// neighbourhood returns the masks of every value within Hamming distance q
// of 0 in width bits, computed once per scratch.
func (s *scratch) neighbourhood(width uint, q int) []uint32 {
	for _, h := range s.hoods {
		if h.width == width && h.q == q {
			return h.masks
		}
	}
	var masks []uint32
	if q >= 0 {
		masks = appendFlips([]uint32{0}, 0, 0, width, q)
	}
	s.hoods = append(s.hoods, hood{width, q, masks})
	return masks
}

func appendFlips(dst []uint32, v uint32, from, width uint, left int) []uint32 {
	if left == 0 {
		return dst
	}
	for b := from; b < width; b++ {
		u := v ^ 1<<b
		dst = append(dst, u)
		dst = appendFlips(dst, u, b+1, width, left-1)
	}
	return dst
}

// ahead is how many reads a query phase requests before it needs them
// (measured at 10 M uniform codes: 8: p50 177 µs, 24: 139, 48: 124, 96: 126).
const ahead = 48

// prefetchEntries asks for the first entries of span sp.
func (st *static) prefetchEntries(sp span) {
	if sp.t != 0 {
		prefetch(unsafe.Pointer(&st.chunks[sp.t].entries[sp.lo]))
	}
}

// prefetchBucket asks for the offsets of probe p's bucket.
func (st *static) prefetchBucket(p probe) {
	prefetch(unsafe.Pointer(&st.chunks[p.t].buckets.lines[p.v/lineValues]))
}
