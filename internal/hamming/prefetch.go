//go:build amd64 || arm64

package hamming

import "unsafe"

// prefetch asks the processor to bring the cache line holding p closer,
// without waiting for it. A query's reads are random and independent;
// requesting them well ahead keeps many memory reads in flight, which
// out-of-order execution alone does not (measured at 10 M uniform codes,
// radius 31: p50 240 -> 126 µs). It never faults, whatever p.
//
//go:noescape
func prefetch(p unsafe.Pointer)

// prefetchAll prefetches every address, in one call: a call clobbers the
// caller's registers, so one per address would cost more than the
// prefetch saves.
//
//go:noescape
func prefetchAll(addrs []uintptr)
