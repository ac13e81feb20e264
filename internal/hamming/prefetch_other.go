//go:build !amd64 && !arm64

package hamming

import "unsafe"

// prefetch does nothing where ivid has no prefetch instruction for it.
func prefetch(unsafe.Pointer) {}

func prefetchAll([]uintptr) {}
