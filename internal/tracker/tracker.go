// Package tracker keeps the in-memory state of every file the host has
// seen: queued, processing (with bytes done), processed or failed, with
// timings per plugin, running totals, throughput and the last processed
// file. History is bounded so memory stays flat over millions of files;
// totals keep counting. Subscribers receive every change as an event.
package tracker

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// State is where a file is in its life.
type State string

// The states, in order.
const (
	Queued     State = "queued"
	Processing State = "processing"
	Processed  State = "processed"
	Failed     State = "failed"
)

// Stage is one plugin's part in processing a file.
type Stage struct {
	Plugin   string        `json:"plugin"`
	BytesIn  int64         `json:"bytes_in"`
	BytesOut int64         `json:"bytes_out"`
	Duration time.Duration `json:"duration_ns"`
}

// File is one file's record. Records handed out are copies.
type File struct {
	ID        uint64    `json:"id"`
	Folder    string    `json:"folder"`
	Name      string    `json:"name"`
	State     State     `json:"state"`
	Pipeline  string    `json:"pipeline,omitempty"`
	Size      int64     `json:"size"`
	BytesDone int64     `json:"bytes_done"`
	BytesOut  int64     `json:"bytes_out"`
	Queued    time.Time `json:"queued"`
	Started   time.Time `json:"started,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	Output    string    `json:"output,omitempty"` // result in processed/, or the original in failed/
	Error     string    `json:"error,omitempty"`
	Plugin    string    `json:"plugin,omitempty"` // plugin at fault
	Attempts  int       `json:"attempts"`
	Stages    []Stage   `json:"stages,omitempty"`
	// Retried is set on a failed file sent back to unprocessed/ for
	// another try; the new try gets a record of its own.
	Retried bool `json:"retried,omitempty"`
	// Rebuilt is set on a record restored from the folders at start.
	Rebuilt bool `json:"restored,omitempty"`
}

// Restored reports whether the record was rebuilt from the folders at
// start rather than seen finishing.
func (f *File) Restored() bool { return f.Rebuilt }

// Duration is the processing time of a finished file, or the time so far.
func (f File) Duration(now time.Time) time.Duration {
	if f.Started.IsZero() {
		return 0
	}
	if f.Finished.IsZero() {
		return now.Sub(f.Started)
	}
	return f.Finished.Sub(f.Started)
}

// Event is a change: a file's new record, or its removal from the
// tracker (Removed: a queued file that vanished or was handed back, or a
// finished record forgotten).
type Event struct {
	Seq     uint64 `json:"seq"`
	File    File   `json:"file"`
	Removed bool   `json:"removed,omitempty"`
}

// Totals count since the tracker started.
type Totals struct {
	Queued     int   `json:"queued"`
	Processing int   `json:"processing"`
	Processed  int64 `json:"processed"`
	Failed     int64 `json:"failed"`
	Retried    int64 `json:"retried"`
	// BytesIn counts what was read of every finished file, failed ones
	// included; BytesOut what was written as results.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// InFailed is how many failed files the tracker holds that are still
	// in failed/: restored at start or failed since, not retried, deleted
	// or evicted from history.
	InFailed int `json:"in_failed"`
	// Restored is how many records Restore rebuilt from the folders at
	// start. They are in history, not in the counts since start.
	Restored int `json:"restored"`
}

// PluginFigures are one plugin's figures over the files it handled.
type PluginFigures struct {
	Name     string        `json:"name"`
	Files    int64         `json:"files"`
	Errors   int64         `json:"errors"`
	BytesIn  int64         `json:"bytes_in"`
	BytesOut int64         `json:"bytes_out"`
	P50      time.Duration `json:"p50_ns"`
	P95      time.Duration `json:"p95_ns"`
}

// PipelineFigures are one pipeline's figures over the files it finished
// since start.
type PipelineFigures struct {
	Name     string        `json:"name"`
	Files    int64         `json:"files"` // processed and failed
	Failed   int64         `json:"failed"`
	BytesIn  int64         `json:"bytes_in"`
	BytesOut int64         `json:"bytes_out"`
	P50      time.Duration `json:"p50_ns"` // processing time of a file
	P95      time.Duration `json:"p95_ns"`
}

// Point is one second of throughput: files finished (processed or
// failed) and the bytes read from them.
type Point struct {
	Time  time.Time `json:"time"`
	Files int64     `json:"files"`
	Bytes int64     `json:"bytes"`
}

// Tracker is safe for concurrent use.
type Tracker struct {
	mu        sync.Mutex
	now       func() time.Time
	nextID    uint64
	seq       uint64
	active    map[uint64]*File // queued and processing
	history   []*File          // finished, oldest first, at most limit
	kept      map[State]int    // finished files in history, by state
	byID      map[uint64]*File // active and history
	limit     int
	last      *File
	totals    Totals
	plugins   map[string]*pluginAcc
	pipelines map[string]*pipelineAcc
	rate      [rateWindow]Point
	subs      map[chan Event]struct{}
	lastPub   map[uint64]time.Time // last progress event per file
}

const (
	rateWindow    = 60 * 60 // seconds of throughput kept: the chart's longest range
	reservoirSize = 1024    // recent durations kept per plugin and pipeline for percentiles
	progressEvery = 200 * time.Millisecond
	// RateWindow is the sliding window of the "now" rates (View.Rate).
	RateWindow = 10 * time.Second
)

type pluginAcc struct {
	PluginFigures
	durations reservoir
}

type pipelineAcc struct {
	PipelineFigures
	durations reservoir
}

// reservoir keeps the last reservoirSize durations, for percentiles.
type reservoir struct {
	d    []time.Duration
	next int
}

func (r *reservoir) add(d time.Duration) {
	if len(r.d) < reservoirSize {
		r.d = append(r.d, d)
		return
	}
	r.d[r.next] = d
	r.next = (r.next + 1) % reservoirSize
}

func (r *reservoir) percentiles() (p50, p95 time.Duration) {
	d := slices.Clone(r.d)
	slices.Sort(d)
	if n := len(d); n > 0 {
		return d[(n-1)*50/100], d[(n-1)*95/100]
	}
	return 0, 0
}

// DefaultHistory is how many finished files a tracker keeps when New is
// given 0 (the host's run.history default).
const DefaultHistory = 10000

// New returns a tracker that keeps the last history finished files.
func New(history int) *Tracker {
	if history <= 0 {
		history = DefaultHistory
	}
	return &Tracker{
		now:       time.Now,
		active:    map[uint64]*File{},
		byID:      map[uint64]*File{},
		kept:      map[State]int{},
		limit:     history,
		plugins:   map[string]*pluginAcc{},
		pipelines: map[string]*pipelineAcc{},
		subs:      map[chan Event]struct{}{},
		lastPub:   map[uint64]time.Time{},
	}
}

// SetClock replaces the tracker's clock, for tests that step time.
func (t *Tracker) SetClock(now func() time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now
}

// Queue records a file waiting in folder and returns its id.
func (t *Tracker) Queue(folder, name string, size int64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	f := &File{ID: t.nextID, Folder: folder, Name: name, State: Queued, Size: size, Queued: t.now()}
	t.active[f.ID] = f
	t.byID[f.ID] = f
	t.totals.Queued++
	t.publish(f, false)
	return f.ID
}

// Remove forgets a queued file that will not be processed now (it
// vanished, or the host is stopping).
func (t *Tracker) Remove(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.active[id]
	if !ok {
		return
	}
	t.leave(f)
	delete(t.active, id)
	delete(t.byID, id)
	delete(t.lastPub, id)
	t.publish(f, true)
}

// Start marks a file as processing in pipeline, attempt n.
func (t *Tracker) Start(id uint64, pipeline string, size int64, attempt int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.active[id]
	if !ok {
		return
	}
	if attempt > 1 {
		t.totals.Retried++
	}
	t.leave(f)
	f.State, f.Pipeline, f.Size, f.Attempts = Processing, pipeline, size, attempt
	f.BytesDone, f.Started = 0, t.now()
	t.totals.Processing++
	t.publish(f, false)
}

// Progress records bytes read so far; events are sent at most every
// 200ms per file.
func (t *Tracker) Progress(id uint64, done int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.active[id]
	if !ok {
		return
	}
	f.BytesDone = done
	now := t.now()
	if now.Sub(t.lastPub[id]) >= progressEvery {
		t.lastPub[id] = now
		t.publish(f, false)
	}
}

// Result is how a file ended.
type Result struct {
	Output   string
	BytesIn  int64
	BytesOut int64
	Stages   []Stage
	Err      error  // nil when processed
	Plugin   string // plugin at fault
}

// Finish records the end of a file.
func (t *Tracker) Finish(id uint64, r Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.active[id]
	if !ok {
		return
	}
	t.leave(f)
	delete(t.active, id)
	delete(t.lastPub, id)
	now := t.now()
	if f.Started.IsZero() {
		f.Started = now
	}
	f.Finished, f.Output, f.Stages, f.Plugin = now, r.Output, r.Stages, r.Plugin
	f.BytesDone, f.BytesOut = r.BytesIn, r.BytesOut
	t.totals.BytesIn += r.BytesIn
	t.totals.BytesOut += r.BytesOut
	if r.Err != nil {
		f.State, f.Error = Failed, r.Err.Error()
		t.totals.Failed++
	} else {
		f.State = Processed
		t.totals.Processed++
		t.last = f
	}
	b := t.bucket(now)
	b.Files++
	b.Bytes += r.BytesIn
	if f.Pipeline != "" {
		acc := t.pipelines[f.Pipeline]
		if acc == nil {
			acc = &pipelineAcc{PipelineFigures: PipelineFigures{Name: f.Pipeline}}
			t.pipelines[f.Pipeline] = acc
		}
		acc.Files++
		acc.BytesIn += r.BytesIn
		acc.BytesOut += r.BytesOut
		if r.Err != nil {
			acc.Failed++
		}
		acc.durations.add(f.Duration(now))
	}
	for _, s := range r.Stages {
		acc := t.plugins[s.Plugin]
		if acc == nil {
			acc = &pluginAcc{PluginFigures: PluginFigures{Name: s.Plugin}}
			t.plugins[s.Plugin] = acc
		}
		acc.Files++
		acc.BytesIn += s.BytesIn
		acc.BytesOut += s.BytesOut
		acc.durations.add(s.Duration)
	}
	if r.Plugin != "" {
		if acc := t.plugins[r.Plugin]; acc != nil {
			acc.Errors++
		}
	}
	t.keep(f)
	t.publish(f, false)
}

// MarkRetried records that a failed file was sent back for another try.
func (t *Tracker) MarkRetried(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.byID[id]
	if !ok || f.State != Failed || f.Retried {
		return
	}
	f.Retried = true
	t.totals.InFailed--
	t.publish(f, false)
}

// keep appends a finished record to history, evicting the oldest past
// the limit.
func (t *Tracker) keep(f *File) {
	t.history = append(t.history, f)
	t.kept[f.State]++
	if f.State == Failed && !f.Retried {
		t.totals.InFailed++
	}
	if len(t.history) > t.limit {
		old := t.history[0]
		t.unkeep(old)
		t.history[0] = nil
		t.history = t.history[1:]
	}
}

// unkeep takes a record that leaves history out of the counts and the
// index.
func (t *Tracker) unkeep(old *File) {
	t.kept[old.State]--
	if old.State == Failed && !old.Retried {
		t.totals.InFailed--
	}
	if t.byID[old.ID] == old {
		delete(t.byID, old.ID)
	}
	if t.last == old {
		t.last = nil
	}
}

// Restore adds finished records rebuilt from the folders at start (the
// files in failed/ with their reports, the results in processed/), in any
// order. Each gets a new id; their State must be Processed or Failed,
// others are skipped. They join history by their Finished time, older
// than anything finished since start, within the history limit (the
// newest are kept), and are not counted in the totals since start. The
// newest processed one becomes Last if nothing was processed yet.
func (t *Tracker) Restore(files []File) {
	t.mu.Lock()
	defer t.mu.Unlock()
	recs := make([]*File, 0, len(files))
	for _, f := range files {
		if f.State != Processed && f.State != Failed {
			continue
		}
		c := copyFile(&f)
		c.Rebuilt = true
		recs = append(recs, &c)
	}
	slices.SortStableFunc(recs, func(a, b *File) int { return a.Finished.Compare(b.Finished) })
	if room := t.limit - len(t.history); len(recs) > room {
		recs = recs[len(recs)-max(room, 0):]
	}
	for _, f := range recs {
		t.nextID++
		f.ID = t.nextID
		t.byID[f.ID] = f
		t.kept[f.State]++
		if f.State == Failed && !f.Retried {
			t.totals.InFailed++
		}
		t.totals.Restored++
		if f.State == Processed && (t.last == nil || t.last.Restored() && f.Finished.After(t.last.Finished)) {
			t.last = f
		}
		t.publish(f, false)
	}
	t.history = append(recs, t.history...)
}

// Forget removes a finished record from history: its file was deleted
// from failed/ (or dismissed). It reports whether the record was kept.
func (t *Tracker) Forget(id uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.byID[id]
	if !ok || (f.State != Processed && f.State != Failed) {
		return false
	}
	i := slices.Index(t.history, f)
	if i < 0 {
		return false
	}
	t.unkeep(f)
	t.history = slices.Delete(t.history, i, i+1)
	t.publish(f, true)
	return true
}

// leave takes f out of its current state's count.
func (t *Tracker) leave(f *File) {
	switch f.State {
	case Queued:
		t.totals.Queued--
	case Processing:
		t.totals.Processing--
	}
}

func (t *Tracker) bucket(now time.Time) *Point {
	sec := now.Truncate(time.Second)
	b := &t.rate[sec.Unix()%rateWindow]
	if !b.Time.Equal(sec) {
		*b = Point{Time: sec}
	}
	return b
}

// publish sends f's record to every subscriber. A subscriber whose buffer
// is full is dropped (its channel closed) rather than slowing the host; it
// can subscribe again and reload a snapshot.
func (t *Tracker) publish(f *File, removed bool) {
	t.seq++
	if len(t.subs) == 0 {
		return
	}
	ev := Event{Seq: t.seq, File: copyFile(f), Removed: removed}
	for ch := range t.subs {
		select {
		case ch <- ev:
		default:
			delete(t.subs, ch)
			close(ch)
		}
	}
}

// Subscribe returns a channel of events with room for buffer of them, and
// a function to stop. The channel is closed when the subscriber falls
// behind or stops.
func (t *Tracker) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	t.mu.Lock()
	t.subs[ch] = struct{}{}
	t.mu.Unlock()
	return ch, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if _, ok := t.subs[ch]; ok {
			delete(t.subs, ch)
			close(ch)
		}
	}
}

// Subscribers reports how many subscribers are listening.
func (t *Tracker) Subscribers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

func copyFile(f *File) File {
	c := *f
	c.Stages = slices.Clone(f.Stages)
	return c
}

// Snapshot is the tracker's state at one moment.
type Snapshot struct {
	Seq    uint64 `json:"seq"` // events up to this one are included
	Totals Totals `json:"totals"`
	Last   *File  `json:"last,omitempty"` // last processed file
}

// Snapshot returns the totals and the last processed file.
func (t *Tracker) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{Seq: t.seq, Totals: t.totals}
	if t.last != nil {
		l := copyFile(t.last)
		s.Last = &l
	}
	return s
}

// Get returns a file's record, if it is still kept.
func (t *Tracker) Get(id uint64) (File, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.byID[id]
	if !ok {
		return File{}, false
	}
	return copyFile(f), true
}

// Filter selects records for Query. Empty fields match everything.
type Filter struct {
	State    State
	Name     string // a case-insensitive part of the file name
	Pipeline string // exact
	Folder   string // exact
}

func (q *Filter) match(f *File, lowerName string) bool {
	return (q.State == "" || f.State == q.State) &&
		(q.Pipeline == "" || f.Pipeline == q.Pipeline) &&
		(q.Folder == "" || f.Folder == q.Folder) &&
		(lowerName == "" || strings.Contains(strings.ToLower(f.Name), lowerName))
}

// Files returns the records in state (all states if ""), at most limit
// (0: no limit) from offset, and how many there are in all. See Query.
func (t *Tracker) Files(state State, offset, limit int) ([]File, int) {
	return t.Query(Filter{State: state}, offset, limit)
}

// Query returns the records that match q, at most limit (0: no limit)
// from offset, and how many match in all. Queued and processing files
// come first, oldest first; then finished files, newest first. Without a
// name, pipeline or folder the cost grows with offset+limit; with one,
// every record kept is looked at once.
func (t *Tracker) Query(q Filter, offset, limit int) ([]File, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	offset = max(offset, 0)
	name := strings.ToLower(q.Name)
	narrow := name != "" || q.Pipeline != "" || q.Folder != ""
	var active []*File
	nActive := 0
	if q.State == "" || q.State == Queued || q.State == Processing {
		keep := math.MaxInt // the first offset+limit are enough
		if limit > 0 {
			keep = offset + limit
		}
		active, nActive = smallest(t.active, func(f *File) bool { return q.match(f, name) }, keep)
	}
	finished := q.State == "" || q.State == Processed || q.State == Failed
	total := nActive
	switch {
	case !finished:
	case narrow:
		for _, f := range t.history {
			if q.match(f, name) {
				total++
			}
		}
	case q.State == "":
		total += len(t.history)
	default:
		total += t.kept[q.State]
	}
	want := max(total-offset, 0)
	if limit > 0 {
		want = min(want, limit)
	}
	out := make([]File, 0, want)
	skip := offset
	for _, f := range active {
		if len(out) == want {
			return out, total
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, copyFile(f))
	}
	if !finished {
		return out, total
	}
	for i := len(t.history) - 1; i >= 0 && len(out) < want; i-- {
		f := t.history[i]
		if q.State != "" && f.State != q.State || narrow && !q.match(f, name) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, copyFile(f))
	}
	return out, total
}

// Plugins returns figures per plugin, sorted by name.
func (t *Tracker) Plugins() []PluginFigures {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pluginFigures()
}

func (t *Tracker) pluginFigures() []PluginFigures {
	out := make([]PluginFigures, 0, len(t.plugins))
	for _, acc := range t.plugins {
		pf := acc.PluginFigures
		pf.P50, pf.P95 = acc.durations.percentiles()
		out = append(out, pf)
	}
	slices.SortFunc(out, func(a, b PluginFigures) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Pipelines returns figures per pipeline, sorted by name.
func (t *Tracker) Pipelines() []PipelineFigures {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pipelineFigures()
}

func (t *Tracker) pipelineFigures() []PipelineFigures {
	out := make([]PipelineFigures, 0, len(t.pipelines))
	for _, acc := range t.pipelines {
		pf := acc.PipelineFigures
		pf.P50, pf.P95 = acc.durations.percentiles()
		out = append(out, pf)
	}
	slices.SortFunc(out, func(a, b PipelineFigures) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Throughput returns one point per second for the last n seconds (at
// most an hour; 0 means the whole hour), oldest first, with zeros for idle
// seconds. The last point is the current, unfinished second.
func (t *Tracker) Throughput(n int) []Point {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.points(t.now(), n)
}

func (t *Tracker) points(now time.Time, n int) []Point {
	if n <= 0 || n > rateWindow {
		n = rateWindow
	}
	sec := now.Truncate(time.Second)
	out := make([]Point, n)
	for i := range out {
		at := sec.Add(time.Duration(i-n+1) * time.Second)
		b := t.rate[at.Unix()%rateWindow]
		if b.Time.Equal(at) {
			out[i] = b
		} else {
			out[i] = Point{Time: at}
		}
	}
	return out
}

// Rate is files and bytes per second over a sliding window.
type Rate struct {
	Files  float64       `json:"files_per_s"`
	Bytes  float64       `json:"bytes_per_s"`
	Window time.Duration `json:"window_ns"`
}

// rate is the mean over the RateWindow that ends now: the whole seconds
// before the current one and the part of the current one gone by, so it
// neither drops to zero at each new second nor lags a second behind.
func (t *Tracker) rateAt(now time.Time) Rate {
	whole := int(RateWindow/time.Second) - 1
	pts := t.points(now, whole+1)
	var files, bytes int64
	for _, p := range pts {
		files += p.Files
		bytes += p.Bytes
	}
	span := time.Duration(whole)*time.Second + now.Sub(now.Truncate(time.Second))
	sec := span.Seconds()
	return Rate{Files: float64(files) / sec, Bytes: float64(bytes) / sec, Window: span}
}

// Limits say how many records of each list View returns.
type Limits struct {
	Queue, Processing, Recent, Failed int
}

// View is everything a dashboard shows, taken at one moment under one
// lock, so its panels agree with each other.
type View struct {
	Seq        uint64            `json:"seq"` // events up to this one are included
	Now        time.Time         `json:"now"`
	Totals     Totals            `json:"totals"`
	Last       *File             `json:"last"`
	Queue      []File            `json:"queue"`      // the oldest queued files
	Processing []File            `json:"processing"` // oldest first
	Recent     []File            `json:"recent"`     // processed, newest first
	Failed     []File            `json:"failed"`     // newest first
	Plugins    []PluginFigures   `json:"plugins"`
	Pipelines  []PipelineFigures `json:"pipelines"`
	Rate       Rate              `json:"rate"`
}

// View returns the tracker's state at one moment, with at most the
// given number of records per list. Its cost grows with the number of
// active files and the limits, not with history.
func (t *Tracker) View(l Limits) View {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	v := View{
		Seq: t.seq, Now: now, Totals: t.totals,
		Queue:      oldest(t.active, Queued, l.Queue),
		Processing: oldest(t.active, Processing, l.Processing),
		Recent:     make([]File, 0, l.Recent),
		Failed:     make([]File, 0, l.Failed),
		Plugins:    t.pluginFigures(),
		Pipelines:  t.pipelineFigures(),
		Rate:       t.rateAt(now),
	}
	if t.last != nil {
		l := copyFile(t.last)
		v.Last = &l
	}
	for i := len(t.history) - 1; i >= 0 && (len(v.Recent) < l.Recent || len(v.Failed) < l.Failed); i-- {
		f := t.history[i]
		switch {
		case f.State == Processed && len(v.Recent) < l.Recent:
			v.Recent = append(v.Recent, copyFile(f))
		case f.State == Failed && len(v.Failed) < l.Failed:
			v.Failed = append(v.Failed, copyFile(f))
		}
	}
	return v
}

// oldest returns the n active files in state with the smallest ids (the
// first queued), oldest first.
func oldest(active map[uint64]*File, state State, n int) []File {
	files, _ := smallest(active, func(f *File) bool { return f.State == state }, n)
	out := make([]File, len(files))
	for i, f := range files {
		out[i] = copyFile(f)
	}
	return out
}

// smallest returns the n active files that match with the smallest ids,
// in order, chosen with a bounded heap, and how many match in all.
func smallest(active map[uint64]*File, match func(*File) bool, n int) ([]*File, int) {
	var h idHeap
	total := 0
	for _, f := range active {
		if !match(f) {
			continue
		}
		total++
		if len(h) < n {
			heap.Push(&h, f)
		} else if n > 0 && f.ID < h[0].ID {
			h[0] = f
			heap.Fix(&h, 0)
		}
	}
	out := make([]*File, len(h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(*File)
	}
	return out, total
}

// idHeap is a max-heap by id: its top is the newest file kept.
type idHeap []*File

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i].ID > h[j].ID }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(*File)) }
func (h *idHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}
