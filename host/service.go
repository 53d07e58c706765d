package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/watch"
)

// Service is watch mode: it watches every configured folder, processes
// each file that settles in unprocessed/ with a pool of workers, records
// everything in a tracker, and stops gracefully.
type Service struct {
	h       *Host
	cfg     Config
	logger  *slog.Logger
	tracker *tracker.Tracker
	folders []*watched
	workers int
	// cpu holds a token per file in the plugin chain: at most workers.
	cpu     chan struct{}
	started time.Time
	running atomic.Bool
}

// watched is one watched folder with its watcher.
type watched struct {
	cfg    WatchConfig
	folder Folder
	w      *watch.Watcher
	unlock func()

	mu  sync.Mutex
	ids map[string]uint64 // tracker ids of queued files, by path
}

// ServiceOptions tune a Service beyond its config.
type ServiceOptions struct {
	Logger *slog.Logger
	// Poll, when set, overrides run.poll (the --poll flag).
	Poll time.Duration
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
		h:       h,
		cfg:     cfg,
		logger:  opts.Logger,
		tracker: tracker.New(cfg.Run.History),
		workers: cfg.Workers(),
		cpu:     make(chan struct{}, cfg.Workers()),
		started: time.Now(),
	}
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
	folder, err := openWatch(wc)
	if err != nil {
		return nil, err
	}
	folder.NoSync = !s.cfg.Run.Sync
	unlock, err := folder.Lock()
	if err != nil {
		return nil, err
	}
	rec, err := folder.Recover()
	if err != nil {
		unlock()
		return nil, fmt.Errorf("watch folder %s: recovery: %w", wc.Dir, err)
	}
	if n := len(rec.Requeued) + len(rec.Completed) + len(rec.Failed) + len(rec.Removed); n > 0 {
		s.logger.Warn("recovered after an unclean stop", "folder", wc.Dir,
			"requeued", len(rec.Requeued), "already_processed", len(rec.Completed),
			"already_failed", len(rec.Failed), "temp_removed", len(rec.Removed))
	}
	folder.reap = &reaper{} // after Recover, which retires inputs itself
	folder.shared = &sharedSyncs{}
	wd := &watched{cfg: wc, folder: folder, unlock: unlock, ids: map[string]uint64{}}
	wd.w, err = watch.New(watch.Options{
		Dir:        folder.Unprocessed,
		Settle:     time.Duration(s.cfg.Run.Settle),
		Rescan:     time.Duration(s.cfg.Run.Rescan),
		Poll:       poll,
		MaxTracked: s.cfg.Run.Queue,
		Logger:     s.logger.With("folder", wc.Dir),
		OnSeen: func(f watch.File) {
			id := s.tracker.Queue(wc.Dir, f.Name, f.Size)
			wd.mu.Lock()
			wd.ids[f.Path] = id
			wd.mu.Unlock()
		},
		OnGone: func(path string) {
			if id, ok := wd.take(path); ok {
				s.tracker.Remove(id)
			}
		},
	})
	if err != nil {
		unlock()
		return nil, err
	}
	return wd, nil
}

// take removes and returns the tracker id of a queued path.
func (wd *watched) take(path string) (uint64, bool) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	id, ok := wd.ids[path]
	delete(wd.ids, path)
	return id, ok
}

// Close removes the temp names still held back (see Folder.retire) and
// releases the folder locks. Call it after Run returns.
func (s *Service) Close() {
	for _, wd := range s.folders {
		wd.folder.Flush()
		wd.unlock()
	}
}

// Tracker returns the state of every file.
func (s *Service) Tracker() *tracker.Tracker { return s.tracker }

// Plugins returns the loaded plugins.
func (s *Service) Plugins() []*wasm.Plugin { return s.h.Plugins() }

// Pipelines returns the configured pipelines.
func (s *Service) Pipelines() []PipelineConfig { return s.cfg.Pipeline }

// Started is when the service was made.
func (s *Service) Started() time.Time { return s.started }

// Ready reports nil while the watchers run.
func (s *Service) Ready() error {
	if !s.running.Load() {
		return errors.New("watchers not running")
	}
	return nil
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
	s.running.Store(true)
	s.logger.Info("watching", "folders", len(s.folders), "workers", s.workers, "in_flight", s.workers*InFlightPerWorker, "plugins", len(s.h.Plugins()))

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
	case <-time.After(time.Duration(s.cfg.Run.Grace)):
		s.logger.Warn("grace period over: returning unfinished files to unprocessed/")
		cancelProc()
		// A file stops between chunks; a plugin stuck inside one call
		// (with no timeout) cannot be stopped, so do not wait for it:
		// the next start recovers its file.
		select {
		case <-done:
		case <-time.After(stuckWait):
			s.logger.Error("files still inside plugin calls; they go back to unprocessed/ at the next start")
		}
	}
	stopWatch()
	watchers.Wait()
	for _, wd := range s.folders {
		wd.mu.Lock()
		for path, id := range wd.ids {
			s.tracker.Remove(id)
			delete(wd.ids, path)
		}
		wd.mu.Unlock()
	}
	s.logger.Info("stopped")
	return runErr
}

// handle claims one file and processes it, with retries.
func (s *Service) handle(ctx context.Context, j job) {
	wd, f := j.wd, j.file
	id, ok := wd.take(f.Path)
	if !ok {
		id = s.tracker.Queue(wd.cfg.Dir, f.Name, f.Size)
	}
	claimed, err := wd.folder.Claim(f.Path)
	wd.w.Done(f.Path)
	if err != nil {
		s.tracker.Remove(id)
		if errors.Is(err, fs.ErrNotExist) {
			s.logger.Debug("file vanished before it was claimed", "file", f.Path)
		} else {
			s.logger.Error("cannot claim file; it stays in unprocessed/", "file", f.Path, "error", err)
		}
		return
	}
	started := time.Now()
	delay := time.Duration(s.cfg.Run.RetryDelay)
	for attempt := 1; ; attempt++ {
		out, res, err := s.attempt(ctx, wd, id, claimed, f.Name, attempt)
		if errors.Is(err, ErrInputKept) {
			// Done: another try would write a second result.
			s.logger.Error("result committed; the input stays in underprocess/ until the next start", "file", claimed, "output", out, "error", err)
			err = nil
		}
		if err == nil {
			s.logger.Info("file processed", "folder", wd.cfg.Dir, "file", f.Name, "pipeline", res.Pipeline,
				"output", out, "bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "duration", res.Duration, "attempts", attempt)
			s.tracker.Finish(id, tracker.Result{Output: out, BytesIn: res.BytesIn, BytesOut: res.BytesOut, Stages: stages(res.Stages)})
			return
		}
		if ctx.Err() != nil {
			s.requeue(wd, id, claimed, f.Name)
			return
		}
		if Retryable(err) && attempt <= s.cfg.Run.Retries {
			s.logger.Warn("file failed, will retry", "file", f.Name, "attempt", attempt, "retry_in", delay, "error", err)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				s.requeue(wd, id, claimed, f.Name)
				return
			}
			delay *= 2
			continue
		}
		pipeline := ""
		if pc := s.cfg.PipelineFor(wd.cfg, f.Name); pc != nil {
			pipeline = pc.Name
		}
		plugin := pluginOf(err)
		dst, ferr := wd.folder.Fail(claimed, ErrorReport{
			File: f.Name, Pipeline: pipeline, Plugin: plugin, Error: err.Error(),
			Attempts: attempt, Started: started.UTC(), Failed: time.Now().UTC(), Host: VersionString(),
		})
		if ferr != nil {
			s.logger.Error("cannot move failed file to failed/; it stays in underprocess/ until restart", "file", claimed, "error", ferr)
		}
		s.logger.Error("file failed", "folder", wd.cfg.Dir, "file", f.Name, "pipeline", pipeline, "plugin", plugin,
			"attempts", attempt, "error", err, "failed", dst)
		s.tracker.Finish(id, tracker.Result{Output: dst, BytesIn: res.BytesIn, BytesOut: res.BytesOut, Stages: stages(res.Stages), Err: err, Plugin: plugin})
		return
	}
}

// attempt runs a claimed file through its pipeline once and commits the
// result.
func (s *Service) attempt(ctx context.Context, wd *watched, id uint64, claimed, name string, attempt int) (string, Result, error) {
	var res Result
	pc := s.cfg.PipelineFor(wd.cfg, name)
	if pc == nil {
		return "", res, ErrNoPipeline
	}
	in, err := openInput(claimed)
	if err != nil {
		return "", res, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return "", res, err
	}
	size := fi.Size()
	out, err := wd.folder.CommitOpened(in, fi, name, func(w io.Writer) error {
		select {
		case s.cpu <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-s.cpu }()
		s.tracker.Start(id, pc.Name, size, attempt)
		var err error
		res, err = s.h.Process(ctx, pc.Name, name, &progressReader{r: in, t: s.tracker, id: id}, w)
		return err
	})
	return out, res, err
}

// requeue puts a claimed file back in unprocessed/ at shutdown.
func (s *Service) requeue(wd *watched, id uint64, claimed, name string) {
	s.tracker.Remove(id)
	if _, err := wd.folder.moveNoClobber(claimed, wd.folder.Unprocessed, name); err != nil {
		s.logger.Error("cannot return file to unprocessed/; it will be recovered at next start", "file", claimed, "error", err)
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
	if wd == nil || filepath.Dir(f.Output) != wd.folder.Failed {
		return fmt.Errorf("file %d: %w: not in a failed/ folder", id, fs.ErrNotExist)
	}
	if _, err := wd.folder.moveNoClobber(f.Output, wd.folder.Unprocessed, f.Name); err != nil {
		return fmt.Errorf("retry %s: %w", f.Name, err)
	}
	_ = os.Remove(f.Output + ".error.json")
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
