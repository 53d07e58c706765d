// Package watch finds the files in one folder that are ready to be
// processed: complete, quiet, and not yet handed out.
//
// # Which files
//
// Only regular files directly inside the folder count. Never tracked:
// dotfiles (a name starting with "."), temporary names ending in ".part",
// ".tmp", ".crdownload", ".swp" or "~" (case-insensitive), directories,
// symlinks (the link itself is what is seen: Lstat) and other non-regular
// files. A directory, symlink, FIFO, socket or device is logged once per
// name, as "ignored: directory" and the like. Skipped lists what is
// ignored and why, as of the last scan and the events since.
//
// # When a file is ready
//
// A tracked file is settling until it has been quiet for Options.Settle:
// no fsnotify event arrived for it (Create, Write, Chmod and the like) and
// its size and modification time did not change. A file moved into the
// folder arrives as one Create and settles like any other. A file already
// in the folder when it is first scanned, whose modification time is older
// than Settle, is ready at once: nothing is writing it. Settling files are
// looked at every Settle/4, bounded to between 10ms and 1s, so a file is
// ready at most a quarter of Settle (or 1s) after it has been quiet for
// Settle. With a Settle of 0 and events (not Poll), a file is ready as
// soon as an event shows it: for folders whose files arrive by rename.
//
// Next hands out the ready file with the oldest modification time (ties:
// by name). Before it does, it looks at the file again: a file that has
// vanished is dropped, and one that changed goes back to settling. The
// returned file is taken: events for it are ignored and it is not returned
// again until Done is called for its path. After Done, a file at that path
// is a new file, found by its next event or the next rescan; a consumer
// that gives up on a file should move it away first.
//
// # Gone files
//
// A tracked file that is deleted, renamed away, or replaced by a directory
// or symlink is dropped and reported to Options.OnGone. So is every tracked
// file when the folder itself is deleted.
//
// # Rescans
//
// A full scan runs when Run starts, when fsnotify reports a queue overflow
// (fsnotify.ErrEventOverflow: events were lost), when Rescan is called,
// every Options.Rescan as a safety net, and when the watched folder is
// created again after being deleted. A rescan re-creates the folder if it
// is missing, re-adds the fsnotify watches, tracks files it finds that are
// not tracked, and drops tracked files that are no longer there. The
// folder's parent is watched too, so that a deleted and re-created folder
// is noticed at once; until it comes back, the watcher waits (a rescan
// would create it).
//
// # Memory
//
// At most Options.MaxTracked files are tracked or taken at once. A scan
// reads the folder 1024 entries at a time and keeps only the oldest files
// that fit, in a bounded heap, so a folder of a million files costs memory
// for MaxTracked of them. When files were left out, the watcher remembers
// it, ignores Create events while full, and scans again once fewer than
// MaxTracked/2 files are tracked or taken. Files already tracked are never
// evicted for older ones found later.
//
// # Polling
//
// On network filesystems (NFS, SMB, FUSE) other machines' writes cause no
// events. With Options.Poll > 0 the watcher uses no fsnotify at all and
// scans every Poll (Options.Rescan is then unused). A file is then ready
// when two looks at least Settle apart saw the same size and modification
// time, and that time is older than Settle. Modification times come from
// another machine's clock, which may be skewed: so in this mode no file is
// ready at first sight, and a file dated in the future waits until that
// time is Settle past.
//
// # Concurrency
//
// Run runs in its own goroutine; Next, Done, Rescan and Len may be called
// from any goroutine. OnSeen and OnGone are called without internal locks
// held, from the goroutine of Run or of Next; they may call the Watcher's
// methods but should return quickly.
package watch

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/filehost/host/internal/clock"
	"github.com/filehost/host/internal/folder"
)

// DefaultMaxTracked is how many files are tracked at once unless
// Options.MaxTracked says otherwise (the host's run.queue default).
const DefaultMaxTracked = 10000

const (
	// minTick and maxTick bound how often settling files are looked at:
	// a tiny Settle must not make a busy loop, and a long one must not
	// delay the rescan that follows room being freed (see wantsMore).
	minTick = 10 * time.Millisecond
	maxTick = time.Second
	// batch is how many directory entries a scan reads at a time.
	batch = 1024
)

// Options configure a Watcher.
type Options struct {
	Dir        string        // the folder to watch (an "unprocessed/" folder); created if missing
	Settle     time.Duration // a file is ready once its size and mtime have not changed, and no event arrived for it, for this long
	Rescan     time.Duration // periodic full rescan as a safety net; 0 disables
	Poll       time.Duration // > 0: no fsnotify at all, scan the folder every Poll (network filesystems)
	MaxTracked int           // at most this many files are tracked at once (memory bound); default 10000
	Logger     *slog.Logger  // nil: discard
	Clock      clock.Clock   // nil: the system clock; tests move a fake one
	// OnSeen, if set, is called when a file is first tracked (it is "queued").
	OnSeen func(File)
	// OnGone, if set, is called when a tracked, not yet taken file
	// disappears or is rejected (deleted, renamed away, became a dir).
	OnGone func(path string)
}

// File is a file in the watched folder.
type File struct {
	Path    string // the watched folder (made absolute) joined with Name
	Name    string // base name
	Size    int64
	ModTime time.Time
	// Seq tells apart each time a file is tracked: OnSeen and Next give
	// the same Seq for one sighting, which lets a caller match the two
	// whichever comes first.
	Seq uint64
}

// Watcher tracks the files in one folder and hands out the ready ones.
// Create it with New, run it with Run, take files with Next.
type Watcher struct {
	opts Options
	dir  string // opts.Dir, absolute and clean: fsnotify reports paths under it
	log  *slog.Logger

	running   atomic.Bool
	rescanReq chan struct{} // buffered 1: Rescan asks, Run serves
	readyCh   chan struct{} // buffered 1: wakes one waiting Next

	// lose, if set before Run, drops the events it returns true for, as if
	// the kernel had lost them. Tests only.
	lose func(fsnotify.Event) bool

	mu         sync.Mutex
	fsw        *fsnotify.Watcher   // set by Run; nil in poll mode and when not running
	files      map[string]*entry   // tracked files by name: settling or ready
	settling   map[string]*entry   // the tracked files that are not ready
	ready      readyHeap           // the ready files, oldest first
	taken      map[string]struct{} // names handed out by Next and not yet Done
	overflowed bool                // a scan or event left files untracked for lack of room
	skipped    map[string]Skip     // names ignored, by name; at most maxSkipped
	calls      []func()            // OnSeen/OnGone calls to make once mu is released
	seq        uint64              // last entry.seq given
}

// entry is one tracked file.
type entry struct {
	name  string
	size  int64
	mtime time.Time
	quiet time.Time // when the last event or change was seen: settling starts here
	index int       // position in Watcher.ready; -1 while settling
	seq   uint64    // File.Seq
}

// New checks opts, creates the folder if it is missing, and returns a
// Watcher that does nothing until Run is called.
func New(opts Options) (*Watcher, error) {
	if opts.Dir == "" {
		return nil, errors.New("watch: no folder given")
	}
	if opts.Settle < 0 || opts.Rescan < 0 || opts.Poll < 0 || opts.MaxTracked < 0 {
		return nil, errors.New("watch: Settle, Rescan, Poll and MaxTracked must not be negative")
	}
	if opts.MaxTracked == 0 {
		opts.MaxTracked = DefaultMaxTracked
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		opts:      opts,
		dir:       dir,
		log:       log,
		rescanReq: make(chan struct{}, 1),
		readyCh:   make(chan struct{}, 1),
		files:     make(map[string]*entry),
		settling:  make(map[string]*entry),
		taken:     make(map[string]struct{}),
		skipped:   make(map[string]Skip),
	}, nil
}

// Run watches until ctx is done; it returns nil on ctx cancellation, and
// an error if the folder cannot be watched at all. Only one Run may be
// active at a time.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watch: Run is already running")
	}
	defer w.running.Store(false)
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("watch: %w", err)
	}

	var (
		events   <-chan fsnotify.Event
		errs     <-chan error
		poll     <-chan time.Time
		periodic <-chan time.Time
	)
	if w.opts.Poll > 0 {
		t := w.opts.Clock.NewTicker(w.opts.Poll)
		defer t.Stop()
		poll = t.C()
	} else {
		fsw, err := w.startNotify()
		if err != nil {
			return err
		}
		defer w.stopNotify()
		events, errs = fsw.Events, fsw.Errors
		if w.opts.Rescan > 0 {
			t := w.opts.Clock.NewTicker(w.opts.Rescan)
			defer t.Stop()
			periodic = t.C()
		}
	}
	tick := w.opts.Clock.NewTicker(min(max(w.opts.Settle/4, minTick), maxTick))
	defer tick.Stop()

	w.rescan("start")
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("watch: fsnotify closed its event channel")
			}
			w.handleEvent(ev)
		case err, ok := <-errs:
			if !ok {
				return errors.New("watch: fsnotify closed its error channel")
			}
			w.handleError(err)
		case <-poll:
			w.rescan("poll")
		case <-periodic:
			w.rescan("periodic")
		case <-w.rescanReq:
			w.rescan("request")
		case <-tick.C():
			w.settle()
			if w.wantsMore() {
				w.rescan("room")
			}
		}
	}
}

// startNotify watches the folder, which must work, and its parent, which
// only helps: it lets a deleted and re-created folder be noticed at once.
func (w *Watcher) startNotify() (*fsnotify.Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if err := fsw.Add(w.dir); err != nil {
		_ = fsw.Close()
		return nil, fmt.Errorf("watch: %s: %w", w.dir, err)
	}
	if err := fsw.Add(filepath.Dir(w.dir)); err != nil {
		w.log.Warn("cannot watch the parent folder; a re-created folder is noticed only by rescans",
			"path", filepath.Dir(w.dir), "err", err)
	}
	w.mu.Lock()
	w.fsw = fsw
	w.mu.Unlock()
	return fsw, nil
}

func (w *Watcher) stopNotify() {
	w.mu.Lock()
	fsw := w.fsw
	w.fsw = nil
	w.mu.Unlock()
	_ = fsw.Close()
}

// addWatches re-adds the fsnotify watches; adding an existing watch is a
// no-op, and a deleted folder loses its watch.
func (w *Watcher) addWatches() {
	fsw := w.fsw // only Run's goroutine writes it, and this is Run's goroutine
	if fsw == nil {
		return
	}
	if err := fsw.Add(w.dir); err != nil {
		w.log.Error("cannot watch folder", "path", w.dir, "err", err)
	}
	_ = fsw.Add(filepath.Dir(w.dir)) // best effort, as in startNotify
}

func (w *Watcher) handleEvent(ev fsnotify.Event) {
	if w.lose != nil && w.lose(ev) {
		return
	}
	path := filepath.Clean(ev.Name)
	if path == w.dir {
		w.handleDirEvent(ev)
		return
	}
	if filepath.Dir(path) != w.dir {
		return // a sibling of the folder, seen through the parent's watch
	}
	name := filepath.Base(path)
	if Ignored(name) {
		w.mu.Lock()
		if ev.Op == fsnotify.Rename || ev.Op == fsnotify.Remove {
			delete(w.skipped, name)
		} else {
			w.skip(name, skipReason(name, 0), time.Now())
		}
		w.mu.Unlock()
		return
	}
	// A file moved or removed that is not tracked needs no look: that is
	// every file the consumer claims. A new file under its name will have
	// an event of its own.
	if ev.Op == fsnotify.Rename || ev.Op == fsnotify.Remove {
		w.mu.Lock()
		_, tracked := w.files[name]
		w.mu.Unlock()
		if !tracked {
			return
		}
	}
	// Otherwise the event's kind is only a hint (a Remove may be followed
	// by a new Create before we see it): what Lstat says now decides.
	fi, err := os.Lstat(path)
	w.mu.Lock()
	defer w.unlock()
	w.observe(name, fi, err, w.opts.Clock.Now(), true)
}

// handleDirEvent reacts to the watched folder itself coming and going.
func (w *Watcher) handleDirEvent(ev fsnotify.Event) {
	switch {
	case ev.Has(fsnotify.Create):
		w.log.Info("watched folder is back", "path", w.dir)
		w.rescan("folder created")
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		// Not re-created here: whoever removed it may be about to create
		// it again, and would fail if we got there first.
		w.log.Warn("watched folder removed; waiting for it to return", "path", w.dir)
		w.mu.Lock()
		defer w.unlock()
		for _, e := range w.files {
			w.drop(e)
		}
	}
}

func (w *Watcher) handleError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("fsnotify lost events; rescanning", "path", w.dir)
		w.rescan("overflow")
		return
	}
	w.log.Error("fsnotify", "path", w.dir, "err", err)
}

// settle looks again at the settling files that have been quiet for
// Settle, and marks those that did not change as ready.
func (w *Watcher) settle() {
	w.mu.Lock()
	var due []string
	for name, e := range w.settling {
		if now := w.opts.Clock.Now(); now.Sub(e.quiet) >= w.opts.Settle {
			due = append(due, name)
		}
	}
	w.mu.Unlock()
	if len(due) == 0 {
		return
	}

	// Lstat without the lock, so Next is not held up by a big batch. Only
	// this goroutine changes settling entries, so they are still there.
	type look struct {
		fi  fs.FileInfo
		err error
	}
	looks := make([]look, len(due))
	for i, name := range due {
		looks[i].fi, looks[i].err = os.Lstat(w.path(name))
	}
	now := w.opts.Clock.Now()
	w.mu.Lock()
	defer w.unlock()
	for i, name := range due {
		w.observe(name, looks[i].fi, looks[i].err, now, false)
	}
}

// wantsMore reports whether files were left out for lack of room and
// there is room again.
func (w *Watcher) wantsMore() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.overflowed && 2*(len(w.files)+len(w.taken)) < w.opts.MaxTracked
}

// observe applies one look at name (an Lstat result) to the tracked state.
// event says an fsnotify event prompted the look: that restarts the quiet
// period even if the size and mtime are unchanged. w.mu must be held.
func (w *Watcher) observe(name string, fi fs.FileInfo, err error, now time.Time, event bool) {
	if _, ok := w.taken[name]; ok {
		return
	}
	e := w.files[name]
	if !w.acceptable(name, fi, err) {
		if e != nil {
			w.drop(e)
		}
		return
	}
	switch {
	case e == nil:
		if event { // settle looks only at tracked files; scans track by themselves
			w.track(name, fi.Size(), fi.ModTime(), now, false)
		}
	case event || fi.Size() != e.size || !fi.ModTime().Equal(e.mtime):
		w.unready(e)
		e.size, e.mtime, e.quiet = fi.Size(), fi.ModTime(), now
		if w.instant() {
			w.makeReady(e)
		}
	case e.index < 0 && w.settled(e, now):
		w.makeReady(e)
	}
}

// instant reports whether files are ready when first seen, not on the
// next settle tick: no settle time and events to go by.
func (w *Watcher) instant() bool { return w.opts.Settle == 0 && w.opts.Poll == 0 }

// settled reports whether a settling file has been quiet long enough.
func (w *Watcher) settled(e *entry, now time.Time) bool {
	if now.Sub(e.quiet) < w.opts.Settle {
		return false
	}
	// Without events, a write just before the first look would go unseen;
	// the mtime shows it.
	return w.opts.Poll == 0 || now.Sub(e.mtime) >= w.opts.Settle
}

// acceptable reports whether an Lstat result is a regular file, logging
// why not where that helps. w.mu must be held.
func (w *Watcher) acceptable(name string, fi fs.FileInfo, err error) bool {
	if err != nil {
		delete(w.skipped, name)
		if !errors.Is(err, fs.ErrNotExist) {
			w.log.Warn("cannot stat file", "path", w.path(name), "err", err)
		}
		return false
	}
	return w.regular(name, fi.Mode().Type())
}

// regular reports whether a file type is a regular file, noting (and
// logging once) why not: someone may have put it there by mistake. w.mu
// must be held.
func (w *Watcher) regular(name string, typ fs.FileMode) bool {
	if typ.IsRegular() {
		delete(w.skipped, name)
		return true
	}
	w.skip(name, skipReason(name, typ), time.Now())
	return false
}

// Skip is a name in the folder that the watcher ignores, and why.
type Skip struct {
	Name  string    `json:"name"`
	Why   string    `json:"why"`
	Since time.Time `json:"since"` // when the watcher first saw it so
}

// maxSkipped bounds the list of ignored names kept.
const maxSkipped = 1000

// skipReason says why name, of file type typ, is ignored; "" if it is
// not.
func skipReason(name string, typ fs.FileMode) string {
	switch {
	case strings.HasPrefix(name, "."):
		return "hidden name (starts with a dot)"
	case Ignored(name):
		return "temporary name (.part, .tmp, .crdownload, .swp or ~)"
	}
	return folder.TypeName(typ)
}

// skip notes an ignored name, logging a new non-regular one once. w.mu
// must be held.
func (w *Watcher) skip(name, why string, now time.Time) {
	if old, ok := w.skipped[name]; ok && old.Why == why {
		return
	}
	if _, ok := w.skipped[name]; !ok && len(w.skipped) >= maxSkipped {
		return // keep the memory bound
	}
	w.skipped[name] = Skip{Name: name, Why: why, Since: now}
	if !Ignored(name) {
		w.log.Warn("ignored: "+why, "path", w.path(name))
	}
}

// Skipped returns the names in the folder that the watcher ignores, and
// why, sorted by name: at most 1000.
func (w *Watcher) Skipped() []Skip {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Skip, 0, len(w.skipped))
	for _, sk := range w.skipped {
		out = append(out, sk)
	}
	slices.SortFunc(out, func(a, b Skip) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// track starts tracking a file, if there is room. A file first seen by a
// scan whose mtime is older than Settle is ready at once, except when
// polling (see settled). w.mu must be held.
func (w *Watcher) track(name string, size int64, mtime, now time.Time, scanned bool) {
	if len(w.files)+len(w.taken) >= w.opts.MaxTracked {
		w.overflowed = true // a later scan finds it
		return
	}
	w.seq++
	e := &entry{name: name, size: size, mtime: mtime, quiet: now, index: -1, seq: w.seq}
	w.files[name] = e
	w.settling[name] = e
	if w.instant() || scanned && w.opts.Poll == 0 && now.Sub(mtime) >= w.opts.Settle {
		w.makeReady(e)
	}
	if w.opts.OnSeen != nil {
		f := w.file(e)
		w.calls = append(w.calls, func() { w.opts.OnSeen(f) })
	}
}

// drop stops tracking a file that is gone or rejected. w.mu must be held.
func (w *Watcher) drop(e *entry) {
	delete(w.files, e.name)
	w.unready(e)
	delete(w.settling, e.name)
	w.gone(e.name)
}

func (w *Watcher) gone(name string) {
	if w.opts.OnGone != nil {
		path := w.path(name)
		w.calls = append(w.calls, func() { w.opts.OnGone(path) })
	}
}

// makeReady moves a settling file to the ready heap and wakes a Next.
func (w *Watcher) makeReady(e *entry) {
	delete(w.settling, e.name)
	heap.Push(&w.ready, e)
	w.signal()
}

// unready moves a ready file back to settling; it does nothing to a
// settling one.
func (w *Watcher) unready(e *entry) {
	if e.index >= 0 {
		heap.Remove(&w.ready, e.index)
		w.settling[e.name] = e
	}
}

func (w *Watcher) signal() {
	select {
	case w.readyCh <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// unlock releases w.mu and then makes the callbacks queued while it was
// held, so that they may call the Watcher's methods.
func (w *Watcher) unlock() {
	calls := w.calls
	w.calls = nil
	w.mu.Unlock()
	for _, call := range calls {
		call()
	}
}

// rescan reads the whole folder: it tracks what events missed and drops
// tracked files that are gone.
func (w *Watcher) rescan(reason string) {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		w.log.Error("rescan: cannot create folder", "path", w.dir, "err", err)
		return
	}
	w.addWatches()

	w.mu.Lock()
	known := make(map[string]struct{}, len(w.files)+len(w.taken))
	for name := range w.files {
		known[name] = struct{}{}
	}
	for name := range w.taken {
		known[name] = struct{}{}
	}
	room := w.opts.MaxTracked - len(known)
	w.mu.Unlock()

	found, present, skipped, leftOut, err := w.scan(known, room)
	if err != nil {
		w.log.Error("rescan", "path", w.dir, "err", err)
		return
	}

	// No event was handled during the scan (this is Run's goroutine), so
	// a known name it did not see is gone. Next and Done may have moved
	// names between taken and tracked meanwhile; both sets were known.
	now := w.opts.Clock.Now()
	w.mu.Lock()
	for name, e := range w.files {
		_, wasKnown := known[name]
		_, seen := present[name]
		if wasKnown && !seen {
			w.drop(e)
		}
	}
	w.overflowed = leftOut
	for name := range w.skipped {
		if _, ok := skipped[name]; !ok {
			delete(w.skipped, name)
		}
	}
	for name, why := range skipped {
		w.skip(name, why, now)
	}
	for _, f := range found {
		_, tracked := w.files[f.Name]
		_, taken := w.taken[f.Name]
		if !tracked && !taken {
			w.track(f.Name, f.Size, f.ModTime, now, true)
		}
	}
	tracked, overflowed := len(w.files), w.overflowed
	w.unlock()
	w.log.Debug("rescan", "reason", reason, "path", w.dir, "tracked", tracked, "overflowed", overflowed)
}

// scan reads the folder in batches. It returns the oldest regular files
// not in known, at most room of them, oldest first; the known names it
// saw; the names it ignores, with why (at most maxSkipped); and whether
// files were left out for lack of room. However large the folder, it
// holds at most room files and one open directory.
func (w *Watcher) scan(known map[string]struct{}, room int) (found []File, present map[string]struct{}, skipped map[string]string, leftOut bool, err error) {
	d, err := os.Open(w.dir)
	if err != nil {
		return nil, nil, nil, false, err
	}
	skipped = map[string]string{}
	defer d.Close()

	present = make(map[string]struct{}, len(known))
	var keep newestFirst // a max-heap: the newest kept file is evicted first
	for {
		entries, err := d.ReadDir(batch)
		for _, de := range entries {
			name := de.Name()
			if why := skipReason(name, de.Type()); why != "" {
				if len(skipped) < maxSkipped {
					skipped[name] = why
				}
				continue
			}
			if _, ok := known[name]; ok {
				present[name] = struct{}{}
				continue
			}
			if room <= 0 {
				leftOut = true
				continue
			}
			fi, err := de.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue // gone or replaced since ReadDir; events will tell
			}
			f := File{Path: w.path(name), Name: name, Size: fi.Size(), ModTime: fi.ModTime()}
			if keep.Len() == room {
				leftOut = true
				if !older(f, keep[0]) {
					continue
				}
				heap.Pop(&keep)
			}
			heap.Push(&keep, f)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, false, err
		}
	}
	found = make([]File, keep.Len())
	for i := len(found) - 1; i >= 0; i-- {
		found[i] = heap.Pop(&keep).(File)
	}
	return found, present, skipped, leftOut, nil
}

// Next blocks until a ready file is available or ctx is done, and returns
// the ready file with the oldest ModTime (ties: by name). The returned
// file is taken: it will not be returned again, nor reported by OnSeen or
// OnGone, until Done is called with its path.
func (w *Watcher) Next(ctx context.Context) (File, error) {
	for {
		e, err := w.take(ctx)
		if err != nil {
			return File{}, err
		}
		if e == nil {
			select {
			case <-ctx.Done():
				return File{}, ctx.Err()
			case <-w.readyCh:
			}
			continue
		}
		if w.instant() {
			// Nothing to confirm: the file was looked at when its event
			// came, and it need not have settled. The consumer's claim
			// finds out if it is gone.
			return w.file(e), nil
		}
		fi, err := os.Lstat(w.path(e.name))
		if f, ok := w.confirm(e, fi, err); ok {
			return f, nil
		}
	}
}

// take moves the oldest ready file to taken, or returns nil if there is
// none. Once ctx is done it takes nothing: a caller that is giving up
// would hold the file taken for ever.
func (w *Watcher) take(ctx context.Context) (*entry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ready.Len() == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		w.signal() // the wake-up this caller may have used is for another
		return nil, err
	}
	e := heap.Pop(&w.ready).(*entry)
	delete(w.files, e.name)
	w.taken[e.name] = struct{}{}
	if w.ready.Len() > 0 {
		w.signal() // pass the wake-up on to another waiting Next
	}
	return e, nil
}

// confirm checks a just-taken file against a fresh Lstat: a file that is
// gone is dropped, one that changed goes back to settling.
func (w *Watcher) confirm(e *entry, fi fs.FileInfo, err error) (File, bool) {
	w.mu.Lock()
	defer w.unlock()
	if !w.acceptable(e.name, fi, err) {
		delete(w.taken, e.name)
		w.gone(e.name)
		return File{}, false
	}
	if fi.Size() != e.size || !fi.ModTime().Equal(e.mtime) {
		delete(w.taken, e.name)
		e.size, e.mtime, e.quiet = fi.Size(), fi.ModTime(), w.opts.Clock.Now()
		w.files[e.name] = e
		w.settling[e.name] = e
		return File{}, false
	}
	return w.file(e), true
}

// Done tells the watcher the consumer finished with a taken path (claimed
// it by renaming it away, or gave up); if the path exists again later it
// is a new file.
func (w *Watcher) Done(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.taken, filepath.Base(path))
}

// Rescan asks for a full rescan soon. It does not block.
func (w *Watcher) Rescan() {
	select {
	case w.rescanReq <- struct{}{}:
	default: // one is already pending
	}
}

// Len reports how many files are tracked: settling or ready, not taken.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.files)
}

func (w *Watcher) path(name string) string { return filepath.Join(w.dir, name) }

func (w *Watcher) file(e *entry) File {
	return File{Path: w.path(e.name), Name: e.name, Size: e.size, ModTime: e.mtime, Seq: e.seq}
}

// tempSuffixes end the names of files that are still being written by
// browsers, editors and copy tools.
var tempSuffixes = []string{".part", ".tmp", ".crdownload", ".swp", "~"}

// Ignored reports whether the watcher skips a file because of its name: a
// dotfile or a temporary name (.part, .tmp, .crdownload, .swp, ~).
func Ignored(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	lower := strings.ToLower(name)
	for _, s := range tempSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}
