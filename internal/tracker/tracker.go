// Package tracker keeps the in-memory state of every file the host has
// seen: queued, processing (with bytes done), processed or failed, with
// timings per plugin, running totals, throughput and the last processed
// file. History is bounded so memory stays flat over millions of files;
// totals keep counting. Subscribers receive every change as an event.
package tracker

import (
	"slices"
	"sort"
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
}

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
// tracker (Removed: a queued file that vanished or was handed back).
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
	BytesIn    int64 `json:"bytes_in"`
	BytesOut   int64 `json:"bytes_out"`
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

// Point is one second of throughput.
type Point struct {
	Time  time.Time `json:"time"`
	Files int64     `json:"files"`
	Bytes int64     `json:"bytes"`
}

// Tracker is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	now     func() time.Time
	nextID  uint64
	seq     uint64
	active  map[uint64]*File // queued and processing
	history []*File          // finished, oldest first, at most limit
	kept    map[State]int    // finished files in history, by state
	byID    map[uint64]*File // active and history
	limit   int
	last    *File
	totals  Totals
	plugins map[string]*pluginAcc
	rate    [rateWindow]Point
	subs    map[chan Event]struct{}
	lastPub map[uint64]time.Time // last progress event per file
}

const (
	rateWindow    = 15 * 60 // seconds of throughput kept
	reservoirSize = 1024    // recent durations kept per plugin for percentiles
	progressEvery = 200 * time.Millisecond
)

type pluginAcc struct {
	PluginFigures
	recent []time.Duration
	next   int
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
		now:     time.Now,
		active:  map[uint64]*File{},
		byID:    map[uint64]*File{},
		kept:    map[State]int{},
		limit:   history,
		plugins: map[string]*pluginAcc{},
		subs:    map[chan Event]struct{}{},
		lastPub: map[uint64]time.Time{},
	}
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
	if r.Err != nil {
		f.State, f.Error = Failed, r.Err.Error()
		t.totals.Failed++
	} else {
		f.State = Processed
		t.totals.Processed++
		t.last = f
		t.totals.BytesIn += r.BytesIn
		t.totals.BytesOut += r.BytesOut
		b := t.bucket(now)
		b.Files++
		b.Bytes += r.BytesIn
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
		if len(acc.recent) < reservoirSize {
			acc.recent = append(acc.recent, s.Duration)
		} else {
			acc.recent[acc.next] = s.Duration
			acc.next = (acc.next + 1) % reservoirSize
		}
	}
	if r.Plugin != "" {
		if acc := t.plugins[r.Plugin]; acc != nil {
			acc.Errors++
		}
	}
	t.history = append(t.history, f)
	t.kept[f.State]++
	if len(t.history) > t.limit {
		old := t.history[0]
		t.kept[old.State]--
		t.history[0] = nil
		t.history = t.history[1:]
		if t.byID[old.ID] == old {
			delete(t.byID, old.ID)
		}
	}
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
	t.publish(f, false)
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

// Files returns the records in state (all states if ""), at most limit
// (0: no limit) from offset, and how many there are in all. Queued and
// processing files come oldest first; finished files newest first. The
// cost grows with offset+limit, not with the history kept.
func (t *Tracker) Files(state State, offset, limit int) ([]File, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	offset = max(offset, 0)
	var active []*File
	if state == "" || state == Queued || state == Processing {
		for _, f := range t.active {
			if state == "" || f.State == state {
				active = append(active, f)
			}
		}
		sort.Slice(active, func(i, j int) bool { return active[i].ID < active[j].ID })
	}
	total := len(active)
	switch state {
	case "":
		total += len(t.history)
	case Processed, Failed:
		total += t.kept[state]
	}
	want := total - offset
	if limit > 0 {
		want = min(want, limit)
	}
	out := make([]File, 0, max(want, 0))
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
	if state != "" && state != Processed && state != Failed {
		return out, total
	}
	for i := len(t.history) - 1; i >= 0 && len(out) < want; i-- {
		f := t.history[i]
		if state != "" && f.State != state {
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
	out := make([]PluginFigures, 0, len(t.plugins))
	for _, acc := range t.plugins {
		pf := acc.PluginFigures
		d := slices.Clone(acc.recent)
		slices.Sort(d)
		if n := len(d); n > 0 {
			pf.P50 = d[(n-1)*50/100]
			pf.P95 = d[(n-1)*95/100]
		}
		out = append(out, pf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Throughput returns one point per second for the last 15 minutes, oldest
// first, with zeros for idle seconds.
func (t *Tracker) Throughput() []Point {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().Truncate(time.Second)
	out := make([]Point, rateWindow)
	for i := range out {
		sec := now.Add(time.Duration(i-rateWindow+1) * time.Second)
		b := t.rate[sec.Unix()%rateWindow]
		if b.Time.Equal(sec) {
			out[i] = b
		} else {
			out[i] = Point{Time: sec}
		}
	}
	return out
}
