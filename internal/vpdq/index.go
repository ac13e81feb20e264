package vpdq

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/pdq"
)

// Index holds the frames of known videos in a Hamming index, each tagged
// with its video, so that a query video is compared with all of them at
// once. Known videos are best indexed densely (every frame): a query at one
// hash a second then still finds clips and frame-rate changes, which two
// sparse samplings miss. Safe for concurrent use: queries take no lock,
// so a long video's query does not hold up the videos being added.
type Index struct {
	opts   MatchOptions
	frames *hamming.Index // ID = video<<32 | frame position
	mu     sync.Mutex     // held by writers
	// videos is replaced, never changed, and a video is in it before any
	// of its frames is in frames: a query that finds a frame finds its
	// video in the list it loads after.
	videos atomic.Pointer[[]indexed]
	// queryHook, if set (by tests), runs in Query once its frames are
	// looked up.
	queryHook func()
}

type indexed struct {
	id     string
	frames int // frames kept after the convention's filter
	gone   bool
	hashes []pdq.Hash
}

// VideoMatch is a known video that a query matched.
type VideoMatch struct {
	ID string `json:"id"`
	// QueryPercent is the share of the query's frames with a twin in the
	// known video; TargetPercent the share of the known video's frames with
	// a twin in the query.
	QueryPercent  float64 `json:"query_percent"`
	TargetPercent float64 `json:"target_percent"`
	// BestDistance is the smallest frame distance seen.
	BestDistance int `json:"best_distance"`
}

// NewIndex returns an empty index comparing frames under o.
func NewIndex(o MatchOptions) *Index {
	x := &Index{opts: o, frames: hamming.New()}
	x.videos.Store(new([]indexed))
	return x
}

// Add indexes a known video's frames under id. Frames are filtered as the
// convention says (quality, and for HMA exact duplicates), as Match does.
func (x *Index) Add(id string, frames []Frame) {
	kept := x.opts.Filter(frames)
	hs := make([]pdq.Hash, len(kept))
	for i, f := range kept {
		hs[i] = f.Hash
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	videos := *x.videos.Load()
	v := uint64(len(videos))
	// Appending writes past the published length, which no query reads.
	videos = append(videos, indexed{id: id, frames: len(kept), hashes: hs})
	x.videos.Store(&videos)
	for i, h := range hs {
		x.frames.Insert(hamming.Entry{ID: v<<32 | uint64(i), Hash: h})
	}
}

// Remove takes every video indexed under id out of the index.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	videos := slices.Clone(*x.videos.Load())
	for v := range videos {
		iv := &videos[v]
		if iv.id != id || iv.gone {
			continue
		}
		for i, h := range iv.hashes {
			x.frames.Delete(uint64(v)<<32|uint64(i), h)
		}
		iv.gone, iv.hashes = true, nil
	}
	x.videos.Store(&videos)
}

// Len is the number of videos indexed.
func (x *Index) Len() int {
	n := 0
	for _, v := range *x.videos.Load() {
		if !v.gone {
			n++
		}
	}
	return n
}

// Query compares a video with every indexed one and returns those sharing
// at least one frame, best first (query share, then known-video share).
// With dihedral, a query frame also matches through any of its eight
// rotations and flips, when the frames carry them.
func (x *Index) Query(query []Frame, dihedral bool) []VideoMatch {
	q := x.opts.Filter(query)
	if len(q) == 0 {
		return nil
	}
	type tally struct {
		queryHit  int
		lastQuery int
		targets   map[uint32]struct{}
		best      int
	}
	hits := map[uint32]*tally{}
	r := x.opts.Radius()
	for qi, f := range q {
		hashes := []pdq.Hash{f.Hash}
		if dihedral && f.Dihedral != nil {
			hashes = f.Dihedral[:]
		}
		for _, h := range hashes {
			x.frames.RangeFunc(h, r, func(m hamming.Match) {
				v := uint32(m.ID >> 32)
				t := hits[v]
				if t == nil {
					t = &tally{lastQuery: -1, targets: map[uint32]struct{}{}, best: m.Distance}
					hits[v] = t
				}
				if t.lastQuery != qi {
					t.lastQuery = qi
					t.queryHit++
				}
				t.targets[uint32(m.ID)] = struct{}{}
				t.best = min(t.best, m.Distance)
			})
		}
	}
	if x.queryHook != nil {
		x.queryHook()
	}
	videos := *x.videos.Load()
	out := make([]VideoMatch, 0, len(hits))
	for v, t := range hits {
		iv := videos[v]
		out = append(out, VideoMatch{
			ID:            iv.id,
			QueryPercent:  float64(t.queryHit) * 100 / float64(len(q)),
			TargetPercent: float64(len(t.targets)) * 100 / float64(iv.frames),
			BestDistance:  t.best,
		})
	}
	slices.SortFunc(out, func(a, b VideoMatch) int {
		if c := cmp.Compare(b.QueryPercent, a.QueryPercent); c != 0 {
			return c
		}
		if c := cmp.Compare(b.TargetPercent, a.TargetPercent); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Matches applies HMA's verdict, or other thresholds, to query results.
func Matches(results []VideoMatch, minQueryPct, minTargetPct float64) []VideoMatch {
	var out []VideoMatch
	for _, m := range results {
		if m.QueryPercent >= minQueryPct && m.TargetPercent >= minTargetPct {
			out = append(out, m)
		}
	}
	return out
}
