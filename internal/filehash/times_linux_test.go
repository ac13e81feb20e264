package filehash

import "syscall"

func statTimes(st *syscall.Stat_t) (atime, mtime syscall.Timespec) { return st.Atim, st.Mtim }
