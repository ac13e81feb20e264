//go:build unix

package vpdq

import "syscall"

// sysProcAttr puts ffmpeg in a process group of its own, so that a
// terminal's Ctrl-C reaches ivid alone, which then stops ffmpeg itself.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
