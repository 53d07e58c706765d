package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/samyfodil/wazy/sys"
)

// Limits bound the memory a file may take.
type Limits struct {
	// ChunkSize is the size of the chunks of whole lines handed to a
	// plugin per call; a longer line is handed over whole, alone.
	ChunkSize int
	// MaxLine is the longest line accepted, terminator excluded; a longer
	// one fails the file with ErrLineTooLong.
	MaxLine int
	// Workers is how many instances of a stateless plugin may work on the
	// chunks of one file at once; 1 runs every plugin on one instance.
	Workers int
}

// DefaultLimits are used where a limit is zero; Workers defaults to
// GOMAXPROCS, the cores the process may use.
var DefaultLimits = Limits{ChunkSize: 64 << 10, MaxLine: 16 << 20}

// ErrLineTooLong fails a file with a line longer than Limits.MaxLine.
var ErrLineTooLong = errors.New("line too long")

// StageStats are one plugin's figures for one file.
type StageStats struct {
	Plugin   string
	BytesIn  int64
	BytesOut int64
	Calls    int64
	Duration time.Duration // time spent inside the plugin
}

// StageError is a file failed in a plugin. Failure and Trap say how.
type StageError struct {
	Plugin string
	Err    error
}

func (e *StageError) Error() string { return fmt.Sprintf("plugin %s: %v", e.Plugin, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

// Run streams r through plugins in order, writing the last plugin's output
// to w. name is the file's base name, passed to each plugin's begin. With
// no plugins, r is copied to w. The returned stats have one entry per
// plugin, filled as far as the file got.
func Run(ctx context.Context, plugins []*Plugin, name string, r io.Reader, w io.Writer, lim Limits) ([]StageStats, error) {
	if lim.ChunkSize <= 0 {
		lim.ChunkSize = DefaultLimits.ChunkSize
	}
	if lim.MaxLine <= 0 {
		lim.MaxLine = DefaultLimits.MaxLine
	}
	if lim.Workers <= 0 {
		lim.Workers = runtime.GOMAXPROCS(0)
	}
	stats := make([]StageStats, len(plugins))
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	in := ctxReader{ctx, r}
	n, err := io.ReadFull(in, *buf)
	whole := err == io.EOF || err == io.ErrUnexpectedEOF // the file fits in buf
	if err != nil && !whole {
		return stats, err
	}

	// A file read whole in one go goes through the plugins in turn on
	// this goroutine: for a small file any hand-off would cost more than
	// it overlaps. A larger one runs each stateful plugin on a goroutine
	// of its own (pipes[i] feeds unit i), so the plugins of a chain run at
	// the same time on different cores; and each run of stateless plugins
	// as a segment, whose chunks go through several instance sets at once.
	var units []unit
	for i := 0; i < len(plugins); {
		j := i
		if !whole && lim.Workers > 1 {
			for j < len(plugins) && plugins[j].Stateless() {
				j++
			}
		}
		if j > i {
			units = append(units, newSegment(ctx, plugins[i:j], stats[i:j], name, lim))
			i = j
			continue
		}
		units = append(units, &stage{p: plugins[i], in: lines{lim: lim}, stats: &stats[i]})
		i++
	}
	for i, p := range plugins {
		stats[i].Plugin = p.Name()
	}
	pipes := make([]*pipe, len(units))
	var next io.Writer = w
	for i := len(units) - 1; i >= 0; i-- {
		units[i].setNext(next)
		next = units[i]
		// A segment needs no pipe before it (its workers are goroutines of
		// their own) nor after (its collector is).
		if i > 0 && !whole && !isSegment(units[i]) && !isSegment(units[i-1]) {
			pipes[i] = newPipe(units[i])
			next = pipes[i]
		}
	}
	defer func() {
		for _, p := range pipes {
			p.close() // No goroutine may touch an instance once released.
		}
		for _, u := range units {
			u.release() // In order: a segment stops writing downstream first.
		}
	}()
	// Downstream first, so a stage's begin output finds the next one ready.
	for i := len(units) - 1; i >= 0; i-- {
		if err := units[i].start(ctx, name); err != nil {
			return stats, err
		}
	}
	if n > 0 {
		if _, err := next.Write((*buf)[:n]); err != nil {
			return stats, firstError(err, pipes)
		}
	}
	if !whole {
		if _, err := io.CopyBuffer(next, in, *buf); err != nil {
			return stats, firstError(err, pipes)
		}
	}
	for i, u := range units {
		if err := pipes[i].close(); err != nil {
			return stats, firstError(err, pipes)
		}
		if err := u.finish(); err != nil {
			return stats, firstError(err, pipes)
		}
	}
	return stats, nil
}

// unit is one step of a chain: a stage (one plugin, one instance) or a
// segment (stateless plugins, several instance sets).
type unit interface {
	io.Writer
	setNext(io.Writer)
	start(ctx context.Context, name string) error
	finish() error // after the last Write
	release()      // always, last
}

// readBufs holds the buffers input is read with, one per file in flight,
// so small files do not each allocate and zero 64 KiB.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// firstError prefers the error of the stage that failed first: a failure
// downstream shows upstream as a failed write.
func firstError(err error, pipes []*pipe) error {
	if !errors.Is(err, errPipeFailed) {
		return err
	}
	for _, p := range pipes {
		if p == nil {
			continue
		}
		if perr := p.close(); perr != nil && !errors.Is(perr, errPipeFailed) {
			return perr
		}
	}
	return err
}

var errPipeFailed = errors.New("a later plugin failed")

// pipe is an io.Writer that hands copies of what is written to a
// goroutine writing them to dst, with a bounded number in flight.
type pipe struct {
	dst  io.Writer
	work chan []byte
	free chan []byte
	done chan struct{}
	mu   sync.Mutex
	err  error
	shut bool
}

const pipeDepth = 4 // buffers in flight per pipe

func newPipe(dst io.Writer) *pipe {
	p := &pipe{
		dst:  dst,
		work: make(chan []byte, pipeDepth),
		free: make(chan []byte, pipeDepth+1),
		done: make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *pipe) run() {
	defer close(p.done)
	for b := range p.work {
		if p.failure() == nil {
			if _, err := p.dst.Write(b); err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
			}
		}
		select {
		case p.free <- b[:0]:
		default:
		}
	}
}

func (p *pipe) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Write queues a copy of b; it fails once the goroutine has failed.
func (p *pipe) Write(b []byte) (int, error) {
	if p.failure() != nil {
		return 0, errPipeFailed
	}
	var c []byte
	select {
	case c = <-p.free:
	default:
	}
	p.work <- append(c, b...)
	return len(b), nil
}

// close waits until everything written has been handled and returns the
// goroutine's error. It may be called more than once.
func (p *pipe) close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if !p.shut {
		p.shut = true
		close(p.work)
	}
	p.mu.Unlock()
	<-p.done
	return p.failure()
}

// ctxReader stops reading when ctx is done, so a file can be abandoned
// between chunks. It also hides WriterTo so io.CopyBuffer uses the buffer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// stage feeds one plugin: it gathers written bytes into chunks of whole
// lines and writes what the plugin emits to next.
type stage struct {
	p          *Plugin
	inst       *instance
	ctx        context.Context
	cancel     context.CancelFunc // ends the file's calls
	cancelFile context.CancelFunc // the file's timeout, or nil
	next       io.Writer
	in         lines // what is written, cut into chunks
	stats      *StageStats
	broken     bool
	shared     bool // one of a segment's workers, which counts the file once
}

func (s *stage) setNext(w io.Writer) { s.next = w }

func (s *stage) start(ctx context.Context, name string) error {
	p := s.p
	s.in.plugin, s.in.send = p.Name(), s.chunk
	inst, err := p.acquire(ctx)
	if err != nil {
		return &StageError{Plugin: p.Name(), Err: err}
	}
	s.inst = inst
	inst.file = name
	if p.spec.Timeout > 0 {
		ctx, s.cancelFile = context.WithTimeout(ctx, p.spec.Timeout)
	}
	// The call timer cancels this context, which stops the call in
	// progress; so does the file's context (shutdown, file timeout).
	ctx, s.cancel = context.WithCancel(ctx)
	inst.timer = newCallTimer(p.spec.CallTimeout, s.cancel)
	inst.flush = s.forward
	s.ctx = inst.bind(ctx)
	if !s.shared {
		p.stats.Files.Add(1)
	}
	p.stats.Begins.Add(1)
	return s.call(func() error { return inst.send(s.ctx, inst.begin, []byte(name)) })
}

// call runs one plugin call and forwards the output it still holds.
func (s *stage) call(fn func() error) error {
	start := time.Now()
	err := fn()
	s.stats.Duration += time.Since(start)
	s.stats.Calls++
	if err == nil {
		err = s.inst.flushOut()
		if err != nil {
			return err // The next plugin or the output failed; not this one.
		}
		return nil
	}
	// Only a failure the plugin reported leaves it in a known state.
	var failure *Failure
	if !errors.As(err, &failure) {
		s.broken = true
	}
	s.inst.out = s.inst.out[:0]
	if s.inst.abort != nil && s.inst.abort == err {
		return err // Not this plugin's fault: a write downstream failed.
	}
	s.p.stats.Errors.Add(1)
	return &StageError{Plugin: s.p.Name(), Err: err}
}

// forward passes output of the plugin on to the next stage.
func (s *stage) forward(out []byte) error {
	s.stats.BytesOut += int64(len(out))
	s.p.stats.BytesOut.Add(int64(len(out)))
	_, err := s.next.Write(out)
	return err
}

func (s *stage) chunk(b []byte) error {
	if err := s.ctx.Err(); err != nil { // out of time, or abandoned
		return &StageError{Plugin: s.p.Name(), Err: err}
	}
	s.stats.BytesIn += int64(len(b))
	s.p.stats.BytesIn.Add(int64(len(b)))
	return s.call(func() error { return s.inst.send(s.ctx, s.inst.chunk, b) })
}

// Write gathers p and sends every full chunk of whole lines.
func (s *stage) Write(p []byte) (int, error) { return s.in.Write(p) }

// lines gathers written bytes and sends them on in chunks of whole lines
// of at most ChunkSize bytes (a longer line alone), failing a line over
// MaxLine.
type lines struct {
	lim     Limits
	plugin  string // the plugin the lines are for, named in errors
	send    func([]byte) error
	pending []byte
	box     *[]byte // pending's buffer from pendingBufs, until release
	scanned int     // bytes of pending past the chunk size known to hold no '\n'
}

// pendingBufs holds the buffers lines gather in, so that each stage of a
// small file does not allocate one: they were most of its garbage
// (BenchmarkRun, size=4KiB). A larger file's buffer costs little per byte
// and is not kept, as the pool would keep it past the file.
var pendingBufs = sync.Pool{New: func() any { return new([]byte) }}

const pendingKeep = 16 << 10 // the largest buffer given back

// release gives the buffer back if it is small.
func (c *lines) release() {
	if c.box != nil && cap(c.pending) <= pendingKeep {
		*c.box = c.pending[:0]
		pendingBufs.Put(c.box)
	}
	c.pending, c.box, c.scanned = nil, nil, 0
}

func (c *lines) Write(p []byte) (int, error) {
	// A previous plugin's output for one call is most often whole lines
	// of about a chunk: those go on as they are, without a copy into
	// pending. Smaller pieces are gathered, so that a plugin which keeps
	// few lines does not make the next one take many small chunks.
	if n := len(p); len(c.pending) == 0 && n >= c.lim.ChunkSize/2 && n <= c.lim.ChunkSize && p[n-1] == '\n' {
		if err := c.send(p); err != nil {
			return 0, err
		}
		return n, nil
	}
	if c.box == nil {
		c.box = pendingBufs.Get().(*[]byte) // a file's first gathered bytes
		c.pending = (*c.box)[:0]
	}
	c.pending = append(c.pending, p...)
	size := c.lim.ChunkSize
	for len(c.pending) >= size {
		cut := bytes.LastIndexByte(c.pending[:size], '\n') + 1
		if cut == 0 {
			// The first line is longer than a chunk: find its end.
			from := size + c.scanned
			j := bytes.IndexByte(c.pending[from:], '\n')
			if j < 0 {
				c.scanned = len(c.pending) - size
				if len(c.pending) > c.lim.MaxLine+2 { // room for "\r\n"
					return 0, c.tooLong()
				}
				return len(p), nil
			}
			cut = from + j + 1
			if lineLen(c.pending[:cut]) > c.lim.MaxLine {
				return 0, c.tooLong()
			}
		}
		if err := c.send(c.pending[:cut]); err != nil {
			return 0, err
		}
		c.pending = c.pending[:copy(c.pending, c.pending[cut:])]
		c.scanned = 0
	}
	return len(p), nil
}

// flush sends what is left: whole lines, and a last line that may lack
// its terminator.
func (c *lines) flush() error {
	if len(c.pending) == 0 {
		return nil
	}
	if i := bytes.LastIndexByte(c.pending, '\n'); lineLen(c.pending[i+1:]) > c.lim.MaxLine {
		return c.tooLong()
	}
	if err := c.send(c.pending); err != nil {
		return err
	}
	c.pending = c.pending[:0]
	c.scanned = 0
	return nil
}

func (c *lines) tooLong() error {
	return fmt.Errorf("input to plugin %s: %w: a line is over the maximum of %d bytes (limits.max_line)",
		c.plugin, ErrLineTooLong, c.lim.MaxLine)
}

func lineLen(line []byte) int {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return n
}

// finish sends what is left and ends the file.
func (s *stage) finish() error {
	if err := s.in.flush(); err != nil {
		return err
	}
	return s.call(func() error { return s.inst.status(s.ctx, s.inst.end) })
}

func (s *stage) release() {
	if s.inst == nil {
		return
	}
	s.cancel()
	if s.cancelFile != nil {
		s.cancelFile()
	}
	s.inst.timer.stop()
	if n := s.p.logLim.takeDropped(); n > 0 {
		s.p.noteDropped(context.Background(), n, []any{"file", Escape(s.inst.file)})
	}
	s.p.release(s.inst, s.broken)
	s.inst = nil
	s.in.release()
}

// IsTimeout reports whether err is a plugin that ran out of time.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var trap *Trap
	if !errors.As(err, &trap) {
		return false
	}
	var exit *sys.ExitError
	return errors.As(trap.Err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded
}
