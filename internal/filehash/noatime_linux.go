package filehash

import "syscall"

// O_NONBLOCK keeps an open from hanging if a FIFO replaced a file after Stat.
const (
	oNoATime  = syscall.O_NOATIME
	oNonBlock = syscall.O_NONBLOCK
)
