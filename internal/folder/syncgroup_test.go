package folder

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Callers that ask while an fsync runs share the next one, and none
// returns before an fsync that started after it asked has finished.
func TestSyncGroupShares(t *testing.T) {
	var g syncGroup
	g.cond.L = &g.mu
	var started, finished atomic.Int32
	gate := make(chan struct{})
	fsync := func() error {
		if started.Add(1) == 1 {
			<-gate // the first fsync runs until the others have asked
		}
		finished.Add(1)
		return nil
	}

	first := make(chan struct{})
	go func() { g.do(fsync); close(first) }()
	for started.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const later = 8
	var wg sync.WaitGroup
	for range later {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.do(fsync)
			// The first fsync started before this call: a second must
			// have finished.
			if n := finished.Load(); n < 2 {
				t.Errorf("returned after %d finished fsyncs, want the one started after the call", n)
			}
		}()
	}
	// Wait until every later caller is blocked in do.
	for {
		g.mu.Lock()
		n := g.asked
		g.mu.Unlock()
		if n == later+1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	<-first
	wg.Wait()
	if n := started.Load(); n != 2 {
		t.Errorf("%d fsyncs for %d callers, want 2: one running, one shared by the %d that asked meanwhile", n, later+1, later)
	}
}

// With no fsync running, each caller gets its own.
func TestSyncGroupAlone(t *testing.T) {
	var g syncGroup
	g.cond.L = &g.mu
	n := 0
	for range 3 {
		g.do(func() error { n++; return nil })
	}
	if n != 3 {
		t.Errorf("%d fsyncs for 3 calls in turn, want 3", n)
	}
}
