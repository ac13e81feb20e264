package hamming

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/pdq"
)

func bruteRange(entries []Entry, h pdq.Hash, r int) []Match {
	var out []Match
	for _, e := range entries {
		if d := pdq.Distance(e.Hash, h); d <= r {
			out = append(out, Match{ID: e.ID, Hash: e.Hash, Distance: d})
		}
	}
	sortMatches(out)
	return out
}

func entriesOf(codes []pdq.Hash) []Entry {
	out := make([]Entry, len(codes))
	for i, c := range codes {
		out[i] = Entry{ID: uint64(i), Hash: c}
	}
	return out
}

// TestRangeEqualsBruteForce is the property test: for uniform, clustered and
// correlated data, every radius gives exactly the brute-force answer.
func TestRangeEqualsBruteForce(t *testing.T) {
	for _, dist := range []Distribution{Uniform, Clustered, Correlated} {
		for _, n := range []int{0, 1, 100, 5000, 40000} {
			codes := Generate(dist, n, 42)
			entries := entriesOf(codes)
			x := Build(entries)
			r := rand.New(rand.NewPCG(uint64(n), 9))
			for q := range 30 {
				var h pdq.Hash
				if n > 0 && q%3 != 0 {
					h = FlipBits(codes[r.IntN(n)], r.IntN(45), r) // near an entry
				} else {
					h = randomHash(r)
				}
				for _, rad := range []int{0, 1, 5, 12, 16, 24, 31, 32, 40, 64, 100, 128, 256} {
					got, want := x.Range(h, rad), bruteRange(entries, h, rad)
					if !slices.Equal(got, want) {
						t.Fatalf("%s n=%d r=%d: got %d matches, want %d", dist, n, rad, len(got), len(want))
					}
				}
			}
		}
	}
}

// TestCrowdedBucketsAndWideIDs: 70,000 copies of one code overflow their
// group lines (their entries then live in the overflow arrays), and IDs
// above 32 bits (video<<32|frame) switch the ID list to 8 bytes; answers
// still equal brute force, and deleting one copy removes exactly that one.
func TestCrowdedBucketsAndWideIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	same := randomHash(r)
	var entries []Entry
	for i := range 70000 {
		entries = append(entries, Entry{ID: uint64(i) << 32, Hash: same})
	}
	for i, c := range Generate(Correlated, 30000, 3) {
		entries = append(entries, Entry{ID: 1<<40 + uint64(i), Hash: c})
	}
	x := Build(entries)
	for i, c := range x.cur.Load().st.chunks {
		if len(c.groups.overPos) < 70000 {
			t.Fatalf("chunk %d: %d entries overflowed, want the 70,000 copies at least", i, len(c.groups.overPos))
		}
	}
	if x.cur.Load().st.ids.wide == nil {
		t.Fatal("IDs above 32 bits kept in 4 bytes")
	}
	for _, q := range []pdq.Hash{same, FlipBits(same, 20, r), FlipBits(entries[70500].Hash, 9, r), randomHash(r)} {
		for _, rad := range []int{0, 10, 31, 70} {
			if got, want := x.Range(q, rad), bruteRange(entries, q, rad); !slices.Equal(got, want) {
				t.Fatalf("r=%d: got %d matches, want %d", rad, len(got), len(want))
			}
		}
	}
	if n := x.Delete(5<<32, same); n != 1 {
		t.Fatalf("Delete removed %d, want 1", n)
	}
	if got := len(x.Range(same, 0)); got != 69999 {
		t.Errorf("after Delete: %d copies, want 69999", got)
	}
}

func TestNearest(t *testing.T) {
	codes := Generate(Clustered, 20000, 3)
	entries := entriesOf(codes)
	x := Build(entries)
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		h := FlipBits(codes[r.IntN(len(codes))], r.IntN(60), r)
		if r.IntN(4) == 0 {
			h = randomHash(r)
		}
		for _, k := range []int{1, 5, 50} {
			want := bruteRange(entries, h, pdq.Size)[:k]
			if got := x.Nearest(h, k); !slices.Equal(got, want) {
				t.Fatalf("k=%d: got %v, want %v", k, got, want)
			}
		}
	}
}

// TestInsertDelete: inserts and deletes, including across rebuilds, keep
// the index equal to brute force over the live entries.
func TestInsertDelete(t *testing.T) {
	codes := Generate(Clustered, 30000, 5)
	x := Build(entriesOf(codes[:10000]))
	live := entriesOf(codes[:10000])
	r := rand.New(rand.NewPCG(5, 6))
	for i := 10000; i < 30000; i++ {
		e := Entry{ID: uint64(i), Hash: codes[i]}
		x.Insert(e)
		live = append(live, e)
		if i%3 == 0 { // delete a random live entry
			j := r.IntN(len(live))
			if n := x.Delete(live[j].ID, live[j].Hash); n != 1 {
				t.Fatalf("Delete removed %d entries, want 1", n)
			}
			live = slices.Delete(live, j, j+1)
		}
		if i%2500 == 0 {
			h := FlipBits(codes[r.IntN(i)], r.IntN(20), r)
			if got, want := x.Range(h, 31), bruteRange(live, h, 31); !slices.Equal(got, want) {
				t.Fatalf("after %d inserts: got %d, want %d", i, len(got), len(want))
			}
		}
	}
	if x.Len() != len(live) {
		t.Errorf("Len %d, want %d", x.Len(), len(live))
	}
	x.Compact()
	h := codes[100]
	if got, want := x.Range(h, 31), bruteRange(live, h, 31); !slices.Equal(got, want) {
		t.Errorf("after Compact: got %d, want %d", len(got), len(want))
	}
	if n := x.Delete(999999, h); n != 0 {
		t.Errorf("deleting an unknown entry removed %d", n)
	}
}

// TestConcurrent runs readers while one writer inserts and deletes (run with
// -race to check the locking).
func TestConcurrent(t *testing.T) {
	codes := Generate(Uniform, 20000, 8)
	x := Build(entriesOf(codes[:5000]))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := r.IntN(5000) // never deleted: must always be found
				found := false
				for _, m := range x.Range(codes[i], 0) {
					found = found || m.ID == uint64(i)
				}
				if !found {
					t.Errorf("entry %d missing during writes", i)
					return
				}
			}
		})
	}
	for i := 5000; i < 20000; i++ {
		x.Insert(Entry{ID: uint64(i), Hash: codes[i]})
		if i%2 == 0 {
			x.Delete(uint64(i), codes[i])
		}
	}
	close(stop)
	wg.Wait()
	if x.Len() != 5000+7500 {
		t.Errorf("Len %d, want 12500", x.Len())
	}
}

func TestSnapshot(t *testing.T) {
	codes := Generate(Correlated, 3000, 11)
	x := Build(entriesOf(codes))
	x.Insert(Entry{ID: 77777, Hash: codes[5]})
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != 3001 || !slices.Equal(x.Range(codes[5], 40), y.Range(codes[5], 40)) {
		t.Error("loaded index differs")
	}
	// Every single-byte corruption and every truncation is detected.
	b := buf.Bytes()
	for _, i := range []int{0, 9, 20, len(b) / 2, len(b) - 1} {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := Load(bytes.NewReader(c)); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("flip at %d: got %v", i, err)
		}
	}
	for _, n := range []int{0, 5, 16, 100, len(b) - 1} {
		if _, err := Load(bytes.NewReader(b[:n])); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("truncated at %d: got %v", n, err)
		}
	}
}

// TestUpstreamNeedles reproduces Meta's MIH test: the 250 needle/haystack
// pairs within distance 32, found by brute force upstream.
func TestUpstreamNeedles(t *testing.T) {
	read := func(name string) []pdq.Hash {
		f, err := os.Open("../../testdata/pdq/hashes/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []pdq.Hash
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			h, err := pdq.ParseHex(strings.TrimSpace(sc.Text()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, h)
		}
		return out
	}
	needles, hay := read("needles.txt"), read("haystack.txt")
	x := Build(entriesOf(hay))
	type pair struct{ n, h, d int }
	var got []pair
	for i, nd := range needles {
		for _, m := range x.Range(nd, 32) {
			got = append(got, pair{i + 1, int(m.ID) + 1, m.Distance})
		}
	}
	b, err := os.ReadFile("../../testdata/pdq/hashes/needles-vs-haystack-d32.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var want []pair
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.Atoi(f[1])
		d, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil {
			continue // header
		}
		want = append(want, pair{n, h, d})
	}
	cmp := func(a, b pair) int {
		if a.n != b.n {
			return a.n - b.n
		}
		return a.h - b.h
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if len(want) != 250 || !slices.Equal(got, want) {
		t.Errorf("got %d pairs, want %d (the upstream 250)", len(got), len(want))
	}
}

func TestCorrelatedHas128Ones(t *testing.T) {
	for _, h := range Generate(Correlated, 500, 1) {
		n := 0
		for k := range pdq.Size {
			if h.Bit(k) {
				n++
			}
		}
		if n != 128 {
			t.Fatalf("code has %d ones, want 128", n)
		}
	}
}

func TestSelectK(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		a := make([]float32, 1+r.IntN(300))
		for i := range a {
			a[i] = float32(r.IntN(20))
		}
		k := r.IntN(len(a))
		s := slices.Clone(a)
		slices.Sort(s)
		if got := selectK(a, k); got != s[k] {
			t.Fatalf("selectK = %v, want %v", got, s[k])
		}
	}
}

// TestPermutedIndex: from permuteMin entries the index reorders bits;
// answers (IDs, hashes as given, distances) still equal brute force, and
// the permutation is a bijection that keeps distances.
func TestPermutedIndex(t *testing.T) {
	codes := Generate(Correlated, permuteMin+5000, 11)
	entries := entriesOf(codes)
	x := Build(entries)
	p := x.cur.Load().st.perm
	if p == nil {
		t.Fatal("no permutation at permuteMin entries")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		a, b := randomHash(r), randomHash(r)
		if p.back(p.forward(a)) != a || pdq.Distance(p.forward(a), p.forward(b)) != pdq.Distance(a, b) {
			t.Fatal("permutation lost a bit or changed a distance")
		}
	}
	if p.forward(codes[0]) == codes[0] {
		t.Error("the permutation is the identity on correlated data")
	}
	for q := range 40 {
		h := FlipBits(codes[r.IntN(len(codes))], r.IntN(40), r)
		if q%4 == 0 {
			h = randomHash(r)
		}
		for _, rad := range []int{0, 8, 31, 48, 100} {
			if got, want := x.Range(h, rad), bruteRange(entries, h, rad); !slices.Equal(got, want) {
				t.Fatalf("r=%d: got %d matches, want %d", rad, len(got), len(want))
			}
		}
	}
	all := x.Entries()
	slices.SortFunc(all, func(a, b Entry) int { return int(a.ID) - int(b.ID) })
	if !slices.Equal(all, entries) {
		t.Error("Entries does not give back the entries built from")
	}
}

// TestMappedTablesReleased: tables large enough to get their own mapping
// (300 k codes) survive rebuilds and garbage collections while queries run
// (the old mapping is released only once unreachable), and answers stay
// equal to brute force. Run with -race too.
func TestMappedTablesReleased(t *testing.T) {
	codes := Generate(Uniform, 300_000, 12)
	entries := entriesOf(codes)
	x := Build(entries)
	r := rand.New(rand.NewPCG(12, 13))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			h := FlipBits(codes[r.IntN(len(codes))], r.IntN(10), r)
			if len(x.Range(h, 10)) == 0 {
				t.Error("a near copy of an entry found nothing")
				return
			}
		}
	})
	for range 3 {
		x.Compact() // a new static; the old one's mappings go with it
		runtime.GC()
		runtime.GC()
	}
	close(stop)
	wg.Wait()
	h := FlipBits(codes[r.IntN(len(codes))], 20, r)
	if got, want := x.Range(h, 31), bruteRange(entries, h, 31); !slices.Equal(got, want) {
		t.Fatalf("got %d matches, want %d", len(got), len(want))
	}
}

// TestPairBounds checks the rule that finds each match once: for random
// radii meeting the bound (sum of radius+1 over r) and random chunk
// distances summing to r or less, some chunk u has d[u] <= radii[u] and
// d[u]+d[u+1] <= t2[u] (cyclically), as the cycle lemma promises.
func TestPairBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for trial := range 20000 {
		m := 2 + r.IntN(12)
		rad := r.IntN(4 * m)
		q := rad / m
		radii := make([]int, m)
		for i := range radii {
			radii[i] = q
		}
		// Give up rings while the bound still holds.
		for sum := m * (q + 1); sum-1 > rad && r.IntN(2) == 0; sum-- {
			radii[r.IntN(m)]--
		}
		t2 := make([]int, m)
		pairBounds(t2, radii, rad)
		d := make([]int, m)
		left := rad - r.IntN(3)
		for i := range d {
			d[i] = r.IntN(max(1, 2*rad/m+2))
		}
		for sum := 0; ; sum = 0 {
			for _, x := range d {
				sum += x
			}
			if sum <= left || sum == 0 {
				break
			}
			i := r.IntN(m)
			d[i] = max(0, d[i]-1)
		}
		found := false
		for u := range m {
			if d[u] <= radii[u] && d[u]+d[(u+1)%m] <= t2[u] {
				found = true
			}
		}
		if !found {
			t.Fatalf("trial %d: r=%d radii %v t2 %v: no chunk starts distances %v", trial, rad, radii, t2, d)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the snapshot reader: it must refuse
// them with ErrCorruptSnapshot or load an index that writes them back.
func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	Build(entriesOf(Generate(Uniform, 3, 1))).WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:20])
	f.Add([]byte("IVIDHIX1\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Load(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v is not ErrCorruptSnapshot", err)
			}
			return
		}
		var out bytes.Buffer
		if _, err := x.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		y, err := Load(&out)
		if err != nil || !slices.EqualFunc(x.Entries(), y.Entries(), func(a, b Entry) bool { return a == b }) {
			t.Fatalf("snapshot does not round-trip: %v", err)
		}
	})
}

// TestBytes checks the tables' size against what the package comment
// promises an entry costs: 32 bytes of code, 4 of ID, and in each chunk a
// 64-byte line for every groupMean entries or so.
func TestBytes(t *testing.T) {
	const n = 100_000
	x := Build(entriesOf(Generate(Uniform, n, 3)))
	st := x.cur.Load().st
	m := len(st.chunks)
	low := int64(n * (32 + 4))
	for _, c := range st.chunks {
		low += int64((1<<c.width+int(c.groups.per)-1)/int(c.groups.per)) * 64
	}
	got := x.Bytes()
	if got < low || got > low+low/8 {
		t.Errorf("Bytes() = %d; want about %d (%d chunks)", got, low, m)
	}
	if perEntry := float64(low-n*36) / n / float64(m); perEntry < 64/groupMean/1.5 || perEntry > 64/groupMean*1.5 {
		t.Errorf("%.1f bytes an entry in each chunk; want about 64/%.1f", perEntry, groupMean)
	}
	x.Insert(Entry{ID: 1, Hash: randomHash(rand.New(rand.NewPCG(1, 2)))})
	if after := x.Bytes(); after != got+40 {
		t.Errorf("after an insert, Bytes() = %d; want %d + 40", after, got)
	}
}

// TestFoldInBackground holds a fold between its build and its swap: inserts
// and deletes go on meanwhile, queries answer from the old tiers, and once
// the fold is in, the deletions made during it still hold.
func TestFoldInBackground(t *testing.T) {
	const base = 200_000 // a sixteenth is over maxDelta: the fold builds mid
	codes := Generate(Uniform, base+maxDelta+100, 21)
	live := entriesOf(codes[:base])
	x := Build(live)
	built, release := make(chan struct{}), make(chan struct{})
	x.foldHook = func() { close(built); <-release }
	insert := func(i int) {
		e := Entry{ID: uint64(i), Hash: codes[i]}
		x.Insert(e)
		live = append(live, e)
	}
	for i := base; i < base+maxDelta; i++ {
		insert(i)
	}
	<-built // the fold of those inserts is built and waits to swap
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := base + maxDelta; i < len(codes); i++ {
			insert(i)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("inserts wait for the fold")
	}
	// One deletion in each tier: the bulk, the fold's entries, the latest.
	for _, i := range []int{17, base + 5, len(codes) - 3} {
		if n := x.Delete(uint64(i), codes[i]); n != 1 {
			t.Fatalf("Delete(%d) removed %d, want 1", i, n)
		}
		live = slices.DeleteFunc(live, func(e Entry) bool { return e.ID == uint64(i) })
	}
	check := func(when string) {
		t.Helper()
		if x.Len() != len(live) {
			t.Errorf("%s: Len %d, want %d", when, x.Len(), len(live))
		}
		for _, i := range []int{17, 18, base + 5, base + 6, len(codes) - 3, len(codes) - 4} {
			h := codes[i]
			if got, want := x.Range(h, 31), bruteRange(live, h, 31); !slices.Equal(got, want) {
				t.Errorf("%s: query %d: got %v, want %v", when, i, got, want)
			}
		}
	}
	check("during the fold")
	x.mu.Lock()
	f := x.fold
	x.mu.Unlock()
	close(release)
	<-f.done
	mid := x.cur.Load().mid
	if mid == nil {
		t.Fatal("after the fold, no mid tier")
	}
	if mid.live != maxDelta-1 {
		t.Fatalf("after the fold, mid holds %d live entries, want the %d folded less the one deleted", mid.live, maxDelta)
	}
	check("after the fold")
}

// TestNoWaitOnQueries holds a query in the middle of its answer: inserts,
// deletes and other queries go on meanwhile (a reader-writer lock would
// make the insert wait for the query, and the next query for the insert),
// and the held query still answers from the entries it started with.
func TestNoWaitOnQueries(t *testing.T) {
	codes := Generate(Uniform, 20_000, 5)
	x := Build(entriesOf(codes[:10_000]))
	for i := 10_000; i < 10_100; i++ { // some in the brute-force tier too
		x.Insert(Entry{ID: uint64(i), Hash: codes[i]})
	}
	q := codes[10_050]
	inQuery, release, queried := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var held []Match
	go func() {
		defer close(queried)
		x.RangeFunc(q, 0, func(m Match) {
			held = append(held, m)
			if len(held) == 1 {
				close(inQuery)
				<-release
			}
		})
	}()
	select {
	case <-inQuery:
	case <-queried:
		t.Fatal("the held query found nothing")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Enough inserts to start a fold, a deletion of the held query's
		// match, and a query that sees both.
		for i := 10_100; i < len(codes); i++ {
			x.Insert(Entry{ID: uint64(i), Hash: codes[i]})
		}
		if n := x.Delete(10_050, q); n != 1 {
			t.Errorf("Delete removed %d, want 1", n)
		}
		if got := x.Range(codes[15_000], 0); len(got) != 1 || got[0].ID != 15_000 {
			t.Errorf("query during the held one: got %v, want ID 15000", got)
		}
		if got := x.Range(q, 0); len(got) != 0 {
			t.Errorf("query after the deletion: got %v, want nothing", got)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an insert or a query waits for a query in flight")
	}
	close(release)
	<-queried
	x.Compact()
	if len(held) != 1 || held[0].ID != 10_050 {
		t.Errorf("held query: got %v, want ID 10050", held)
	}
}

// TestInsertWaitsPastMaxLatest: while a fold runs, inserts go on until
// maxLatest wait for the next fold; the one after waits for the fold.
func TestInsertWaitsPastMaxLatest(t *testing.T) {
	codes := Generate(Uniform, 1000+maxDelta+maxLatest+1, 8)
	x := Build(entriesOf(codes[:1000]))
	built, release := make(chan struct{}), make(chan struct{})
	x.foldHook = func() {
		select {
		case <-built:
		default:
			close(built)
			<-release
		}
	}
	insert := func(i int) { x.Insert(Entry{ID: uint64(i), Hash: codes[i]}) }
	i := 1000
	for ; i < 1000+maxDelta; i++ {
		insert(i)
	}
	<-built
	for ; i < len(codes)-1; i++ {
		insert(i)
	}
	done := make(chan struct{})
	go func() { insert(i); close(done) }()
	select {
	case <-done:
		t.Fatalf("insert %d went in with %d waiting for a held fold", i, maxLatest)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-done
	if x.Len() != len(codes) {
		t.Errorf("Len %d, want %d", x.Len(), len(codes))
	}
	for _, k := range []int{3, 1000 + 7, len(codes) - 2, len(codes) - 1} {
		if got := x.Range(codes[k], 0); len(got) != 1 || got[0].ID != uint64(k) {
			t.Errorf("entry %d: got %v", k, got)
		}
	}
}

// TestTagsRuleOutCandidates checks that the tags do their job: of the
// entries in the buckets a query reads, only a few percent have their code
// read, and every match is still found (TestRangeEqualsBruteForce).
func TestTagsRuleOutCandidates(t *testing.T) {
	codes := Generate(Clustered, 300_000, 5)
	x := Build(entriesOf(codes))
	st := x.cur.Load().st
	r := rand.New(rand.NewPCG(5, 5))
	s := new(scratch)
	entries, cands := 0, 0
	for range 200 {
		h := FlipBits(codes[r.IntN(len(codes))], r.IntN(32), r)
		st.rangeFunc(h, 31, s, func(Match) {})
		t0 := 0
		for p, k := range s.keys {
			for t0+1 < len(st.chunks) && p >= probesBefore(st, s, t0+1, 31) {
				t0++
			}
			g := &st.chunks[t0].groups
			entries += len(g.bucket(&g.lines[k>>3], k&7))
		}
		cands += len(s.cands)
	}
	if entries == 0 || cands*20 > entries {
		t.Errorf("%d codes read of %d entries in the buckets read; want under 5 %%", cands, entries)
	}
	t.Logf("%d codes read of %d entries (%.1f %%)", cands, entries, 100*float64(cands)/float64(entries))
}

// probesBefore is the number of probes of the chunks before t.
func probesBefore(st *static, s *scratch, t, r int) int {
	var rad [32]int
	radii(rad[:len(st.chunks)], r)
	n := 0
	for u := range t {
		masks, _ := s.neighbourhood(st.chunks[u].width, rad[u])
		n += len(masks)
	}
	return n
}

// TestBucketSizes puts families of 1 to 14 codes that share their first
// 96 bits among random ones, so that buckets of every size are read: up to
// four tags in one word, five to ten in a line, and more in the overflow
// arrays. Answers must equal brute force.
func TestBucketSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	entries := entriesOf(Generate(Uniform, 60_000, 11))
	var roots []pdq.Hash
	for k := 1; k <= 14; k++ {
		root := randomHash(r)
		roots = append(roots, root)
		for range k {
			h := root
			for _, b := range r.Perm(160)[:r.IntN(8)] {
				h[(96+b)/64] ^= 1 << (63 - (96+b)%64)
			}
			entries = append(entries, Entry{ID: uint64(len(entries)), Hash: h})
		}
	}
	x := Build(entries)
	// The permutation moves bits between chunks, so which chunks share
	// values is checked rather than assumed: some bucket must hold more
	// than four entries, in a line or overflowed.
	crowded := false
	for _, c := range x.cur.Load().st.chunks {
		g := &c.groups
		for l := range g.lines {
			for i := range g.per {
				crowded = crowded || len(g.bucket(&g.lines[l], i)) > 4
			}
		}
	}
	if !crowded {
		t.Fatal("no bucket holds more than four entries")
	}
	for _, root := range roots {
		for _, flips := range []int{0, 5, 12, 20, 30} {
			q := FlipBits(root, flips, r)
			for _, rad := range []int{8, 16, 31} {
				if got, want := x.Range(q, rad), bruteRange(entries, q, rad); !slices.Equal(got, want) {
					t.Fatalf("flips %d r=%d: got %d matches, want %d", flips, rad, len(got), len(want))
				}
			}
		}
	}
}
