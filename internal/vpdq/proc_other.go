//go:build !unix

package vpdq

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
