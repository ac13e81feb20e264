//go:build linux || darwin

package filehash

import (
	"syscall"
	"testing"
	"time"
)

// fileTimes returns p's access and modification times.
func fileTimes(t *testing.T, p string) (atime, mtime time.Time, haveAtime bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	a, m := statTimes(&st)
	return time.Unix(a.Unix()), time.Unix(m.Unix()), true
}
