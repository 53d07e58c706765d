package folder

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// syncDir makes the entries of the subfolder h durable. With
// Options.Group, callers that ask while an fsync of it is running wait for
// the next one, which then covers them all: group commit, so many files in
// flight cost a few fsyncs, not one each.
func (f *Folder) syncDir(d *dirs, h *handle) error {
	if f.opts.NoSync {
		return nil
	}
	if f.opts.Group {
		return f.syncs.of(h.fd).do(func() error { return f.fsync(d, h) })
	}
	return f.fsync(d, h)
}

func (f *Folder) fsync(d *dirs, h *handle) error {
	var reaped []string
	if h == &d.underprocess && f.opts.Group {
		reaped = f.reap.take() // before the fsync, which then covers them
	}
	err := f.sys.fsyncDir(h.fd)
	for _, tmp := range reaped {
		_ = unix.Unlinkat(d.processed.fd, tmp, 0)
	}
	return err
}

// deferring reports whether a committed result's temp name waits for the
// next fsync of underprocess/ instead of one of its own.
func (f *Folder) deferring() bool { return f.opts.Group && !f.opts.NoSync }

// reapAfter bounds how long a committed file's temp name stays when no
// other fsync of underprocess/ comes along.
const reapAfter = 100 * time.Millisecond

// reaper holds the temp names of committed results whose inputs' removal
// from underprocess/ is not yet known to be durable.
type reaper struct {
	mu    sync.Mutex
	temps []string
	timer *time.Timer
}

func (r *reaper) add(f *Folder, d *dirs, tmp string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.temps = append(r.temps, tmp)
	if r.timer == nil {
		r.timer = time.AfterFunc(reapAfter, func() { _ = f.syncDir(d, &d.underprocess) })
	}
}

// take returns the temp names added so far; an fsync of underprocess/
// that starts after take covers their inputs' removal.
func (r *reaper) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	temps := r.temps
	r.temps = nil
	return temps
}

// Flush makes pending removals durable and removes the temp names they
// hold back. Close calls it.
func (f *Folder) Flush() {
	if !f.deferring() {
		return
	}
	f.mu.Lock()
	d := f.d
	f.mu.Unlock()
	if d != nil {
		_ = f.syncDir(d, &d.underprocess)
	}
}

// sharedSyncs holds a syncGroup per directory descriptor.
type sharedSyncs struct {
	mu     sync.Mutex
	groups map[int]*syncGroup
}

func (s *sharedSyncs) of(fd int) *syncGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[fd]
	if !ok {
		if s.groups == nil {
			s.groups = map[int]*syncGroup{}
		}
		g = &syncGroup{}
		g.cond.L = &g.mu
		s.groups[fd] = g
	}
	return g
}

// syncGroup runs one fsync at a time for every caller of do: a caller
// returns once an fsync that started after it called has finished, with
// that fsync's error.
type syncGroup struct {
	mu      sync.Mutex
	cond    sync.Cond
	asked   uint64 // calls so far
	covered uint64 // calls covered by a finished fsync
	running bool
	err     error // of the last finished fsync
}

func (g *syncGroup) do(fsync func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked++
	me := g.asked
	for g.covered < me {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		upto := g.asked // every call so far is made before this fsync starts
		g.mu.Unlock()
		err := fsync()
		g.mu.Lock()
		g.running = false
		g.covered = upto
		g.err = err
		g.cond.Broadcast()
	}
	return g.err
}
