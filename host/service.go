package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/filehost/host/internal/clock"
	"github.com/filehost/host/internal/folder"
	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/watch"
)

// Service is watch mode: it watches every configured folder, processes
// each file that settles in unprocessed/ with a pool of workers, records
// everything in a tracker, and stops gracefully.
type Service struct {
	// cfg is the configuration the service started with: its folders,
	// workers and the other settings a reload cannot change. The
	// pipelines and plugins in use are those of gen.
	cfg     Config
	logger  *slog.Logger
	tracker *tracker.Tracker
	folders []*watched
	workers int
	// cpu holds a token per file in the plugin chain: at most workers.
	cpu     chan struct{}
	started time.Time
	running atomic.Bool
	// refreshEvery is how often folders are checked, failedCheckEvery the
	// failed list; tests shorten them.
	refreshEvery     time.Duration
	failedCheckEvery time.Duration
	clock            clock.Clock

	gen        atomic.Pointer[generation]
	genCount   int
	reloadMu   sync.Mutex
	pluginsMu  sync.Mutex
	pluginRefs map[*wasm.Plugin]int // generations holding each plugin
	statusMu   sync.Mutex
	status     ReloadStatus
	// noConfigWatch: see ServiceOptions.NoConfigWatch.
	noConfigWatch bool
}

// watched is one watched folder with its watcher.
type watched struct {
	cfg    WatchConfig
	folder *folder.Folder
	w      *watch.Watcher
	// health is nil while the folder is as opened, else why it is not
	// (a subfolder swapped for a link, the folder's lock taken by another
	// host after it was recreated); no file is claimed meanwhile.
	health atomic.Pointer[error]

	mu     sync.Mutex
	queued map[uint64]queued // by watch.File.Seq
	seqs   map[string]uint64 // Seq of each queued path
}

// queued is a file's tracker record while it waits. The watcher's OnSeen
// and a worker's Next may come in either order for one sighting; taken
// marks a record the worker made first, so the late OnSeen adds none.
type queued struct {
	id    uint64
	taken bool
}

// seen records a file the watcher started tracking.
func (wd *watched) seen(t *tracker.Tracker, f watch.File) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if q, ok := wd.queued[f.Seq]; ok && q.taken {
		delete(wd.queued, f.Seq)
		return
	}
	wd.queued[f.Seq] = queued{id: t.Queue(wd.cfg.Dir, f.Name, f.Size)}
	wd.seqs[f.Path] = f.Seq
}

// gone drops the record of a queued file that went away.
func (wd *watched) gone(t *tracker.Tracker, path string) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	seq, ok := wd.seqs[path]
	if !ok {
		return
	}
	delete(wd.seqs, path)
	if q, ok := wd.queued[seq]; ok && !q.taken {
		t.Remove(q.id)
		delete(wd.queued, seq)
	}
}

// take returns the tracker record of a file a worker took.
func (wd *watched) take(t *tracker.Tracker, f watch.File) uint64 {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.seqs[f.Path] == f.Seq {
		delete(wd.seqs, f.Path)
	}
	if q, ok := wd.queued[f.Seq]; ok {
		delete(wd.queued, f.Seq)
		return q.id
	}
	id := t.Queue(wd.cfg.Dir, f.Name, f.Size)
	wd.queued[f.Seq] = queued{id: id, taken: true}
	return id
}

// dropQueued removes every waiting record, at shutdown.
func (wd *watched) dropQueued(t *tracker.Tracker) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	for seq, q := range wd.queued {
		if !q.taken {
			t.Remove(q.id)
		}
		delete(wd.queued, seq)
	}
	clear(wd.seqs)
}

// ServiceOptions tune a Service beyond its config.
type ServiceOptions struct {
	Logger *slog.Logger
	// Poll, when set, overrides run.poll (the --poll flag).
	Poll time.Duration
	// Clock, when set, drives settling, rescans, retry delays, the grace
	// period and folder checks (tests); nil is the system clock.
	Clock clock.Clock
	// NoConfigWatch turns off reloading when the config file or a plugin
	// changes; Reload (SIGHUP, the dashboard) still works.
	NoConfigWatch bool
}

// Workers returns how many files the config processes at once.
func (c *Config) Workers() int {
	if c.Run.Workers > 0 {
		return c.Run.Workers
	}
	return runtime.NumCPU()
}

// NewService locks and recovers every watched folder (files left in
// underprocess/ by a crash go back to unprocessed/) and prepares the
// watchers. h must have been made with Options.Instances set to
// cfg.Workers() for the pool to cover every worker.
func NewService(h *Host, opts ServiceOptions) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := h.Config()
	poll := time.Duration(cfg.Run.Poll)
	if opts.Poll > 0 {
		poll = opts.Poll
	}
	s := &Service{
		cfg:              cfg,
		logger:           opts.Logger,
		tracker:          tracker.New(cfg.Run.History),
		workers:          cfg.Workers(),
		cpu:              make(chan struct{}, cfg.Workers()),
		started:          time.Now(),
		refreshEvery:     refreshEvery,
		failedCheckEvery: failedCheckEvery,
		clock:            opts.Clock,
		noConfigWatch:    opts.NoConfigWatch,
	}
	if s.clock == nil {
		s.clock = clock.Real
	}
	s.pluginRefs = map[*wasm.Plugin]int{}
	g := s.install(h)
	s.status = ReloadStatus{Generation: g.n, LoadedAt: g.loaded}
	for _, wc := range cfg.Watch {
		wd, err := s.openFolder(wc, poll)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.folders = append(s.folders, wd)
	}
	s.dashboardStart() // host/dashboard.go
	return s, nil
}

func (s *Service) openFolder(wc WatchConfig, poll time.Duration) (*watched, error) {
	f, err := openWatch(wc, s.cfg.Run.Sync, true)
	if err != nil {
		return nil, err
	}
	if err := f.Lock(); err != nil {
		f.Close()
		return nil, err
	}
	rec, err := f.Recover(VersionString())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("watch folder %s: recovery: %w", wc.Dir, err)
	}
	if rec.Any() {
		s.logger.Warn("recovered after an unclean stop", "folder", wc.Dir,
			"requeued", len(rec.Requeued), "already_processed", len(rec.Completed),
			"already_failed", len(rec.Failed), "temp_removed", len(rec.Removed))
	}
	if len(rec.Busy) > 0 {
		s.logger.Info("files claimed by another process (host --input) left to it", "folder", wc.Dir, "files", len(rec.Busy))
	}
	wd := &watched{cfg: wc, folder: f, queued: map[uint64]queued{}, seqs: map[string]uint64{}}
	wd.w, err = watch.New(watch.Options{
		Dir:        f.Path(folder.Unprocessed),
		Settle:     time.Duration(s.cfg.Run.Settle),
		Rescan:     time.Duration(s.cfg.Run.Rescan),
		Poll:       poll,
		MaxTracked: s.cfg.Run.Queue,
		Logger:     s.logger.With("folder", wc.Dir),
		Clock:      s.clock,
		OnSeen:     func(file watch.File) { wd.seen(s.tracker, file) },
		OnGone:     func(path string) { wd.gone(s.tracker, path) },
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return wd, nil
}

// Close removes the temp names still held back and releases the folders
// and their locks. Call it after Run returns.
func (s *Service) Close() {
	for _, wd := range s.folders {
		wd.folder.Close()
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if g := s.gen.Swap(nil); g != nil {
		engine := g.h.engine
		g.retire() // no file is in flight once Run has returned
		_ = engine.Close(context.Background())
	}
}

// Tracker returns the state of every file.
func (s *Service) Tracker() *tracker.Tracker { return s.tracker }

// Plugins returns the loaded plugins.
func (s *Service) Plugins() []*wasm.Plugin { return s.gen.Load().h.Plugins() }

// Pipelines returns the configured pipelines.
func (s *Service) Pipelines() []PipelineConfig { return s.gen.Load().h.cfg.Pipeline }

// Started is when the service was made.
func (s *Service) Started() time.Time { return s.started }

// Ready reports nil while the watchers run and every folder is as
// opened; else why not.
func (s *Service) Ready() error {
	if !s.running.Load() {
		return errors.New("watchers not running")
	}
	var errs []error
	for _, wd := range s.folders {
		if err := wd.health.Load(); err != nil {
			errs = append(errs, *err)
		}
	}
	return errors.Join(errs...)
}

// failRetries is how many more times moving a failed file to failed/ is
// tried after a transient error.
const failRetries = 5

// refreshEvery is how often each watched folder is checked for a
// subfolder swapped, deleted or recreated (folder.Refresh).
const refreshEvery = time.Second

// keepHealthy checks wd's folder every refreshEvery until ctx is done.
func (s *Service) keepHealthy(ctx context.Context, wd *watched) {
	s.every(ctx, s.refreshEvery, func() { s.refresh(wd) })
}

// every calls f every d on the service's clock until ctx is done.
func (s *Service) every(ctx context.Context, d time.Duration, f func()) {
	t := s.clock.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		f()
	}
}

// refresh checks wd's folder once and records its health.
func (s *Service) refresh(wd *watched) {
	changed, err := wd.folder.Refresh()
	old := wd.health.Load()
	if err != nil {
		if old == nil || (*old).Error() != err.Error() {
			s.logger.Error("watch folder unusable; no file is taken from it until this is fixed", "folder", wd.cfg.Dir, "error", err)
		}
		wd.health.Store(&err)
		return
	}
	if old != nil || changed {
		s.logger.Warn("watch folder reopened", "folder", wd.cfg.Dir)
		wd.health.Store(nil)
		wd.w.Rescan() // files passed over meanwhile
	}
}

// InFlightPerWorker is how many files watch mode carries between claim and
// commit at once per worker (run.workers bounds only the plugin chain).
const InFlightPerWorker = 4

// stuckWait is how long shutdown waits, after the grace period, for files
// to stop between chunks.
const stuckWait = 5 * time.Second

// job is a file taken from a folder, on its way to a worker.
type job struct {
	wd   *watched
	file watch.File
}

// Run watches and processes until ctx is done, then stops taking files,
// lets files in flight finish within the grace period (run.grace), puts
// the rest back in unprocessed/, and returns nil.
func (s *Service) Run(ctx context.Context) error {

	// Files in flight get their own context: it outlives ctx by the grace
	// period.
	procCtx, cancelProc := context.WithCancel(context.Background())
	defer cancelProc()

	// Dispatching stops with ctx, or when a watcher fails.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	watchCtx, stopWatch := context.WithCancel(context.Background())
	var watchers sync.WaitGroup
	errc := make(chan error, len(s.folders))
	for _, wd := range s.folders {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			if err := wd.w.Run(watchCtx); err != nil {
				errc <- fmt.Errorf("watch %s: %w", wd.cfg.Dir, err)
			}
		}()
	}
	for _, wd := range s.folders {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			s.keepHealthy(watchCtx, wd)
		}()
	}
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		s.keepRetention(watchCtx)
	}()
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		s.keepCache(watchCtx)
	}()
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		s.keepFailedList(watchCtx)
	}()
	if !s.noConfigWatch && s.cfg.File != "" {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			s.watchConfig(watchCtx)
		}()
	}
	s.running.Store(true)
	compiling := 0
	for _, p := range s.Plugins() {
		if p.Compiling() {
			compiling++
		}
	}
	s.logger.Info("watching", "folders", len(s.folders), "workers", s.workers, "in_flight", s.workers*InFlightPerWorker,
		"plugins", len(s.Plugins()), "compiling", compiling)

	// One dispatcher per folder hands its oldest ready file to the next
	// free worker. With a single folder the workers take files from it
	// themselves, which spares a goroutine hand-off per file.
	jobs := make(chan job)
	var dispatchers sync.WaitGroup
	for _, wd := range s.folders {
		if len(s.folders) == 1 {
			break
		}
		dispatchers.Add(1)
		go func() {
			defer dispatchers.Done()
			for {
				f, err := wd.w.Next(runCtx)
				if err != nil {
					return
				}
				select {
				case jobs <- job{wd, f}:
				case <-runCtx.Done():
					wd.w.Done(f.Path) // Not claimed: it stays in unprocessed/.
					return
				}
			}
		}()
	}
	// Each of these goroutines takes one file at a time through its claim,
	// the plugin chain and its commit, but holds one of the s.workers
	// tokens of s.cpu only while the chain runs: the rest is waiting on
	// the disk (renames, fsyncs), and with more files in flight those
	// waits overlap and their fsyncs are shared (syncDir).
	var workers sync.WaitGroup
	for range s.workers * InFlightPerWorker {
		workers.Add(1)
		go func() {
			defer workers.Done()
			if len(s.folders) == 1 {
				wd := s.folders[0]
				for {
					f, err := wd.w.Next(runCtx)
					if err != nil {
						return
					}
					s.handle(procCtx, job{wd, f})
				}
			}
			for j := range jobs {
				s.handle(procCtx, j)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.running.Store(false)
	s.logger.Info("stopping: no new files; waiting for files in flight", "grace", time.Duration(s.cfg.Run.Grace))
	stopRun()
	dispatchers.Wait()
	close(jobs)
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-s.clock.After(time.Duration(s.cfg.Run.Grace)):
		s.logger.Warn("grace period over: returning unfinished files to unprocessed/")
		cancelProc()
		// Cancelling stops every plugin call, loops included, and files
		// go back to unprocessed/. Should one still not return (a host
		// bug), do not wait for ever: the next start recovers its file.
		select {
		case <-done:
		case <-s.clock.After(stuckWait):
			s.logger.Error("files still inside plugin calls; they go back to unprocessed/ at the next start")
		}
	}
	stopWatch()
	watchers.Wait()
	for _, wd := range s.folders {
		wd.dropQueued(s.tracker)
	}
	s.logger.Info("stopped")
	return runErr
}

// handle claims one file and processes it, with retries.
func (s *Service) handle(ctx context.Context, j job) {
	wd, f := j.wd, j.file
	id := wd.take(s.tracker, f)
	if err := wd.health.Load(); err != nil {
		// Not claimed: it stays in unprocessed/, and the rescan that
		// follows the folder's repair finds it again.
		wd.w.Done(f.Path)
		s.tracker.Remove(id)
		return
	}
	claim, err := wd.folder.Claim(f.Name)
	wd.w.Done(f.Path)
	if err != nil {
		s.tracker.Remove(id)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.logger.Debug("file vanished before it was claimed", "file", f.Path)
			s.refresh(wd) // the folder itself may be gone
		case errors.Is(err, folder.ErrNotRegular):
			s.logger.Warn("not claimed: not a regular file; it stays in unprocessed/", "file", f.Path, "error", err)
		default:
			s.logger.Error("cannot claim file; it stays in unprocessed/ and is tried again", "file", f.Path, "error", err)
			s.clock.AfterFunc(time.Duration(s.cfg.Run.RetryDelay), wd.w.Rescan)
		}
		return
	}
	g := s.acquire() // the configuration this file keeps until it is done
	defer g.done()
	run := &fileRun{h: g.h, folder: wd.folder, wc: g.h.watchConfig(wd.cfg), claim: claim, started: time.Now(),
		enter: func(ctx context.Context, pipeline string, size int64, attempt int) (func(), error) {
			select {
			case s.cpu <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			s.tracker.Start(id, pipeline, size, attempt)
			return func() { <-s.cpu }, nil
		},
		wrap: func(r io.Reader) io.Reader { return &progressReader{r: r, t: s.tracker, id: id} },
	}
	delay := time.Duration(g.h.cfg.Run.RetryDelay)
	for attempt := 1; ; attempt++ {
		out, res, err := run.attempt(ctx, attempt)
		if errors.Is(err, folder.ErrInputKept) {
			// Done: another try would write a second result.
			s.logger.Error("result committed; the input stays in underprocess/ until the next start", "file", claim.Path(), "output", out, "error", err)
			err = nil
		}
		if err == nil {
			s.logger.Info("file processed", "folder", wd.cfg.Dir, "file", f.Name, "pipeline", res.Pipeline,
				"output", out, "bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "duration", res.Duration, "attempts", attempt)
			s.tracker.Finish(id, tracker.Result{Output: out, BytesIn: res.BytesIn, BytesOut: res.BytesOut, Stages: stages(res.Stages)})
			return
		}
		if ctx.Err() != nil {
			s.requeue(claim, id)
			return
		}
		if errors.Is(err, folder.ErrFolderGone) {
			s.requeueGone(wd, claim, id, err)
			return
		}
		if Retryable(err) && attempt <= g.h.cfg.Run.Retries {
			s.logger.Warn("file failed, will retry", "file", f.Name, "attempt", attempt, "retry_in", delay, "error", err)
			select {
			case <-s.clock.After(delay):
			case <-ctx.Done():
				s.requeue(claim, id)
				return
			}
			delay *= 2
			continue
		}
		plugin := pluginOf(err)
		dst, ferr := run.fail(err, res.Pipeline, attempt)
		if errors.Is(ferr, folder.ErrFolderGone) {
			s.requeueGone(wd, claim, id, ferr)
			return
		}
		for try := 0; ferr != nil && folder.Transient(ferr) && try < failRetries; try++ {
			// Say, no descriptors left: the file stays claimed, with
			// nothing in failed/, and moving it is tried again.
			s.logger.Warn("cannot move failed file to failed/ yet; trying again", "file", claim.Path(), "error", ferr)
			select {
			case <-s.clock.After(time.Duration(g.h.cfg.Run.RetryDelay)):
			case <-ctx.Done():
			}
			dst, ferr = run.fail(err, res.Pipeline, attempt)
		}
		if ferr != nil {
			claim.Release()
			s.logger.Error("cannot move failed file to failed/; it stays in underprocess/ until restart", "file", claim.Path(), "error", ferr)
		}
		s.logger.Error("file failed", "folder", wd.cfg.Dir, "file", f.Name, "pipeline", res.Pipeline, "plugin", plugin,
			"attempts", attempt, "error", err, "failed", dst)
		s.tracker.Finish(id, tracker.Result{Output: dst, BytesIn: res.BytesIn, BytesOut: res.BytesOut, Stages: stages(res.Stages), Err: err, Plugin: plugin})
		return
	}
}

// requeueGone reopens a folder whose processed/ or failed/ was deleted
// while the file was in flight, and puts the file back in unprocessed/,
// to be claimed again through the new handles.
func (s *Service) requeueGone(wd *watched, c *folder.Claim, id uint64, err error) {
	s.logger.Warn("a subfolder was deleted while the file was in flight; it is taken again", "file", c.Path(), "error", err)
	s.refresh(wd)
	s.requeue(c, id)
}

// requeue puts a claimed file back in unprocessed/ (at shutdown, or after
// requeueGone).
func (s *Service) requeue(c *folder.Claim, id uint64) {
	s.tracker.Remove(id)
	name, err := c.Requeue()
	if err != nil {
		s.logger.Error("cannot return file to unprocessed/; it will be recovered at next start", "file", c.Path(), "error", err)
		return
	}
	s.logger.Info("file returned to unprocessed/", "file", name)
}

// Retry moves a failed file back to unprocessed/ and removes its report.
func (s *Service) Retry(id uint64) error {
	f, ok := s.tracker.Get(id)
	if !ok || f.State != tracker.Failed || f.Output == "" || f.Retried {
		return fmt.Errorf("file %d: %w: not a failed file", id, fs.ErrNotExist)
	}
	wd := s.folderOf(f.Folder)
	if wd == nil || filepath.Dir(f.Output) != wd.folder.Path(folder.Failed) {
		return fmt.Errorf("file %d: %w: not in a failed/ folder", id, fs.ErrNotExist)
	}
	if _, err := wd.folder.Retry(filepath.Base(f.Output)); err != nil {
		s.forgetIfGone(id, err)
		return fmt.Errorf("retry %s: %w", f.Name, err)
	}
	s.tracker.MarkRetried(id)
	s.logger.Info("failed file returned for another try", "file", f.Name)
	return nil
}

func (s *Service) folderOf(dir string) *watched {
	for _, wd := range s.folders {
		if wd.cfg.Dir == dir {
			return wd
		}
	}
	return nil
}

// Retryable reports whether err may pass on another try: a plugin
// timeout or an I/O error. A plugin's own failure or trap, a line over
// the limit, no matching pipeline and a permission error will not.
func Retryable(err error) bool {
	if wasm.IsTimeout(err) {
		return true
	}
	var failure *wasm.Failure
	var trap *wasm.Trap
	switch {
	case errors.As(err, &failure), errors.As(err, &trap),
		errors.Is(err, wasm.ErrLineTooLong), errors.Is(err, ErrNoPipeline),
		errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist),
		errors.Is(err, syscall.ELOOP): // a symbolic link put in a claimed file's place
		return false
	}
	return true
}

func stages(in []wasm.StageStats) []tracker.Stage {
	out := make([]tracker.Stage, len(in))
	for i, s := range in {
		out[i] = tracker.Stage{Plugin: s.Plugin, BytesIn: s.BytesIn, BytesOut: s.BytesOut, Duration: s.Duration}
	}
	return out
}

// progressReader reports bytes read to the tracker.
type progressReader struct {
	r  io.Reader
	t  *tracker.Tracker
	id uint64
	n  int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.t.Progress(p.id, p.n)
	return n, err
}
