package ivid

import (
	"cmp"
	"slices"
	"strconv"
	"sync"

	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// matchIndex holds every media item's perceptual hashes in memory, loaded
// from the store at start and kept in step on every write.
type matchIndex struct {
	mu      sync.Mutex // guards pending during the initial load
	pending []hamming.Entry
	pdq     *hamming.Index // ID = media ID
	videos  *vpdq.Index    // ID = decimal media ID
}

func newMatchIndex() *matchIndex {
	return &matchIndex{pdq: hamming.New(), videos: vpdq.NewIndex(vpdq.DefaultHMA)}
}

// add queues an item during the initial load; compact builds the index.
func (x *matchIndex) add(m Media) {
	if m.PDQ != nil && m.Quality >= pdq.MinQuality {
		x.mu.Lock()
		x.pending = append(x.pending, hamming.Entry{ID: uint64(m.ID), Hash: *m.PDQ})
		x.mu.Unlock()
	}
	x.addVideo(m)
}

func (x *matchIndex) compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pdq = hamming.Build(x.pending)
	x.pending = nil
}

// insert adds a new item while queries run.
func (x *matchIndex) insert(m Media) {
	if m.PDQ != nil && m.Quality >= pdq.MinQuality {
		x.pdq.Insert(hamming.Entry{ID: uint64(m.ID), Hash: *m.PDQ})
	}
	x.addVideo(m)
}

// update replaces an item's hashes, old's, by m's: a hashes-only item's
// by its content's.
func (x *matchIndex) update(old, m Media) {
	x.set(m, pdqOf(old))
}

// pdqOf is m's PDQ hash, if it has one, as a list.
func pdqOf(m Media) []pdq.Hash {
	if m.PDQ == nil {
		return nil
	}
	return []pdq.Hash{*m.PDQ}
}

// set makes the index hold m as it is now, whatever it held for it: the
// PDQ hashes old (m's own among them, so that setting twice is setting
// once) and its video entries.
func (x *matchIndex) set(m Media, old []pdq.Hash) {
	for _, h := range old {
		x.pdq.Delete(uint64(m.ID), h)
	}
	id := strconv.FormatInt(int64(m.ID), 10)
	x.videos.Remove(id)
	x.videos.Remove(id + croppedSuffix)
	x.insert(m)
}

// croppedSuffix marks, in the video index, the entry of the picture
// inside a video's black bars.
const croppedSuffix = "/cropped"

func (x *matchIndex) addVideo(m Media) {
	id := strconv.FormatInt(int64(m.ID), 10)
	if len(m.VPDQ) > 0 {
		x.videos.Add(id, m.VPDQ)
	}
	if len(m.VPDQCropped) > 0 {
		x.videos.Add(id+croppedSuffix, m.VPDQCropped)
	}
}

func (x *matchIndex) size() int { return x.pdq.Len() + x.videos.Len() }

// near returns images within r of any of the hashes, nearest first, one
// match per item.
func (x *matchIndex) near(hashes []pdq.Hash, r int) []hamming.Match {
	best := map[uint64]hamming.Match{}
	for _, h := range hashes {
		x.pdq.RangeFunc(h, r, func(m hamming.Match) {
			if b, ok := best[m.ID]; !ok || m.Distance < b.Distance {
				best[m.ID] = m
			}
		})
	}
	out := make([]hamming.Match, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	sortMatches(out)
	return out
}

// baselineIndex holds the confirmed Baseline entries, the only ones
// industry may match against.
type baselineIndex struct {
	mu     sync.RWMutex
	digest map[string]MediaID // md5, sha1 and sha256, lower-case hex
	pdq    *hamming.Index
	n      int
}

func newBaselineIndex() *baselineIndex {
	return &baselineIndex{digest: map[string]MediaID{}, pdq: hamming.New()}
}

func (b *baselineIndex) add(m Media) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.putLocked(m)
	b.n++
}

// update replaces a confirmed item's hashes, old's, by m's.
func (b *baselineIndex) update(old, m Media) {
	b.set(m, []indexedState{stateOf(old)}, pdqOf(old))
}

func (b *baselineIndex) putLocked(m Media) {
	for _, d := range []string{m.MD5, m.SHA1, m.SHA256} {
		if d != "" {
			b.digest[d] = m.ID
		}
	}
	if m.PDQ != nil {
		b.pdq.Insert(hamming.Entry{ID: uint64(m.ID), Hash: *m.PDQ})
	}
}

// remove takes an item out of the Baseline list.
func (b *baselineIndex) remove(m Media) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range []string{m.MD5, m.SHA1, m.SHA256} {
		if id, ok := b.digest[d]; ok && id == m.ID {
			delete(b.digest, d)
		}
	}
	if m.PDQ != nil {
		b.pdq.Delete(uint64(m.ID), *m.PDQ)
	}
	b.n--
}

// set makes the Baseline index hold m as it is now, whatever it held for
// it: the states olds' digests and the PDQ hashes old.
func (b *baselineIndex) set(m Media, olds []indexedState, old []pdq.Hash) {
	b.mu.Lock()
	defer b.mu.Unlock()
	was := false
	for _, st := range olds {
		for _, d := range []string{st.MD5, st.SHA1, st.SHA256} {
			if id, ok := b.digest[d]; ok && id == m.ID && d != "" {
				delete(b.digest, d)
				was = true
			}
		}
	}
	for _, h := range old {
		b.pdq.Delete(uint64(m.ID), h)
	}
	if was {
		b.n--
	}
	if m.Baseline == BaselineConfirmed {
		b.putLocked(m)
		b.n++
	}
}

func (b *baselineIndex) exact(d string) (MediaID, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	id, ok := b.digest[d]
	return id, ok
}

func (b *baselineIndex) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.n
}

func sortMatches(m []hamming.Match) {
	slices.SortFunc(m, func(a, b hamming.Match) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
