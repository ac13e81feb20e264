// Package hamming is an exact in-memory index of 256-bit hashes (PDQ, vPDQ
// frames) answering "every entry within Hamming distance r" and k-nearest.
//
// It is a multi-index hash (Norouzi, Punjani and Fleet, 2012): the 256 bits
// are cut into m chunks of about log2(n) bits; a code within r of the
// query has some chunk within about r/m of the query's (see radii), so
// reading the buckets of each chunk's neighbourhood finds every candidate,
// and each candidate is verified on the full code.
//
// Buckets live in group lines (groups.go): a 64-byte line holds the
// entries of a few consecutive chunk values, so that a bucket costs one
// cache miss. Each entry is a position and a 16-bit tag, the first bits of
// the next chunk's value: a code is reported from the first chunk from
// which its chunks, one and then two, are within their shares of r (the
// pigeonring principle, Qin et al. 2019), and the tag tells the second
// chunk's distance well enough to rule out nearly every other candidate
// before its code is read. Memory at 10 million entries (11 chunks): 32
// bytes a code, 4 an ID (8 if any exceeds 32 bits), and in each chunk a
// line for about 5.5 entries: 1,809 MiB in all.
//
// A query at radius 31 over 10 million clustered codes reads 2,866
// buckets and about 45 codes. It is written so that many reads are in
// flight at once (each requested well ahead of its use, by prefetch), with
// few calls in its loops (Go keeps no register across a call) and no
// branch on data that mispredicts often (four tags are tested in one
// 64-bit word).
//
// History, measured side by side (10 M clustered codes, radius 31, 2
// cores). Until 2026-12-06 each chunk had a table of 2-byte bucket offsets
// and an array of 4-byte positions (965 MiB): two misses a bucket and about
// 1,800 codes read a query: 15,342 and 15,049 queries/s against 25,641
// and 26,755 for group lines. Tried and not kept before that: entries
// carrying 96 more bits of their code, or 8 bits of the next chunk in a
// position's spare bits, each in a separate entries array, which cost more
// in that array's reads than they saved in codes'.
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
// are kept in the order of chunk 0's value, so that codes alike are near
// one another.
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
	groups       groups
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
		n += c.groups.bytes()
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
// hold about one entry each, so that candidates are few, while the probes
// of a query (each chunk's neighbourhood) stay in the thousands.
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
	// The codes in chunk 0's order, by counting sort.
	c0 := &st.chunks[0]
	next := make([]uint32, 1<<c0.width)
	wideIDs := false
	for _, e := range entries {
		next[extract(st.perm.forward(e.Hash), c0.start, c0.width)]++
		wideIDs = wideIDs || e.ID > math.MaxUint32
	}
	sum := uint32(0)
	for v, k := range next {
		next[v] = sum
		sum += k
	}
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
	for i := range m {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st.chunks[i].fillGroups(st, &st.chunks[(i+1)%m])
		})
	}
	wg.Wait()
	return st
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

// radii sets the radius each chunk's neighbourhood is read at for a query
// at r: r/m for the first r%m+1 chunks, one less for the others. A code
// within r has some chunk within its radius, since the radii plus one sum
// to r+1 (the refined pigeonhole of Norouzi et al.).
func radii(rad []int, r int) {
	m := len(rad)
	for t := range rad {
		rad[t] = r / m
		if t > r%m {
			rad[t]--
		}
	}
}

// probeCost estimates the bucket reads of a multi-index query at radius r.
func (st *static) probeCost(r int) float64 {
	var rad [32]int
	radii(rad[:len(st.chunks)], r)
	total := 0.0
	for t, c := range st.chunks {
		n := 1.0
		for k := 0; k <= rad[t]; k++ {
			if k > 0 {
				n = n * float64(int(c.width)-k+1) / float64(k)
			}
			total += n
		}
	}
	return total
}

// scratch holds one query's work lists.
type scratch struct {
	keys  []uint32  // each probe's line and value in it (line<<3 | value)
	addrs []uintptr // addresses to prefetch
	cands []cand    // candidates, read last
	spans []span    // crowded buckets, read last
	hoods []hood
}

// hood is a cached neighbourhood: the masks within distance q in width
// bits, by distance (ring); ends[k] is the end of ring k's.
type hood struct {
	width uint
	q     int
	masks []uint32
	ends  []int
}

// cand is a candidate: its code's position, found in chunk t.
type cand struct{ t, pos uint32 }

// span is a crowded bucket: more entries than one tag word holds, or in
// the overflow arrays.
type span struct {
	t, ring uint32
	key     uint32 // line<<3 | value
}

// exact calls fn with the position of every code equal to h.
func (st *static) exact(h pdq.Hash, fn func(pos uint32)) {
	if len(st.codes) == 0 {
		return
	}
	h = st.perm.forward(h)
	g := &st.chunks[0].groups
	l, i := g.line(extract(h, st.chunks[0].start, st.chunks[0].width))
	for _, pos := range g.bucket(&g.lines[l], i) {
		if st.codes[pos] == h {
			fn(pos)
		}
	}
}

// neighbourhood returns the masks of every value within Hamming distance q
// of 0 in width bits, computed once per scratch.
func (s *scratch) neighbourhood(width uint, q int) ([]uint32, []int) {
	for _, h := range s.hoods {
		if h.width == width && h.q == q {
			return h.masks, h.ends
		}
	}
	var masks []uint32
	var ends []int
	if q >= 0 {
		masks = appendFlips([]uint32{0}, 0, 0, width, q)
		slices.SortStableFunc(masks, func(a, b uint32) int { return bits.OnesCount32(a) - bits.OnesCount32(b) })
		for k := range q + 1 {
			ends = append(ends, len(masks))
			for i, v := range masks {
				if bits.OnesCount32(v) > k {
					ends[k] = i
					break
				}
			}
		}
	}
	s.hoods = append(s.hoods, hood{width, q, masks, ends})
	return masks, ends
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

// ahead is how many reads a query requests before it needs them (measured
// with the former layout at 10 M uniform codes: 8: p50 177 µs, 24: 139, 48:
// 124, 96: 126; kept for group lines, whose batches are of 16).
const ahead = 48
