package api

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/storage"
	"github.com/ivid-project/ivid/internal/storage/storagetest"
	"github.com/ivid-project/ivid/internal/testenv"
	"github.com/ivid-project/ivid/internal/vpdq"
)

// TestContributeVideo: a re-encoded, downscaled clip of a known video,
// contributed by another agency, is reported as a near-duplicate of it.
func TestContributeVideo(t *testing.T) {
	testenv.NeedFFmpeg(t)
	f := newFixtureWith(t, storagetest.SQLite(t), Options{}, ivid.Config{Video: &vpdq.Options{}})
	src := "../../testdata/vpdq/videos/chair-19-sd-bar.mp4"
	known, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	clipPath := filepath.Join(t.TempDir(), "clip.mp4")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-ss", "5", "-t", "8", "-i", src, "-vf", "scale=240:360,fps=24",
		"-c:v", "libx264", "-crf", "30", "-an", clipPath).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	clip, _ := os.ReadFile(clipPath)
	fr := f.newCase("fr-specialist", "FR-V", ivid.SharingAgency)
	_, res := f.upload("fr-specialist", fr.ID, map[string][]byte{"known.mp4": known})
	k := res[0].Comparison
	if k == nil || k.Media.Kind != ivid.Video || len(k.Media.VPDQ) != 564 || k.Media.Duration < 18 {
		t.Fatalf("known video: %+v", res[0])
	}
	de := f.newCase("de-specialist", "DE-V", ivid.SharingAgency)
	_, res = f.upload("de-specialist", de.ID, map[string][]byte{"clip.mp4": clip})
	c := res[0].Comparison
	if c == nil || !c.New || len(c.Links) != 1 || c.Links[0].MediaID != k.Media.ID || c.Links[0].Kind != ivid.LinkNear || c.Links[0].QueryPercent < 80 {
		t.Fatalf("clip: %+v", res[0])
	}
	// The contact sheet, for the agency that may see the pixels only.
	resp := f.do("de-specialist", "GET", "/api/v1/media/"+itoa(int64(c.Media.ID))+"/sheet", nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("sheet: %d", resp.StatusCode)
	}
	if resp := f.do("de-specialist", "GET", "/api/v1/media/"+itoa(int64(k.Media.ID))+"/sheet", nil, ""); resp.StatusCode != 403 {
		t.Fatalf("sheet of another agency's video: %d", resp.StatusCode)
	}
	t.Logf("clip matched the known video: query %.0f %%, best frame distance %g", c.Links[0].QueryPercent, c.Links[0].Distance)
}

// TestContributeLetterboxedVideo: a copy re-encoded inside black bars is
// linked to its original, whichever of the two was contributed first; the
// reference's hashes are kept as the item's vPDQ.
func TestContributeLetterboxedVideo(t *testing.T) {
	testenv.NeedFFmpeg(t)
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixtureWith(t, db, Options{}, ivid.Config{Video: &vpdq.Options{}})
		dir := t.TempDir()
		encode := func(name, src, vf string) []byte {
			t.Helper()
			out := filepath.Join(dir, name)
			if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", src, "-vf", vf, "-c:v", "libx264", "-crf", "26", "-an", out).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v %s", err, b)
			}
			b, _ := os.ReadFile(out)
			return b
		}
		const plain, boxed = "scale=320:180", "scale=320:180,pad=320:240:0:30:black"
		doorknob := "../../testdata/vpdq/videos/doorknob-hd-no-bar.mp4"
		chair := "../../testdata/vpdq/videos/chair-19-sd-bar.mp4"
		fr := f.newCase("fr-specialist", "FR-BOX", ivid.SharingAgency)
		de := f.newCase("de-specialist", "DE-BOX", ivid.SharingAgency)
		for _, c := range []struct {
			name          string
			first, second []byte
		}{
			{"original first", encode("doorknob.mp4", doorknob, plain), encode("doorknob-boxed.mp4", doorknob, boxed)},
			{"letterboxed first", encode("chair-boxed.mp4", chair, "trim=0:6,"+boxed), encode("chair.mp4", chair, "trim=0:6,"+plain)},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, res := f.upload("fr-specialist", fr.ID, map[string][]byte{"first.mp4": c.first})
				first := res[0].Comparison
				if first == nil || len(first.Media.VPDQ) == 0 {
					t.Fatalf("first: %+v", res[0])
				}
				_, res = f.upload("de-specialist", de.ID, map[string][]byte{"second.mp4": c.second})
				second := res[0].Comparison
				if second == nil || len(second.Links) != 1 || second.Links[0].MediaID != first.Media.ID || second.Links[0].Kind != ivid.LinkNear {
					t.Fatalf("second: %+v", res[0])
				}
				boxedItem := first.Media
				if c.name == "original first" {
					boxedItem = second.Media
				}
				if len(boxedItem.VPDQCropped) == 0 || len(boxedItem.VPDQCropped) != len(boxedItem.VPDQ) {
					t.Fatalf("letterboxed item: %d reference frames, %d cropped", len(boxedItem.VPDQ), len(boxedItem.VPDQCropped))
				}
				t.Logf("linked: query %.0f %%, best frame distance %g", second.Links[0].QueryPercent, second.Links[0].Distance)
			})
		}
	})
}

// TestContributeVideoBomb: a video with more frames to hash than the
// server's limit (still frames take a few bytes each),
// or one not hashed within its time limit, is answered with a client
// error naming the limit, and nothing of it is stored.
func TestContributeVideoBomb(t *testing.T) {
	testenv.NeedFFmpeg(t)
	// 6,000 frames; Matroska declares no count, so it is found decoding.
	path := filepath.Join(t.TempDir(), "bomb.mkv")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=black:size=64x48:rate=100:duration=60",
		"-c:v", "mpeg4", "-q:v", "31", path).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	bomb, _ := os.ReadFile(path)
	for _, c := range []struct {
		name  string
		video vpdq.Options
		want  string
	}{
		{"frames", vpdq.Options{MaxFrames: 1000}, "more than 1000 frames"},
		{"time", vpdq.Options{TimeLimit: 100 * time.Millisecond}, "time limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T, db *storage.DB) {
				f := newFixtureWith(t, db, Options{}, ivid.Config{Video: &c.video})
				cs := f.newCase("fr-specialist", "FR-BOMB", ivid.SharingAgency)
				st, res := f.upload("fr-specialist", cs.ID, map[string][]byte{"bomb.mkv": bomb})
				if st != 200 || len(res) != 1 || res[0].Status != 400 || !strings.Contains(res[0].Error, c.want) || res[0].Comparison != nil {
					t.Fatalf("upload: %d %+v", st, res)
				}
				if n := f.countBlobs(); n != 0 {
					t.Fatalf("%d blobs stored", n)
				}
				t.Log(res[0].Error)
			})
		})
	}
}
