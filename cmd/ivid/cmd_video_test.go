package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ivid-project/ivid/internal/testenv"
	"github.com/ivid-project/ivid/internal/vpdq"
)

const vpdqTestdata = "../../testdata/vpdq"

func TestHashVideoJSON(t *testing.T) {
	testenv.NeedFFmpeg(t)
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

func TestVPDQCommands(t *testing.T) {
	testenv.NeedFFmpeg(t)
	dir := t.TempDir()
	door := vpdqTestdata + "/videos/doorknob-hd-no-bar.mp4"
	code, _, errs := runIvid(t, "vpdq", "hash", "--vpdq-exact", "--out", dir, door, vpdqTestdata+"/videos/test-padded-dimensions.mp4")
	if code != 0 {
		t.Fatalf("hash: exit %d: %s", code, errs)
	}
	got, _ := os.ReadFile(dir + "/doorknob-hd-no-bar.txt")
	want, _ := os.ReadFile(vpdqTestdata + "/hashes-1s/doorknob-hd-no-bar.txt")
	if string(got) != string(want) {
		t.Fatalf("vpdq hash differs from the reference:\n%s", got)
	}
	code, out, _ := runIvid(t, "vpdq", "hash", "--format", "hma", door)
	if frames, err := vpdq.ParseHMA(out); code != 0 || err != nil || len(frames) != 4 || !strings.Contains(out, `,0.0"`) {
		t.Fatalf("hma: exit %d, %v: %s", code, err, out)
	}
	// Reference figures (expected-match.tsv): 96.28/80.53 brute, 96.26/82.80 hma.
	chair19, chair22 := vpdqTestdata+"/hashes/chair-19-sd-bar.txt", vpdqTestdata+"/hashes/chair-22-with-small-logo-bar.txt"
	if code, out, _ := runIvid(t, "vpdq", "match", "--convention", "brute", chair19, chair22); code != 0 || !strings.HasPrefix(out, "96.28 Percentage Query Video match\n80.53 Percentage Target Video match\nmatch") {
		t.Fatalf("brute: exit %d: %s", code, out)
	}
	if code, out, _ := runIvid(t, "vpdq", "match", chair19, chair22); code != 0 || !strings.HasPrefix(out, "96.26 Percentage Query Video match\n82.80") {
		t.Fatalf("hma: exit %d: %s", code, out)
	}
	// A video is hashed on the fly; a doorknob is no chair.
	if code, out, _ := runIvid(t, "vpdq", "match", door, chair19); code != exitFailed || !strings.Contains(out, "no match") {
		t.Fatalf("doorknob vs chair: exit %d: %s", code, out)
	}
	if code, _, errs := runIvid(t, "vpdq", "sheet", door, "--out", dir+"/sheet.jpg", "--cols", "2", "--rows", "2"); code != 0 {
		t.Fatalf("sheet: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(dir + "/sheet.jpg"); len(b) < 1000 || string(b[:2]) != "\xff\xd8" {
		t.Fatal("sheet is not a JPEG")
	}
	for _, args := range [][]string{{"vpdq", "hash", door, door}, {"vpdq", "hash", "--format", "x", door}, {"vpdq", "match", door}, {"vpdq", "sheet", door}} {
		if code, _, _ := runIvid(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want usage error", args, code)
		}
	}
}

func TestBenchVideo(t *testing.T) {
	testenv.NeedFFmpeg(t)
	code, out, errs := runIvid(t, "bench", "video", "--runs", "1", "--every-frame=false", "--input", vpdqTestdata+"/videos/doorknob-hd-no-bar.mp4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"ffmpeg decode only", "vPDQ 1 hash/s", "video s/cpu-s", "% of decode-only speed"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}
