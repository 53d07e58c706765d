package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// segment runs a run of consecutive stateless plugins (plugin_stateless,
// docs/ABI.md) over one file on up to Limits.Workers workers at once. The
// input is cut into jobs of whole lines; each worker holds an instance of
// every plugin of the segment and takes a job through all of them in turn
// on its own goroutine, so a big file uses every core, and the chunks pass
// from one plugin to the next with no hand-off. A collector writes the
// jobs' output on in input order.
//
// Workers start lazily, one more only when a job waits that no worker has
// taken, so a file that one worker keeps up with uses one instance of each
// plugin. At most segmentDepth jobs are in flight (plus one being written
// on and one being cut), which bounds the memory a file takes.
type segment struct {
	ctx     context.Context
	plugins []*Plugin
	stats   []StageStats // the segment's entries of Run's stats
	name    string
	lim     Limits
	next    io.Writer
	in      lines // cuts the input into jobs

	work      chan *job // jobs for the workers
	order     chan *job // the same jobs, in input order, for the collector
	free      chan *job // jobs done with, for reuse
	workers   int       // workers started; touched by the writing goroutine only
	wg        sync.WaitGroup
	collected chan struct{}
	started   bool // the collector runs
	stop      sync.Once

	mu  sync.Mutex
	err error
}

// segmentDepth is how many jobs a segment has in flight per worker.
const segmentDepth = 2

type job struct {
	in, out []byte
	done    chan struct{}
}

func isSegment(u unit) bool {
	_, ok := u.(*segment)
	return ok
}

func newSegment(ctx context.Context, plugins []*Plugin, stats []StageStats, name string, lim Limits) *segment {
	depth := segmentDepth * lim.Workers
	s := &segment{
		ctx:       ctx,
		plugins:   plugins,
		stats:     stats,
		name:      name,
		lim:       lim,
		work:      make(chan *job, depth),
		order:     make(chan *job, depth),
		free:      make(chan *job, depth+2),
		collected: make(chan struct{}),
	}
	s.in = lines{lim: lim, plugin: plugins[0].Name(), send: s.dispatch}
	return s
}

func (s *segment) setNext(w io.Writer) { s.next = w }

// start starts the collector; workers start with the first jobs.
func (s *segment) start(context.Context, string) error {
	for _, p := range s.plugins {
		p.stats.Files.Add(1)
	}
	s.started = true
	go s.collect()
	return nil
}

func (s *segment) Write(p []byte) (int, error) { return s.in.Write(p) }

func (s *segment) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail records the segment's first error; later jobs are skipped.
func (s *segment) fail(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// dispatch queues a copy of b, whole lines, as the next job.
func (s *segment) dispatch(b []byte) error {
	if err := s.failure(); err != nil {
		return err
	}
	var j *job
	select {
	case j = <-s.free:
	default:
		j = &job{}
	}
	j.in = append(j.in[:0], b...)
	j.out = j.out[:0]
	j.done = make(chan struct{})
	s.order <- j // Blocks while the segment has its fill of jobs.
	if s.workers == 0 || (s.workers < s.lim.Workers && len(s.work) > 0) {
		s.workers++
		s.wg.Add(1)
		go s.runWorker()
	}
	s.work <- j
	return nil
}

// collect writes each job's output on, in order, and recycles the job.
func (s *segment) collect() {
	defer close(s.collected)
	for j := range s.order {
		<-j.done
		if len(j.out) > 0 && s.failure() == nil {
			if _, err := s.next.Write(j.out); err != nil {
				s.fail(err)
			}
		}
		if cap(j.in) > 2*s.lim.ChunkSize || cap(j.out) > 2*s.lim.ChunkSize {
			continue // Not kept: grown by a long line.
		}
		select {
		case s.free <- j:
		default:
		}
	}
}

// finish sends the last job and waits for every job to be written on.
func (s *segment) finish() error {
	err := s.in.flush()
	s.shutdown()
	if err != nil {
		return err
	}
	return s.failure()
}

// release stops a segment that did not finish: the jobs left are skipped.
func (s *segment) release() {
	s.fail(errAbandoned)
	s.shutdown()
	s.in.release()
}

var errAbandoned = errors.New("file abandoned")

// shutdown ends the workers (each ends its file and releases its
// instances) and then the collector.
func (s *segment) shutdown() {
	s.stop.Do(func() {
		close(s.work)
		s.wg.Wait()
		close(s.order)
		if s.started {
			<-s.collected
		}
	})
}

// worker holds one instance of each of the segment's plugins, as stages
// linked to one another.
type worker struct {
	seg    *segment
	stages []*stage
	stats  []StageStats
	job    *job // in progress
}

func (s *segment) runWorker() {
	defer s.wg.Done()
	w := &worker{seg: s, stages: make([]*stage, len(s.plugins)), stats: make([]StageStats, len(s.plugins))}
	for i, p := range s.plugins {
		w.stages[i] = &stage{p: p, in: lines{lim: s.lim}, stats: &w.stats[i], shared: true}
	}
	for i, st := range w.stages {
		st.next = &link{w: w, from: i}
	}
	defer w.release()
	err := w.start()
	s.fail(err)
	for j := range s.work {
		if err == nil && s.failure() == nil {
			err = w.run(j)
			s.fail(err)
		}
		close(j.done)
	}
	if err == nil && s.failure() == nil {
		s.fail(w.end())
	}
}

// start begins the file on every instance, downstream first.
func (w *worker) start() error {
	for i := len(w.stages) - 1; i >= 0; i-- {
		if err := w.stages[i].start(w.seg.ctx, w.seg.name); err != nil {
			return err
		}
	}
	return nil
}

// run takes j through the plugins. Each plugin's output for the job goes
// to the next as whole lines, so the next gets the chunks it would in a
// one-instance chain, cut where the lines end.
func (w *worker) run(j *job) error {
	w.job = j
	defer func() { w.job = nil }()
	terminated := j.in[len(j.in)-1] == '\n' // Only a file's last job may not be.
	if err := w.stages[0].chunk(j.in); err != nil {
		return err
	}
	for i := 1; i < len(w.stages); i++ {
		in := &w.stages[i].in
		if terminated && len(in.pending) > 0 && in.pending[len(in.pending)-1] != '\n' {
			return w.partial(i - 1)
		}
		if err := in.flush(); err != nil {
			return err
		}
	}
	if terminated && len(j.out) > 0 && j.out[len(j.out)-1] != '\n' {
		return w.partial(len(w.stages) - 1)
	}
	return nil
}

// end ends the file on every instance, upstream first.
func (w *worker) end() error {
	for _, st := range w.stages {
		if err := st.call(func() error { return st.inst.status(st.ctx, st.inst.end) }); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) release() {
	for _, st := range w.stages {
		st.release()
	}
	w.seg.mu.Lock()
	defer w.seg.mu.Unlock()
	for i, st := range w.stats {
		t := &w.seg.stats[i]
		t.BytesIn += st.BytesIn
		t.BytesOut += st.BytesOut
		t.Calls += st.Calls
		t.Duration += st.Duration
	}
}

func (w *worker) partial(i int) error {
	return &StageError{Plugin: w.stages[i].p.Name(), Err: errors.New(
		"declares itself stateless (plugin_stateless) but its output for a chunk of whole lines ends in a partial line")}
}

// link carries a worker's plugin's output to the next plugin, or to the
// job's output after the last.
type link struct {
	w    *worker
	from int // the stage whose output this is
}

func (l *link) Write(b []byte) (int, error) {
	w := l.w
	if w.job == nil {
		return 0, &StageError{Plugin: w.stages[l.from].p.Name(), Err: fmt.Errorf(
			"declares itself stateless (plugin_stateless) but emitted output from plugin_begin or plugin_end")}
	}
	if l.from == len(w.stages)-1 {
		w.job.out = append(w.job.out, b...)
		return len(b), nil
	}
	return w.stages[l.from+1].in.Write(b)
}
