// Package clock is the time source of the watcher and the service, so that
// tests can move time on by hand instead of sleeping (settle, rescan,
// retry delays, grace).
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
	// NewTicker returns a ticker that ticks every d.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Ticker is a time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// Timer is a time.Timer made by AfterFunc.
type Timer interface {
	Stop() bool
}

// Real is the system clock.
var Real Clock = real{}

type real struct{}

func (real) Now() time.Time                            { return time.Now() }
func (real) After(d time.Duration) <-chan time.Time    { return time.After(d) }
func (real) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }
func (real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time   { return t.t.C }
func (t realTicker) Stop()                 { t.t.Stop() }
func (t realTicker) Reset(d time.Duration) { t.t.Reset(d) }

// Fake is a clock that moves only when Advance is called. Its zero value
// is not usable: make one with NewFake.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter
	// waiting is signalled when a timer or ticker is made.
	waiting chan struct{}
}

type waiter struct {
	at     time.Time
	every  time.Duration // > 0 for a ticker
	ch     chan time.Time
	f      func()
	fake   *Fake
	active bool
}

// NewFake returns a fake clock set at now.
func NewFake(now time.Time) *Fake {
	return &Fake{now: now, waiting: make(chan struct{}, 1)}
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Fake) add(w *waiter) {
	c.mu.Lock()
	w.fake, w.active = c, true
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	select {
	case c.waiting <- struct{}{}:
	default:
	}
}

// After returns a channel that receives once the clock passes d from now.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	w := &waiter{at: c.Now().Add(d), ch: make(chan time.Time, 1)}
	c.add(w)
	return w.ch
}

// NewTicker returns a ticker driven by Advance.
func (c *Fake) NewTicker(d time.Duration) Ticker {
	w := &waiter{at: c.Now().Add(d), every: d, ch: make(chan time.Time, 1)}
	c.add(w)
	return fakeTicker{w}
}

type fakeTicker struct{ *waiter }

func (t fakeTicker) Stop() { t.waiter.Stop() }

// AfterFunc calls f once the clock passes d from now.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	w := &waiter{at: c.Now().Add(d), f: f}
	c.add(w)
	return w
}

// Advance moves the clock on by d, firing every timer and ticker due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var fire []func()
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.active {
			continue
		}
		if w.at.After(now) {
			keep = append(keep, w)
			continue
		}
		switch {
		case w.f != nil:
			w.active = false
			fire = append(fire, w.f)
		case w.every > 0:
			for !w.at.After(now) {
				w.at = w.at.Add(w.every)
			}
			select {
			case w.ch <- now:
			default: // a tick is pending, as with time.Ticker
			}
			keep = append(keep, w)
		default:
			w.active = false
			w.ch <- now
		}
	}
	c.waiters = keep
	c.mu.Unlock()
	for _, f := range fire {
		go f()
	}
}

// Waiting returns a channel that receives when a timer or ticker is made,
// so a test can wait for the code under test to arm one before advancing.
func (c *Fake) Waiting() <-chan struct{} { return c.waiting }

func (w *waiter) C() <-chan time.Time { return w.ch }

func (w *waiter) Stop() bool {
	w.fake.mu.Lock()
	defer w.fake.mu.Unlock()
	was := w.active
	w.active = false
	return was
}

func (w *waiter) Reset(d time.Duration) {
	c := w.fake
	c.mu.Lock()
	w.at, w.every = c.now.Add(d), d
	if !w.active {
		w.active = true
		c.waiters = append(c.waiters, w)
	}
	c.mu.Unlock()
}
