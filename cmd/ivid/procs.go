package main

import (
	"os"
	"runtime"
)

// serverProcs gives a server process one Go processor more than it has
// cores, unless $GOMAXPROCS says otherwise, and returns the cores, which is
// how many files its hashers take at once.
//
// A contribution's commit waits on the disk: fsyncs of the blobs and of
// the database's log, about a millisecond each. Go hands the processor of a
// goroutine blocked in a system call to another only when its monitor
// notices, which on a busy machine it does every 10 ms: syncs shorter than
// that keep a processor idle while hashers wait for it. On 2 cores the
// spare processor took 7 points off the contribution's overhead over
// hashing (bench ingest, 1600×1067 photos), and left the match API's
// throughput as it was (see the README).
func serverProcs() (cores int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	runtime.SetDefaultGOMAXPROCS() // the cores (or the container's limit), if raised before
	cores = runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(cores + 1)
	return cores
}

// clientProcs puts back the default processors, for a command that only
// hashes; the benches run both sides in one process.
func clientProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.SetDefaultGOMAXPROCS()
	}
}
