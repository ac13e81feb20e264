package blob

import (
	"os"
	"syscall"
)

// datasync flushes a file's data and what is needed to read it back (its
// size), not its times: an append to a pack needs no more.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
