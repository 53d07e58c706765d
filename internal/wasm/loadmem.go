package wasm

import (
	"runtime/debug"
	"sync"
)

// LoadMemoryLimit is the soft limit on the Go runtime's memory while any
// plugin loads. Compiling a Go plugin (a cold compilation cache) keeps
// 30-40 MiB of compiler state live, and with the collector's default
// pacing the heap grows to twice what is live before it collects: two
// compiles at a time took the shipped pipeline's first run to 116-122 MiB
// of RSS. Under this limit the collector runs sooner instead: that first
// run peaks at 98 MiB in the same time, a warm start allocates too little
// to reach it, and ten plugins compiling cost about 1.3x the CPU (the
// collector runs often while two compiles hold more than the limit);
// docs/BENCHMARKS.md. A lower limit already set (GOMEMLIMIT) is kept.
const LoadMemoryLimit = 60 << 20

var loadLimit struct {
	sync.Mutex
	loads int   // loads in progress
	prev  int64 // the limit before the first of them
}

// LimitLoadMemory applies LoadMemoryLimit until the returned function is
// called, counting loads that overlap so that the last one restores the
// limit from before the first, and collects. Load calls it; a caller
// loading several plugins one after another holds it around them all, so
// that they share one collection at the end.
func LimitLoadMemory() (restore func()) {
	loadLimit.Lock()
	defer loadLimit.Unlock()
	if loadLimit.loads == 0 {
		loadLimit.prev = debug.SetMemoryLimit(-1)
		if loadLimit.prev > LoadMemoryLimit {
			debug.SetMemoryLimit(LoadMemoryLimit)
		}
	}
	loadLimit.loads++
	return func() {
		loadLimit.Lock()
		defer loadLimit.Unlock()
		if loadLimit.loads--; loadLimit.loads == 0 {
			debug.SetMemoryLimit(loadLimit.prev)
			// Collect the compilers' garbage now: the collector paces
			// the next cycle by what was live at the last one, which
			// may have been mid-compile, and would let the first big
			// file's buffers grow the heap to twice that.
			debug.FreeOSMemory()
		}
	}
}
