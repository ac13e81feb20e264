//go:build !unix

package main

import "time"

// cpuTime is not measured here; benches print zero CPU.
func cpuTime() time.Duration { return 0 }

// cpuTimes is not measured here either.
func cpuTimes() (self, children time.Duration) { return 0, 0 }
