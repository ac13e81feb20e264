//go:build !unix

package main

import "time"

// cpuTime is not measured here; benches print zero CPU.
func cpuTime() time.Duration { return 0 }
