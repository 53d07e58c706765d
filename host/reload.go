package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filehost/host/internal/wasm"
)

// generation is one loaded configuration in use by watch mode. A file
// holds the generation current when it was claimed until it is done, so a
// reload never changes the pipeline of a file in flight; a replaced
// generation is released once its last file is done.
type generation struct {
	n      int
	h      *Host
	loaded time.Time

	refs    atomic.Int64
	retired atomic.Bool
	release sync.Once
	onDone  func(*generation) // called once, when retired and drained
}

func (g *generation) done() {
	if g.refs.Add(-1) == 0 && g.retired.Load() {
		g.release.Do(func() { g.onDone(g) })
	}
}

func (g *generation) retire() {
	g.retired.Store(true)
	if g.refs.Load() == 0 {
		g.release.Do(func() { g.onDone(g) })
	}
}

// acquire returns the current generation, held: call done when the file
// is finished with it.
func (s *Service) acquire() *generation {
	for {
		g := s.gen.Load()
		g.refs.Add(1)
		if s.gen.Load() == g {
			return g
		}
		g.done()
	}
}

// install makes h the current generation and releases the previous one
// once it is drained. s.reloadMu must be held (or the service not running).
func (s *Service) install(h *Host) *generation {
	h.owned = true
	s.pluginsMu.Lock()
	for _, p := range h.plugins {
		s.pluginRefs[p]++
	}
	s.pluginsMu.Unlock()
	g := &generation{n: s.genCount + 1, h: h, loaded: time.Now(), onDone: s.drained}
	s.genCount = g.n
	old := s.gen.Swap(g)
	if old != nil {
		old.retire()
	}
	return g
}

// drained closes the plugins of a released generation that no newer one
// shares.
func (s *Service) drained(g *generation) {
	s.pluginsMu.Lock()
	var closing []*wasm.Plugin
	for _, p := range g.h.plugins {
		s.pluginRefs[p]--
		if s.pluginRefs[p] == 0 {
			delete(s.pluginRefs, p)
			closing = append(closing, p)
		}
	}
	s.pluginsMu.Unlock()
	for _, p := range closing {
		_ = p.Close(context.Background())
	}
	s.logger.Debug("configuration generation released", "generation", g.n, "plugins_closed", len(closing))
}

// ReloadStatus is what the last reload did, for the dashboard and
// /api/status.
type ReloadStatus struct {
	Generation int       `json:"generation"` // the configuration in use, from 1
	LoadedAt   time.Time `json:"loaded_at"`  // when it took over
	// Last is the last reload tried: when, whether it took effect, and why not.
	LastAt    time.Time `json:"last_reload_at,omitzero"`
	LastOK    bool      `json:"last_reload_ok"`
	LastError string    `json:"last_reload_error,omitempty"`
	// NeedsRestart lists the changed settings that take effect only at the
	// next start; the rest of the reload was applied.
	NeedsRestart []string `json:"needs_restart,omitempty"`
	Reloads      int64    `json:"reloads"`        // reloads that took effect
	Failed       int64    `json:"failed_reloads"` // reloads that changed nothing
}

// ReloadStatus returns what the last reload did and the generation in use.
func (s *Service) ReloadStatus() ReloadStatus {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := s.status
	st.NeedsRestart = slices.Clone(st.NeedsRestart)
	return st
}

// ErrReloadBusy is returned by Reload while another reload runs.
var ErrReloadBusy = errors.New("a reload is already running")

// Reload reads the config file again and, if it is valid and every plugin
// loads, switches to it: files claimed from then on use the new
// pipelines, files in flight finish with theirs. Unchanged plugins (same
// path, same sha256, same settings and limits) are kept as they are. On
// any error nothing changes and the error is returned (and kept for
// ReloadStatus until a good reload).
func (s *Service) Reload(ctx context.Context) error {
	if !s.reloadMu.TryLock() {
		return ErrReloadBusy
	}
	defer s.reloadMu.Unlock()
	return s.reloadLocked(ctx)
}

// ReloadWait is Reload that waits for a running reload to end instead of
// returning ErrReloadBusy, for SIGHUP: a change saved while a reload runs
// may come after that reload read the file, and must not be dropped.
func (s *Service) ReloadWait(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reloadLocked(ctx)
}

// reloadLocked reloads, with reloadMu held, and records the outcome.
func (s *Service) reloadLocked(ctx context.Context) error {
	err := s.reload(ctx)
	s.statusMu.Lock()
	s.status.LastAt = time.Now()
	s.status.LastOK = err == nil
	if err != nil {
		s.status.LastError = err.Error()
		s.status.Failed++
	} else {
		s.status.LastError = ""
		s.status.Reloads++
		g := s.gen.Load()
		s.status.Generation, s.status.LoadedAt = g.n, g.loaded
	}
	s.statusMu.Unlock()
	if err != nil {
		s.logger.Error("reload failed; the running configuration stays", "config", s.cfg.File, "error", err)
	}
	return err
}

func (s *Service) reload(ctx context.Context) error {
	cur := s.gen.Load()
	if cur == nil {
		return errors.New("the service has stopped")
	}
	cfg, err := LoadConfig(s.cfg.File)
	if err != nil {
		return err
	}
	start := time.Now()
	opts := Options{Logger: s.logger, Instances: cur.h.instances}
	h, err := load(ctx, cur.h.engine, cfg, opts, func(spec wasm.Spec) *wasm.Plugin {
		return cur.h.unchanged(spec)
	})
	if err != nil {
		return err
	}
	restart := needsRestart(s.cfg, cfg)
	reused := 0
	for name, p := range h.plugins {
		if cur.h.plugins[name] == p {
			reused++
		}
	}
	g := s.install(h)
	s.statusMu.Lock()
	s.status.NeedsRestart = restart
	s.statusMu.Unlock()
	s.logger.Info("configuration reloaded", "generation", g.n, "plugins", len(h.plugins), "unchanged", reused,
		"pipelines", len(cfg.Pipeline), "took", time.Since(start))
	if len(restart) > 0 {
		s.logger.Warn("changed settings take effect at the next start", "settings", restart)
	}
	return nil
}

// unchanged returns h's plugin loaded from spec if the spec and the
// file's content are the same, else nil.
func (h *Host) unchanged(spec wasm.Spec) *wasm.Plugin {
	p, ok := h.plugins[spec.Name]
	if !ok || !reflect.DeepEqual(h.specs[spec.Name], spec) {
		return nil
	}
	sum, err := fileSHA256(spec.Path)
	if err != nil || sum != p.SHA256() {
		return nil
	}
	return p
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// needsRestart lists the settings that differ between the running config
// and a reloaded one and that a reload cannot apply.
func needsRestart(old, cfg Config) []string {
	var keys []string
	diff := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			keys = append(keys, key)
		}
	}
	diff("cache_dir", old.CacheDir, cfg.CacheDir)
	if len(old.Watch) != len(cfg.Watch) {
		keys = append(keys, "watch (folders added or removed)")
	} else {
		for i := range old.Watch {
			diff(fmt.Sprintf("watch[%d].dir", i+1), old.Watch[i].Dir, cfg.Watch[i].Dir)
			diff(fmt.Sprintf("watch[%d].archive", i+1), old.Watch[i].Archive, cfg.Watch[i].Archive)
		}
	}
	r, n := old.Run, cfg.Run
	diff("run.workers", r.Workers, n.Workers)
	diff("run.queue", r.Queue, n.Queue)
	diff("run.settle", r.Settle, n.Settle)
	diff("run.rescan", r.Rescan, n.Rescan)
	diff("run.poll", r.Poll, n.Poll)
	diff("run.sync", r.Sync, n.Sync)
	diff("run.grace", r.Grace, n.Grace)
	diff("run.history", r.History, n.History)
	diff("dashboard", old.Web, cfg.Web)
	diff("limits.memory_budget", old.Limits.MemoryBudget, cfg.Limits.MemoryBudget)
	diff("retention", old.Retention, cfg.Retention)
	return keys
}

// watchConfig returns h's entry for the watched folder wc (by dir): its
// pipelines list may have changed in a reload.
func (h *Host) watchConfig(wc WatchConfig) WatchConfig {
	for _, w := range h.cfg.Watch {
		if w.Dir == wc.Dir {
			return w
		}
	}
	return wc
}
