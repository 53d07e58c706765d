package wasm

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The default limits of a plugin (docs/ABI.md, "Limits"). They are the one
// source for these values: the host's config uses them for unset keys.
const (
	// DefaultMaxMemory caps an instance's linear memory.
	DefaultMaxMemory = 1 << 30
	// MaxMemoryLimit is the largest max_memory: 65535 pages. A memory of
	// 65536 pages (4 GiB) has a byte length that no 32-bit size holds, and
	// every access to it traps, so 4 GiB is rounded down to this.
	MaxMemoryLimit = 65535 * pageSize
	// DefaultCallTimeout bounds one call into a plugin, load-time calls
	// (start function, _initialize, plugin_abi_version, plugin_configure)
	// included. A call handles one chunk of at most chunk_size bytes (or one
	// long line), so it normally takes milliseconds; the default leaves room
	// for plugin_end of a plugin that gathers a whole large file.
	DefaultCallTimeout = 30 * time.Second
	// DefaultMaxOutput caps what one plugin emits for one file.
	DefaultMaxOutput = 16 << 30
	// DefaultMaxTable caps the elements of each table (a Go plugin's
	// function table has a few thousand; wazy stores 8 bytes each).
	DefaultMaxTable = 1 << 20
	// DefaultLogRate is how many log lines a plugin may write per second,
	// with a burst of as many; the rest are dropped and counted.
	DefaultLogRate = 100
	// DefaultMaxLogMessage is the longest log message kept; the rest of a
	// longer one is cut.
	DefaultMaxLogMessage = 4 << 10
)

const pageSize = 65536

// flushAt is how much output a call may hold before it is passed on while
// the call runs: a plugin that emits a lot in one call costs the host at
// most this much memory per stage.
const flushAt = 1 << 20

// LimitError is a plugin call stopped for going over one of its limits.
// The instance is discarded, as after a trap.
type LimitError struct {
	Key string // the config key of the limit, e.g. "call_timeout"
	Msg string
}

func (e *LimitError) Error() string { return fmt.Sprintf("%s (%s)", e.Msg, e.Key) }

// callTimer is the time limit of the calls into one instance: Start arms
// it before a call and Stop disarms it after; if the limit passes in
// between, it cancels the context the call runs with, which interrupts the
// plugin wherever it is. One timer serves all the calls of a file, so a
// call costs a timer reset, not a new context.
type callTimer struct {
	limit time.Duration
	t     *time.Timer
	fired atomic.Bool
	once  chan struct{} // one token each time the timer fires
	armed bool          // between start and stop
}

func newCallTimer(limit time.Duration, cancel func()) *callTimer {
	ct := &callTimer{limit: limit, once: make(chan struct{}, 1)}
	if limit > 0 {
		ct.t = time.AfterFunc(time.Hour, func() {
			ct.fired.Store(true)
			cancel()
			ct.once <- struct{}{}
		})
		ct.t.Stop()
	}
	return ct
}

func (ct *callTimer) start() {
	if ct != nil && ct.t != nil {
		ct.armed = true
		ct.t.Reset(ct.limit)
	}
}

// stop disarms the timer and reports whether the limit has passed. A timer
// that fired while the call was returning has cancelled the context, or is
// about to: stop waits for that, so the answer is never stale.
func (ct *callTimer) stop() bool {
	if ct == nil || ct.t == nil || !ct.armed {
		return ct != nil && ct.fired.Load()
	}
	ct.armed = false
	if !ct.t.Stop() {
		<-ct.once
		return true
	}
	return ct.fired.Load()
}

// MemoryBudget is the host-wide budget of linear memory that every
// instance of every plugin reserves from: at instantiation for its initial
// memory and at each memory.grow for the growth. A reservation that does
// not fit fails (the grow returns -1 in the plugin, an instance is not
// made), so the sum of the instances' memories never passes the budget and
// the kernel never has to kill the host for it.
type MemoryBudget struct {
	limit uint64
	used  atomic.Uint64
}

// NewMemoryBudget returns a budget of limit bytes; 0 means no limit.
func NewMemoryBudget(limit uint64) *MemoryBudget { return &MemoryBudget{limit: limit} }

// Limit is the budget in bytes, 0 for none.
func (b *MemoryBudget) Limit() uint64 { return b.limit }

// Used is how many bytes the live instances hold.
func (b *MemoryBudget) Used() uint64 { return b.used.Load() }

func (b *MemoryBudget) reserve(n uint64) bool {
	if b == nil || n == 0 {
		return true
	}
	for {
		used := b.used.Load()
		if b.limit > 0 && used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// force reserves n bytes even past the limit and reports whether the
// budget still holds.
func (b *MemoryBudget) force(n uint64) bool {
	if b == nil {
		return true
	}
	used := b.used.Add(n)
	return b.limit == 0 || used <= b.limit
}

func (b *MemoryBudget) release(n uint64) {
	if b != nil && n > 0 {
		b.used.Add(^(n - 1))
	}
}

// DefaultMemoryBudget is the default budget: half the machine's physical
// memory, which leaves the other half to the host itself, the page cache
// and everything else; 4 GiB where the size is unknown.
func DefaultMemoryBudget() uint64 {
	if total := totalMemory(); total > 0 {
		return total / 2 / pageSize * pageSize
	}
	return 4 << 30
}

// ErrMemoryBudget fails a file when the host's memory budget for all
// plugin instances (limits.memory_budget) is used up. It is worth another
// try later: other files give memory back as they finish.
var ErrMemoryBudget = errors.New("the host's memory budget for plugins is used up (limits.memory_budget)")

// logLimiter is a plugin's log rate limit: a token bucket of rate lines a
// second, with a burst of as many, shared by the plugin's instances.
type logLimiter struct {
	mu      sync.Mutex
	rate    float64 // lines per second, <= 0 for no limit
	tokens  float64
	last    time.Time
	dropped int64
	now     func() time.Time
}

func newLogLimiter(rate int, now func() time.Time) *logLimiter {
	return &logLimiter{rate: float64(rate), tokens: float64(rate), now: now, last: now()}
}

// allow reports whether a line may be logged now and how many lines were
// dropped before it since the last one that was (to be noted once).
func (l *logLimiter) allow() (ok bool, dropped int64) {
	if l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// takeDropped returns and clears the count of lines dropped and not yet
// noted, for the note at the end of a file.
func (l *logLimiter) takeDropped() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.dropped
	l.dropped = 0
	return d
}
