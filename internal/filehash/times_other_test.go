//go:build !linux && !darwin

package filehash

import (
	"os"
	"testing"
	"time"
)

// fileTimes returns p's modification time; the access time is not read
// on this system.
func fileTimes(t *testing.T, p string) (atime, mtime time.Time, haveAtime bool) {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return time.Time{}, fi.ModTime(), false
}
