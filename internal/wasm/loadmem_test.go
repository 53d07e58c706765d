package wasm

import (
	"runtime/debug"
	"testing"
)

func TestLimitLoadMemory(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(orig)
	for _, before := range []int64{1 << 40, LoadMemoryLimit / 2} {
		debug.SetMemoryLimit(before)
		want := min(before, LoadMemoryLimit)
		outer := LimitLoadMemory()
		inner := LimitLoadMemory() // an overlapping load
		if got := debug.SetMemoryLimit(-1); got != want {
			t.Errorf("limit %d while loading, want %d", got, want)
		}
		inner()
		if got := debug.SetMemoryLimit(-1); got != want {
			t.Errorf("limit %d while the other load goes on, want %d", got, want)
		}
		outer()
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("limit %d after loading, want %d as before", got, before)
		}
	}
}
