package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/vpdq"
)

const vpdqTestdata = "../../testdata/vpdq"

// needFFmpeg fails under CI, where .ci/run installs FFmpeg, and skips
// elsewhere when it is missing.
func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI", p)
			}
			t.Skipf("%s not installed", p)
		}
	}
}

func TestHashVideoJSON(t *testing.T) {
	needFFmpeg(t)
	code, out, errs := runIvid(t, "hash", "--json", "--vpdq-exact", vpdqTestdata+"/videos/doorknob-hd-no-bar.mp4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rec struct {
		Kind  string
		Video vpdq.Info
		VPDQ  []vpdq.Frame
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(vpdqTestdata + "/hashes-1s/doorknob-hd-no-bar.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	vpdq.WriteLines(&got, rec.VPDQ)
	if rec.Kind != "video" || rec.Video.Codec != "h264" || rec.Video.Width != 1280 || got.String() != string(want) {
		t.Fatalf("got %s %+v\n%s\nwant\n%s", rec.Kind, rec.Video, got.String(), want)
	}
}

func TestHashVideoWithoutFFmpeg(t *testing.T) {
	code, out, errs := runIvid(t, "hash", "--ffprobe", "/nonexistent/ffprobe", vpdqTestdata+"/videos/doorknob-hd-no-bar.mp4")
	if code != exitFailed || !strings.Contains(errs, "apt install ffmpeg") || !strings.Contains(out, "1b2c3c9ab713f900") {
		t.Fatalf("exit %d, stdout %q, stderr %q: want exit 1, digests printed and how to install ffmpeg", code, out, errs)
	}
	code, out, errs = runIvid(t, "hash", "--video=false", "--ffprobe", "/nonexistent/ffprobe", vpdqTestdata+"/videos/doorknob-hd-no-bar.mp4")
	if code != 0 || errs != "" || !strings.Contains(out, "1b2c3c9ab713f900") {
		t.Fatalf("--video=false: exit %d, stderr %q", code, errs)
	}
}
