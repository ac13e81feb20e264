package triage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ivid-project/ivid/internal/filehash"
	"github.com/ivid-project/ivid/internal/hamming"
	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// Class is what a scan concludes about a file.
type Class string

const (
	Known     Class = "known"      // exact MD5/SHA-1/SHA-256 match with a known set
	NearKnown Class = "near-known" // PDQ within the set's threshold, or a vPDQ video match
	KnownGood Class = "known-good" // in a known-good set: left out of review
	NewImage  Class = "new-image"
	NewVideo  Class = "new-video"
	Other     Class = "other"
	Skipped   Class = "skipped" // devices, FIFOs, sockets, symbolic links
	Error     Class = "error"
)

// Classes lists the classes in report order.
var Classes = []Class{Known, NearKnown, KnownGood, NewImage, NewVideo, Other, Skipped, Error}

// Item is one file's line in items.jsonl.
type Item struct {
	N        int              `json:"n"`
	Path     string           `json:"path"`
	Size     int64            `json:"size"`
	MIME     string           `json:"mime,omitempty"`
	MD5      string           `json:"md5,omitempty"`
	SHA1     string           `json:"sha1,omitempty"`
	SHA256   string           `json:"sha256,omitempty"`
	Width    int              `json:"width,omitempty"`
	Height   int              `json:"height,omitempty"`
	PDQ      *pdq.Hash        `json:"pdq,omitempty"`
	Quality  *int             `json:"pdq_quality,omitempty"`
	Video    *vpdq.Info       `json:"video,omitempty"`
	VPDQ     []vpdq.Frame     `json:"vpdq,omitempty"`
	Class    Class            `json:"class"`
	Category hashset.Category `json:"category"`
	Matches  []Ref            `json:"matches,omitempty"`
	// KnownGood names the known-good set that holds the file.
	KnownGood string `json:"known_good,omitempty"`
	// DuplicateOf is the item number of the first identical file.
	DuplicateOf *int `json:"duplicate_of,omitempty"`
	// SimilarTo is the first earlier image within the PDQ threshold, or
	// the first earlier video matching by vPDQ.
	SimilarTo       *int   `json:"similar_to,omitempty"`
	SimilarDistance int    `json:"similar_distance,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Options configure a scan.
type Options struct {
	Roots          []string
	Report         string // output folder; never inside the evidence
	Workers        int
	FollowSymlinks bool
	Dihedral       bool // also match rotated and flipped copies
	Threshold      int  // PDQ distance for stacking visual duplicates
	Mode           pdq.Mode
	Fast           bool // PDQ from the 1/8-scale luma of baseline JPEGs (filehash.Options.Fast)
	MaxPixels      int64
	// DecodeLimit is filehash.Options.DecodeLimit: an image whose decoding
	// passes it is reported as failed, and the scan goes on.
	DecodeLimit time.Duration
	// Decoders is filehash.Options.Decoders.
	Decoders *filehash.Decoders
	// Video, when set, hashes videos with vPDQ and matches them against
	// the known videos of the sets; otherwise videos get digests only.
	Video *vpdq.Options
	// Progress, if set, is called after every file on the scan goroutine.
	Progress func(Progress)
}

// Progress counts work done so far.
type Progress struct {
	Files, Bytes           int64
	TotalFiles, TotalBytes int64 // -1 until the tree has been counted
	Resumed                int   // files found done in the journal
}

const (
	itemsFile   = "items.jsonl"
	configFile  = "scan.json"
	summaryFile = "summary.json"
	vicsFile    = "vics.json"
	htmlFile    = "summary.html"
)

// scanConfig identifies a scan so that a resumed run continues the same one.
type scanConfig struct {
	Roots          []string     `json:"roots"`
	FollowSymlinks bool         `json:"follow_symlinks"`
	Dihedral       bool         `json:"dihedral"`
	Threshold      int          `json:"threshold"`
	Mode           string       `json:"pdq_mode"`
	Fast           bool         `json:"pdq_fast,omitempty"`
	MaxPixels      int64        `json:"max_pixels"`
	Video          *videoConfig `json:"video,omitempty"`
	Sets           []SetStats   `json:"sets"`
}

type videoConfig struct {
	SecondsPerHash float64 `json:"seconds_per_hash"`
	ExactC         bool    `json:"exact_c"`
}

// ErrOtherScan is returned when the report folder holds a different scan.
var ErrOtherScan = errors.New("the report folder holds a different scan")

// Scan hashes and classifies every file under the roots, writing the report
// folder. Interrupted (ctx cancelled), it leaves a journal that the same call
// continues; the finished report does not depend on interruptions.
func Scan(ctx context.Context, sets *Sets, o Options) (*Summary, error) {
	if o.Threshold <= 0 {
		o.Threshold = pdq.MatchThreshold
	}
	var roots []string
	for _, r := range o.Roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return nil, err
		}
		roots = append(roots, abs)
	}
	report, err := filepath.Abs(o.Report)
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		if rel, err := filepath.Rel(r, report); err == nil && (rel == "." || !filepath.IsAbs(rel) && !startsWithDotDot(rel)) {
			return nil, fmt.Errorf("the report folder %s is inside the evidence %s: nothing may be written there", report, r)
		}
	}
	if err := os.MkdirAll(report, 0o755); err != nil {
		return nil, err
	}
	cfg := scanConfig{Roots: roots, FollowSymlinks: o.FollowSymlinks, Dihedral: o.Dihedral, Threshold: o.Threshold,
		Mode: o.Mode.String(), Fast: o.Fast, MaxPixels: o.MaxPixels, Sets: sets.Stats}
	if o.Video != nil {
		cfg.Video = &videoConfig{SecondsPerHash: o.Video.SecondsPerHash, ExactC: o.Video.ExactC}
	}
	if err := checkConfig(filepath.Join(report, configFile), cfg); err != nil {
		return nil, err
	}

	st := newState(o.Threshold)
	journal, err := st.resume(filepath.Join(report, itemsFile))
	if err != nil {
		return nil, err
	}
	prog := Progress{TotalFiles: -1, TotalBytes: -1, Resumed: st.n}
	var totalFiles, totalBytes atomic.Int64
	totalFiles.Store(-1)
	go countTree(ctx, roots, o.FollowSymlinks, &totalFiles, &totalBytes)

	jobs := make(chan filehash.Job)
	walked := make(chan filehash.Job)
	go filehash.Walk(ctx, roots, filehash.WalkOptions{Recursive: true, FollowSymlinks: o.FollowSymlinks}, walked)
	// The files the journal holds are skipped; st.done itself grows as
	// results come in, on another goroutine.
	resumed := maps.Clone(st.done)
	go func() {
		defer close(jobs)
		for j := range walked {
			if resumed[j.Path] {
				continue
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				for range walked {
				}
				return
			}
		}
	}()
	w := bufio.NewWriterSize(journal, 1<<16)
	fopts := filehash.Options{Mode: o.Mode, Fast: o.Fast, Dihedral: o.Dihedral, MaxPixels: o.MaxPixels, DecodeLimit: o.DecodeLimit, Decoders: o.Decoders, Video: o.Video}
	runErr := filehash.Run(ctx, jobs, o.Workers, fopts, func(r filehash.Result) error {
		it := st.classify(sets, r, o.Dihedral)
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
		prog.Files++
		prog.Bytes += it.Size
		if o.Progress != nil {
			prog.TotalFiles, prog.TotalBytes = totalFiles.Load(), totalBytes.Load()
			o.Progress(prog)
		}
		return nil
	})
	if err := w.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if err := journal.Sync(); err != nil && runErr == nil {
		runErr = err
	}
	journal.Close()
	if runErr != nil {
		return nil, runErr
	}
	return writeReports(report, sets)
}

func startsWithDotDot(rel string) bool {
	return rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator)
}

func checkConfig(path string, cfg scanConfig) error {
	want, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	want = append(want, '\n')
	have, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.WriteFile(path, want, 0o644)
	case err != nil:
		return err
	case !bytes.Equal(have, want):
		return fmt.Errorf("%w (%s differs): choose another --out or remove it", ErrOtherScan, path)
	}
	return nil
}

// state is what classification needs from earlier items: the first item
// with each SHA-256, and an index of earlier images' PDQ hashes.
type state struct {
	n         int
	done      map[string]bool
	bySHA     map[string]int
	images    *hamming.Index
	videos    *vpdq.Index // ID = item number
	threshold int
}

func newState(threshold int) *state {
	return &state{done: map[string]bool{}, bySHA: map[string]int{}, images: hamming.New(), videos: vpdq.NewIndex(vpdq.DefaultHMA), threshold: threshold}
}

// resume reads the journal, drops a torn last line, replays the items, and
// returns the journal open for appending.
func (s *state) resume(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var good int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var it Item
			if json.Unmarshal(line, &it) != nil || it.N != s.n {
				break
			}
			s.replay(&it)
			good += int64(len(line))
		}
		if err != nil {
			break
		}
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s *state) replay(it *Item) {
	s.n++
	s.done[it.Path] = true
	if it.SHA256 == "" {
		return
	}
	if _, ok := s.bySHA[it.SHA256]; !ok {
		s.bySHA[it.SHA256] = it.N
		if it.PDQ != nil && it.Quality != nil && *it.Quality >= pdq.MinQuality {
			s.images.Insert(hamming.Entry{ID: uint64(it.N), Hash: *it.PDQ})
		}
		if len(it.VPDQ) > 0 {
			s.videos.Add(strconv.Itoa(it.N), it.VPDQ)
		}
	}
}

func (s *state) classify(sets *Sets, r filehash.Result, dihedral bool) *Item {
	rec := r.Record
	it := &Item{N: s.n, Path: rec.Path, Size: rec.Size, MIME: rec.MIME, MD5: rec.MD5, SHA1: rec.SHA1,
		SHA256: rec.SHA256, Width: rec.Width, Height: rec.Height, PDQ: rec.PDQ, Quality: rec.Quality,
		Video: rec.Video, VPDQ: rec.VPDQ, Category: hashset.Uncategorised}
	defer s.replay(it)
	if r.Err != nil {
		it.Error = r.Err.Error()
	}
	if rec.SHA256 == "" {
		it.Class = Error
		if errors.Is(r.Err, filehash.ErrNotRegular) || errors.Is(r.Err, filehash.ErrSymlink) {
			it.Class = Skipped
		}
		return it
	}
	if first, ok := s.bySHA[rec.SHA256]; ok {
		it.DuplicateOf = &first
	} else if rec.PDQ != nil && *rec.Quality >= pdq.MinQuality {
		if m := s.images.Range(*rec.PDQ, s.threshold); len(m) > 0 {
			n := int(m[0].ID)
			it.SimilarTo, it.SimilarDistance = &n, m[0].Distance
		}
	} else if len(rec.VPDQ) > 0 {
		if m := vpdq.Matches(s.videos.Query(rec.VPDQ, false), vpdq.DefaultQueryPercent, vpdq.DefaultTargetPercent); len(m) > 0 {
			n, _ := strconv.Atoi(m[0].ID)
			it.SimilarTo, it.SimilarDistance = &n, m[0].BestDistance
		}
	}
	if refs := sets.Exact(rec.MD5, rec.SHA1, rec.SHA256); len(refs) > 0 {
		it.Class, it.Matches, it.Category = Known, refs, refs[0].Category
		return it
	}
	if set, ok := sets.Good(rec.MD5, rec.SHA1, rec.SHA256); ok {
		it.Class, it.KnownGood = KnownGood, set
		return it
	}
	if rec.PDQ != nil && *rec.Quality >= pdq.MinQuality {
		hashes, names := []pdq.Hash{*rec.PDQ}, []string{"orig"}
		if dihedral && rec.Dihedral != nil {
			all := rec.Dihedral.All()
			hashes = append(hashes, all[1:]...)
			names = append(names, pdq.DihedralNames[1:]...)
		}
		if refs := sets.Near(hashes, names); len(refs) > 0 {
			it.Class, it.Matches, it.Category = NearKnown, refs, refs[0].Category
			return it
		}
	}
	if len(rec.VPDQ) > 0 {
		// Frames decoded before an error still count.
		if refs := sets.Videos(rec.VPDQ, dihedral); len(refs) > 0 {
			it.Class, it.Matches, it.Category = NearKnown, refs, refs[0].Category
			return it
		}
	}
	switch {
	case r.Err != nil:
		it.Class = Error
	case rec.Kind == filehash.Image:
		it.Class = NewImage
	case rec.Kind == filehash.Video:
		it.Class = NewVideo
	default:
		it.Class = Other
	}
	return it
}

func sortRefs(r []Ref) {
	slices.SortFunc(r, func(a, b Ref) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		if a.Set != b.Set {
			if a.Set < b.Set {
				return -1
			}
			return 1
		}
		if a.MediaID < b.MediaID {
			return -1
		}
		if a.MediaID > b.MediaID {
			return 1
		}
		return 0
	})
}

// countTree counts regular files and bytes for the progress ETA.
func countTree(ctx context.Context, roots []string, follow bool, files, bytes *atomic.Int64) {
	var n, b int64
	for _, r := range roots {
		filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil || d.IsDir() {
				return nil
			}
			if d.Type().IsRegular() || (follow && d.Type()&fs.ModeSymlink != 0) {
				if fi, err := d.Info(); err == nil {
					n++
					b += fi.Size()
				}
			}
			return nil
		})
	}
	bytes.Store(b)
	files.Store(n)
}
