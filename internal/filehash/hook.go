package filehash

import "sync/atomic"

// testHookDecode, if set by a test, runs at the start of every image's
// decoding with the file's name. Atomic: a test resets it while decodings
// it abandoned may still be running.
var testHookDecode atomic.Pointer[func(name string)]
