// Package triage scans seized media offline: every file hashed, classified
// against known and known-good hash sets, duplicates stacked, and reported.
package triage

import (
	"fmt"
	"strconv"

	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// Ref is what a match says about the known entry it found.
type Ref struct {
	Set      string `json:"set"`
	Hash     string `json:"hash"`     // md5, sha1, sha256, pdq or vpdq
	Distance int    `json:"distance"` // for vpdq, the nearest frames'
	// QueryPercent and TargetPercent are, for a vPDQ match, the shares of
	// the file's frames and of the known video's frames that have a twin.
	QueryPercent       float64          `json:"query_percent,omitempty"`
	TargetPercent      float64          `json:"target_percent,omitempty"`
	Category           hashset.Category `json:"category"`
	Series             string           `json:"series,omitempty"`
	VictimIdentified   *bool            `json:"victim_identified,omitempty"`
	OffenderIdentified *bool            `json:"offender_identified,omitempty"`
	Baseline           *bool            `json:"baseline,omitempty"`
	MediaID            string           `json:"media_id,omitempty"`
	Dihedral           string           `json:"dihedral,omitempty"` // which rotation/flip matched
}

type knownEntry struct {
	set       int
	threshold int
	e         hashset.Entry
}

// Sets holds loaded hash sets for lookups.
type Sets struct {
	sets    []hashset.Header
	entries []knownEntry
	digests map[string][]int32 // lower-case hex digest -> entries
	good    map[string]int     // any digest -> set index
	pdq     *hamming.Index
	videos  *vpdq.Index // ID = entry index
	maxThr  int
	Stats   []SetStats
}

// SetStats reports what loading a set read.
type SetStats struct {
	Path    string       `json:"path"`
	Name    string       `json:"name"`
	Kind    hashset.Kind `json:"kind"`
	Entries int          `json:"entries"`
	Skipped int          `json:"skipped"`
	Errors  []string     `json:"errors,omitempty"`
}

// NewSets returns an empty Sets.
func NewSets() *Sets {
	return &Sets{digests: map[string][]int32{}, good: map[string]int{}, pdq: hamming.New(), videos: vpdq.NewIndex(vpdq.DefaultHMA)}
}

// Load adds a set file. kind overrides the file's own kind when not empty;
// threshold (> 0) overrides the set's PDQ threshold.
func (k *Sets) Load(path string, kind hashset.Kind, threshold int, strict bool) error {
	h, r, c, err := hashset.Open(path, hashset.FormatAuto)
	if err != nil {
		return err
	}
	defer c.Close()
	if kind != "" {
		h.Kind = kind
	}
	thr := pdq.MatchThreshold
	if h.PDQThreshold > 0 {
		thr = h.PDQThreshold
	}
	if threshold > 0 {
		thr = threshold
	}
	si := len(k.sets)
	k.sets = append(k.sets, h)
	k.maxThr = max(k.maxThr, thr)
	var pending []hamming.Entry // indexed in one build, not entry by entry
	st, err := hashset.ReadAll(r, strict, func(e hashset.Entry) error {
		if h.Kind == hashset.KnownGood {
			for _, d := range []string{e.MD5, e.SHA1, e.SHA256} {
				if d != "" {
					k.good[d] = si
				}
			}
			return nil
		}
		i := int32(len(k.entries))
		k.entries = append(k.entries, knownEntry{set: si, threshold: thr, e: e})
		for _, d := range []string{e.MD5, e.SHA1, e.SHA256} {
			if d != "" {
				k.digests[d] = append(k.digests[d], i)
			}
		}
		if e.PDQ != nil {
			pending = append(pending, hamming.Entry{ID: uint64(i), Hash: *e.PDQ})
		}
		if len(e.VPDQ) > 0 {
			k.videos.Add(strconv.Itoa(int(i)), e.VPDQ)
			k.entries[i].e.VPDQ = nil // the index holds the frames
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	ss := SetStats{Path: path, Name: h.Name, Kind: h.Kind, Entries: st.Read, Skipped: st.Skipped}
	for _, e := range st.Errors {
		ss.Errors = append(ss.Errors, e.Error())
	}
	k.Stats = append(k.Stats, ss)
	if len(pending) > 0 {
		k.pdq = hamming.Build(append(k.pdq.Entries(), pending...))
	}
	return nil
}

func (k *Sets) ref(i int32, hash string, dist int) Ref {
	ke := k.entries[i]
	return Ref{Set: k.sets[ke.set].Name, Hash: hash, Distance: dist, Category: ke.e.Category, Series: ke.e.Series,
		VictimIdentified: ke.e.VictimIdentified, OffenderIdentified: ke.e.OffenderIdentified,
		Baseline: ke.e.Baseline, MediaID: ke.e.MediaID}
}

// Exact returns the known entries with one of these digests.
func (k *Sets) Exact(md5, sha1, sha256 string) []Ref {
	var out []Ref
	seen := map[int32]bool{}
	for _, c := range []struct {
		name string
		ids  []int32
	}{{"sha256", k.digests[sha256]}, {"sha1", k.digests[sha1]}, {"md5", k.digests[md5]}} {
		for _, i := range c.ids {
			if !seen[i] {
				seen[i] = true
				out = append(out, k.ref(i, c.name, 0))
			}
		}
	}
	return out
}

// Good reports the known-good set holding one of the digests.
func (k *Sets) Good(md5, sha1, sha256 string) (string, bool) {
	for _, d := range []string{sha256, sha1, md5} {
		if si, ok := k.good[d]; ok && d != "" {
			return k.sets[si].Name, true
		}
	}
	return "", false
}

// Near returns known entries within each set's PDQ threshold of any of the
// hashes (the first is the image's own; the others are dihedral variants
// named by names), nearest first, one Ref per entry.
func (k *Sets) Near(hashes []pdq.Hash, names []string) []Ref {
	best := map[int32]Ref{}
	for j, h := range hashes {
		for _, m := range k.pdq.Range(h, k.maxThr) {
			i := int32(m.ID)
			if m.Distance > k.entries[i].threshold {
				continue
			}
			if r, ok := best[i]; ok && r.Distance <= m.Distance {
				continue
			}
			r := k.ref(i, "pdq", m.Distance)
			if j > 0 {
				r.Dihedral = names[j]
			}
			best[i] = r
		}
	}
	out := make([]Ref, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	sortRefs(out)
	return out
}

// Videos returns the known videos that a video's vPDQ frames match under
// HMA's rule: frames within distance 31, and at least 80 % of the file's
// frames with a twin in the known video. With dihedral, rotated and flipped
// frames count too.
func (k *Sets) Videos(frames []vpdq.Frame, dihedral bool) []Ref {
	var out []Ref
	for _, m := range vpdq.Matches(k.videos.Query(frames, dihedral), vpdq.DefaultQueryPercent, vpdq.DefaultTargetPercent) {
		i, _ := strconv.Atoi(m.ID)
		r := k.ref(int32(i), "vpdq", m.BestDistance)
		r.QueryPercent, r.TargetPercent = m.QueryPercent, m.TargetPercent
		out = append(out, r)
	}
	return out
}
