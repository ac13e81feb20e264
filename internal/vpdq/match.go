package vpdq

import "github.com/ivid-project/ivid/internal/pdq"

// Convention names one of the two matching rules in use.
type Convention string

const (
	// Brute is the C++ match-hashes-brute: frames of quality >= MinQuality,
	// a frame matches at distance < Distance (exclusive), no dedup.
	Brute Convention = "brute"
	// HMA is python-threatexchange's rule, used by HMA: duplicate hashes
	// dropped (first kept), quality >= MinQuality, distance <= Distance.
	HMA Convention = "hma"
)

// MatchOptions are a convention and its thresholds.
type MatchOptions struct {
	Convention Convention
	Distance   int // C++: exclusive bound (31 means <= 30); HMA: inclusive
	MinQuality int
}

// DefaultBrute and DefaultHMA are the thresholds each reference ships with.
var (
	DefaultBrute = MatchOptions{Convention: Brute, Distance: 31, MinQuality: 50}
	DefaultHMA   = MatchOptions{Convention: HMA, Distance: pdq.MatchThreshold, MinQuality: pdq.MinQuality}
)

// HMA's default verdict: a query matches a video when at least 80 % of the
// query's frames find a twin there, whatever share of the video that is.
const (
	DefaultQueryPercent  = 80
	DefaultTargetPercent = 0
)

// Filter returns the frames a convention compares.
func (o MatchOptions) Filter(frames []Frame) []Frame {
	out := make([]Frame, 0, len(frames))
	var seen map[pdq.Hash]bool
	if o.Convention == HMA {
		seen = make(map[pdq.Hash]bool, len(frames))
	}
	for _, f := range frames {
		if seen != nil {
			if seen[f.Hash] {
				continue
			}
			seen[f.Hash] = true
		}
		if f.Quality >= o.MinQuality {
			out = append(out, f)
		}
	}
	return out
}

// within reports whether distance d counts as a match.
func (o MatchOptions) within(d int) bool {
	if o.Convention == Brute {
		return d < o.Distance
	}
	return d <= o.Distance
}

// Radius is the largest matching distance, for a range query.
func (o MatchOptions) Radius() int {
	if o.Convention == Brute {
		return o.Distance - 1
	}
	return o.Distance
}

// Match compares two videos frame by frame and returns the percentage of
// query frames with a twin in the target and of target frames with a twin
// in the query, over the frames the convention keeps. A side with no
// frames left scores 0.
func Match(query, target []Frame, o MatchOptions) (queryPct, targetPct float64) {
	q, t := o.Filter(query), o.Filter(target)
	return percent(q, t, o), percent(t, q, o)
}

func percent(a, b []Frame, o MatchOptions) float64 {
	if len(a) == 0 {
		return 0
	}
	n := 0
	for _, fa := range a {
		for _, fb := range b {
			if o.within(pdq.Distance(fa.Hash, fb.Hash)) {
				n++
				break
			}
		}
	}
	return float64(n) * 100 / float64(len(a))
}
