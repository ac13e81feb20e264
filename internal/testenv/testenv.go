// Package testenv tells tests whether the programs they need are
// installed: a missing one skips the test, except under CI=true, where
// .ci/run has installed it and its absence is a failure.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// NeedFFmpeg requires the ffmpeg and ffprobe programs.
func NeedFFmpeg(t testing.TB) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI=true (.ci/run installs it)", p)
			}
			t.Skipf("%s not installed", p)
		}
	}
}
