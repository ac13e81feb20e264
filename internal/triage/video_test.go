package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/testenv"
	"github.com/ivid-project/ivid/internal/vpdq"
)

const vpdqTestdata = "../../testdata/vpdq"

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	if b, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, b)
	}
}

// TestScanVideos: a re-encoded clip of a known video is near-known by
// vPDQ, a byte-identical copy of another known video is known by SHA-256,
// an unknown video is new, and a second encoding of it is stacked with it.
func TestScanVideos(t *testing.T) {
	testenv.NeedFFmpeg(t)
	base := t.TempDir()
	ev := filepath.Join(base, "evidence")
	os.MkdirAll(filepath.Join(ev, "dcim"), 0o755)
	// The known video: chair-19's every-frame hashes, as a vPDQ file with a
	// category and series given through ivid's own set format.
	frames, err := os.ReadFile(filepath.Join(vpdqTestdata, "hashes/chair-19-sd-bar.txt"))
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(base, "known.jsonl")
	{
		_, r, c, err := hashset.Open(writeTemp(t, base, "chair.txt", frames), hashset.FormatVPDQ)
		if err != nil {
			t.Fatal(err)
		}
		e, err := r.Next()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		e.Category, e.Series, e.MediaID = hashset.CSAM, "training-series-chair", "chair-19"
		door, _ := os.ReadFile(filepath.Join(vpdqTestdata, "videos/doorknob-hd-no-bar.mp4"))
		f, _ := os.Create(known)
		w, _ := hashset.NewWriter(f, hashset.FormatNative, hashset.Header{Name: "training-videos", Kind: hashset.Known})
		w.Write(e)
		w.Write(hashset.Entry{SHA256: sha256hex(door), Category: hashset.Exploitative, MediaID: "doorknob"})
		w.Close()
		f.Close()
		writeTemp(t, ev, "door copy.mp4", door)
	}
	src := filepath.Join(vpdqTestdata, "videos/chair-19-sd-bar.mp4")
	ffmpeg(t, "-ss", "4", "-t", "8", "-i", src, "-vf", "scale=240:360,fps=24", "-c:v", "libx264", "-crf", "30", "-an", filepath.Join(ev, "dcim", "clip.mp4"))
	pattern := filepath.Join(vpdqTestdata, "videos/pattern-sd-grey-bar.mp4")
	ffmpeg(t, "-i", pattern, "-c:v", "libx264", "-crf", "26", "-an", filepath.Join(ev, "a-new.mp4"))
	ffmpeg(t, "-i", pattern, "-vf", "scale=360:540", "-c:v", "mpeg4", "-q:v", "5", "-an", filepath.Join(ev, "b-new-again.mkv"))

	sets := NewSets()
	if err := sets.Load(known, "", 0, true); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(base, "report")
	sum, err := Scan(context.Background(), sets, Options{Roots: []string{ev}, Report: report, Workers: 2,
		Video: &vpdq.Options{SecondsPerHash: 1}})
	if err != nil {
		t.Fatal(err)
	}
	all := readItems(t, report)
	items := map[string]Item{}
	for p, it := range all {
		rel, _ := filepath.Rel(ev, p)
		items[rel] = it
	}
	clip := items["dcim/clip.mp4"]
	if clip.Class != NearKnown || len(clip.Matches) != 1 || clip.Matches[0].Hash != "vpdq" || clip.Matches[0].Series != "training-series-chair" ||
		clip.Matches[0].QueryPercent < 80 || clip.Category != hashset.CSAM || clip.Video == nil || len(clip.VPDQ) != 8 {
		t.Errorf("clip: %+v", clip)
	}
	if d := items["door copy.mp4"]; d.Class != Known || d.Matches[0].MediaID != "doorknob" || len(d.VPDQ) != 4 {
		t.Errorf("door copy: %+v", d)
	}
	a, b := items["a-new.mp4"], items["b-new-again.mkv"]
	if a.Class != NewVideo || b.Class != NewVideo || b.SimilarTo == nil || *b.SimilarTo != a.N {
		t.Errorf("new videos: %+v\n%+v", a, b)
	}
	if sum.Classes[NearKnown] != 1 || sum.Classes[Known] != 1 || sum.Classes[NewVideo] != 2 {
		t.Errorf("summary classes %v", sum.Classes)
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	write(t, p, b)
	return p
}
