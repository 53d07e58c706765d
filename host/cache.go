package host

import (
	"context"
	"time"
)

// cachePruneEvery is how often watch mode prunes cache_dir.
const cachePruneEvery = 24 * time.Hour

// PruneCache prunes cache_dir (wasm.Engine.PruneCache) and logs what it
// removed. host --input calls it once its plugins are loaded, so that the
// entries they run from count as in use.
func (h *Host) PruneCache() { h.pruneCache(time.Now()) }

func (h *Host) pruneCache(now time.Time) {
	if h.cfg.CacheDir == "" {
		return
	}
	res, err := h.engine.PruneCache(now)
	if err != nil {
		h.logger.Warn("cannot prune the compilation cache", "cache_dir", h.cfg.CacheDir, "error", err)
	}
	if res.Entries+res.Temps+res.Folders > 0 {
		h.logger.Info("compilation cache pruned", "cache_dir", h.cfg.CacheDir, "entries", res.Entries,
			"temporary", res.Temps, "old_versions", res.Folders, "bytes", res.Bytes)
	}
}

// keepCache prunes cache_dir (wasm.Engine.PruneCache) once the plugins
// have compiled, so that the entries they run from count as in use, and
// then daily: a host that runs for months while its plugins are rebuilt
// keeps only the entries some host still uses.
func (s *Service) keepCache(ctx context.Context) {
	if s.cfg.CacheDir == "" {
		return
	}
	for {
		h := s.gen.Load().h // Not held: only its plugins' Compiled channels and the engine, which outlives it, are used.
		for _, p := range h.Plugins() {
			select {
			case <-p.Compiled():
			case <-ctx.Done():
				return
			}
		}
		h.pruneCache(s.clock.Now())
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(cachePruneEvery):
		}
	}
}
