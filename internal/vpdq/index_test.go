package vpdq

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/testenv"
)

// TestIndexEqualsBrute: the index gives every pair of sample videos the
// same percentages as the frame-by-frame comparison, under both
// conventions.
func TestIndexEqualsBrute(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/vpdq/hashes/*.txt")
	videos := map[string][]Frame{}
	for _, f := range files {
		videos[strings.TrimSuffix(filepath.Base(f), ".txt")] = readHashes(t, f)
	}
	for _, o := range []MatchOptions{DefaultBrute, DefaultHMA} {
		x := NewIndex(o)
		for name, fr := range videos {
			x.Add(name, fr)
		}
		if x.Len() != len(videos) {
			t.Fatalf("Len = %d", x.Len())
		}
		for qn, q := range videos {
			got := map[string]VideoMatch{}
			for _, m := range x.Query(q, false) {
				got[m.ID] = m
			}
			for tn, tg := range videos {
				wq, wt := Match(q, tg, o)
				m, ok := got[tn]
				if !ok && (wq > 0 || wt > 0) {
					t.Errorf("%s: %s vs %s missing, brute gives %.2f/%.2f", o.Convention, qn, tn, wq, wt)
					continue
				}
				if ok && (fmt.Sprintf("%.2f/%.2f", m.QueryPercent, m.TargetPercent) != fmt.Sprintf("%.2f/%.2f", wq, wt)) {
					t.Errorf("%s: %s vs %s = %.2f/%.2f, brute %.2f/%.2f", o.Convention, qn, tn, m.QueryPercent, m.TargetPercent, wq, wt)
				}
			}
		}
	}
}

func TestIndexRemoveAndVerdict(t *testing.T) {
	q := readHashes(t, "../../testdata/vpdq/hashes/pattern-sd-grey-bar.txt")
	x := NewIndex(DefaultHMA)
	x.Add("grey", q)
	x.Add("logo", readHashes(t, "../../testdata/vpdq/hashes/pattern-sd-with-small-logo-bar.txt"))
	x.Add("doorknob", readHashes(t, "../../testdata/vpdq/hashes/doorknob-hd-no-bar.txt"))
	res := Matches(x.Query(q, false), DefaultQueryPercent, DefaultTargetPercent)
	if len(res) < 1 || res[0].ID != "grey" || res[0].QueryPercent != 100 || res[0].BestDistance != 0 {
		t.Fatalf("got %+v", res)
	}
	for _, m := range res {
		if m.ID == "doorknob" {
			t.Fatalf("doorknob matched a pattern video: %+v", m)
		}
	}
	x.Remove("grey")
	for _, m := range x.Query(q, false) {
		if m.ID == "grey" {
			t.Fatal("removed video still matches")
		}
	}
	if x.Len() != 2 {
		t.Fatalf("Len = %d after removal", x.Len())
	}
}

// TestQueryHoldsNoLock holds a query once its frames are looked up:
// adding, removing and querying videos go on meanwhile (a reader-writer
// lock made an add wait for the query, and the next query for the add),
// and the held query answers with the videos it found.
func TestQueryHoldsNoLock(t *testing.T) {
	grey := readHashes(t, "../../testdata/vpdq/hashes/pattern-sd-grey-bar.txt")
	door := readHashes(t, "../../testdata/vpdq/hashes/doorknob-hd-no-bar.txt")
	x := NewIndex(DefaultHMA)
	x.Add("grey", grey)
	inQuery, release := make(chan struct{}), make(chan struct{})
	x.queryHook = func() {
		x.queryHook = nil // the queries below go through
		close(inQuery)
		<-release
	}
	held := make(chan []VideoMatch)
	go func() { held <- x.Query(grey, false) }()
	<-inQuery
	done := make(chan struct{})
	go func() {
		defer close(done)
		x.Add("doorknob", door)
		if got := x.Query(door, false); len(got) == 0 || got[0].ID != "doorknob" {
			t.Errorf("query during the held one: got %+v", got)
		}
		x.Remove("grey")
		if x.Len() != 1 {
			t.Errorf("Len = %d, want 1", x.Len())
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("adding or querying a video waits for a query in flight")
	}
	close(release)
	if got := <-held; len(got) == 0 || got[0].ID != "grey" || got[0].QueryPercent != 100 {
		t.Errorf("held query: got %+v, want grey at 100 %%", got)
	}
	for _, m := range x.Query(grey, false) {
		if m.ID == "grey" {
			t.Error("removed video still matches")
		}
	}
}

// TestClipAndMirrorMatch: a re-encoded, downscaled clip at another frame
// rate, queried at one hash a second, matches the known video indexed at
// every frame; a mirrored copy matches only with dihedral query frames.
func TestClipAndMirrorMatch(t *testing.T) {
	testenv.NeedFFmpeg(t)
	src := "../../testdata/vpdq/videos/chair-19-sd-bar.mp4"
	x := NewIndex(DefaultHMA)
	x.Add("chair-19", readHashes(t, "../../testdata/vpdq/hashes/chair-19-sd-bar.txt"))
	x.Add("pattern", readHashes(t, "../../testdata/vpdq/hashes/pattern-sd-grey-bar.txt"))

	clip := makeVideo(t, "clip.mp4", "-ss", "5", "-t", "7", "-i", src, "-vf", "scale=240:360,fps=15", "-c:v", "libx264", "-crf", "30", "-an")
	mirror := makeVideo(t, "mirror.mp4", "-i", src, "-vf", "hflip", "-c:v", "libx264", "-crf", "28", "-an")
	for _, c := range []struct {
		name     string
		path     string
		dihedral bool
		match    bool
	}{
		{"clip", clip, false, true},
		{"mirror", mirror, false, false},
		{"mirror, dihedral", mirror, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := hashAll(t, c.path, Options{SecondsPerHash: 1, Dihedral: c.dihedral})
			res := x.Query(q, c.dihedral)
			got := Matches(res, DefaultQueryPercent, DefaultTargetPercent)
			t.Logf("%d query frames; results %+v", len(q), res)
			if c.match != (len(got) == 1 && got[0].ID == "chair-19") {
				t.Fatalf("match = %+v, want a match: %v", got, c.match)
			}
		})
	}
}

// TestLetterboxCrop: a copy re-encoded with black bars around a smaller
// picture matches its original only when the bars are cropped.
func TestLetterboxCrop(t *testing.T) {
	testenv.NeedFFmpeg(t)
	x := NewIndex(DefaultHMA)
	x.Add("doorknob", readHashes(t, "../../testdata/vpdq/hashes/doorknob-hd-no-bar.txt"))
	x.Add("pattern", readHashes(t, "../../testdata/vpdq/hashes/pattern-hd-no-bar.txt"))
	boxed := makeVideo(t, "boxed.mp4", "-i", "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4",
		"-vf", "scale=640:360,pad=640:480:0:60:black", "-c:v", "libx264", "-crf", "26", "-an")
	for _, crop := range []bool{false, true} {
		var q []Frame
		info, err := Hash(context.Background(), boxed, Options{SecondsPerHash: 1, Crop: crop}, func(f Frame) error {
			q = append(q, f)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := Matches(x.Query(q, false), DefaultQueryPercent, DefaultTargetPercent)
		matched := len(got) == 1 && got[0].ID == "doorknob"
		t.Logf("crop %v: picture %q, %d frames, matches %+v", crop, info.Crop, len(q), got)
		if crop && (info.Crop != "640:360:0:60" || !matched) {
			t.Errorf("cropped: picture %q, matches %+v; want 640:360:0:60 and doorknob", info.Crop, got)
		}
		if !crop && (info.Crop != "" || matched) {
			t.Errorf("not cropped: picture %q, matches %+v; want none", info.Crop, got)
		}
	}
	// A video without bars is hashed as before.
	plain := "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4"
	a, b := hashAll(t, plain, Options{SecondsPerHash: 1}), hashAll(t, plain, Options{SecondsPerHash: 1, Crop: true})
	if len(a) != len(b) {
		t.Fatalf("%d frames cropped, %d not", len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("frame %d differs with Crop on a video without bars", i)
		}
	}
}

func TestParseCrop(t *testing.T) {
	for _, c := range []struct {
		log  string
		want string
	}{
		{"[Parsed_cropdetect_0 @ 0x1] x1:0 x2:639 y1:60 y2:419 w:640 h:360 x:0 y:60 pts:0 t:0.0 crop=640:360:0:60\n", "640:360:0:60"},
		{"crop=600:400:0:0\n... crop=640:360:0:60\nvideo:0kB", "640:360:0:60"},
		{"crop=640:480:0:0", ""},       // the whole frame
		{"crop=-640:-480:640:480", ""}, // all black
		{"crop=700:360:0:60", ""},      // wider than the frame
		{"no detection", ""},
		{"crop=640:36", ""},
	} {
		if got := parseCrop(c.log, 640, 480); got != c.want {
			t.Errorf("parseCrop(%q) = %q, want %q", c.log, got, c.want)
		}
	}
}
