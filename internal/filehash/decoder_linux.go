package filehash

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dieWithParent has a decoder worker killed when ivid ends, even in the
// middle of a file (an idle one ends on its own: its input closes).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// growPipe asks for a pipe buffer of size bytes (F_SETPIPE_SZ); the
// system may refuse, which only costs speed.
func growPipe(f *os.File, size int) {
	if c, err := f.SyscallConn(); err == nil {
		c.Control(func(fd uintptr) {
			syscall.Syscall(syscall.SYS_FCNTL, fd, 1031, uintptr(size))
		})
	}
}

// liveProcessTime reads a running process's user and system time from
// /proc (fields 14 and 15 of its stat, in clock ticks of 1/100 s).
func liveProcessTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}
