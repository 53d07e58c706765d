package host

import (
	"context"
	"time"
)

// cachePruneEvery is how often watch mode prunes cache_dir.
const cachePruneEvery = 24 * time.Hour

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
		res, err := h.engine.PruneCache(s.clock.Now())
		if err != nil {
			s.logger.Warn("cannot prune the compilation cache", "cache_dir", s.cfg.CacheDir, "error", err)
		}
		if res.Entries+res.Temps+res.Folders > 0 {
			s.logger.Info("compilation cache pruned", "cache_dir", s.cfg.CacheDir, "entries", res.Entries,
				"temporary", res.Temps, "old_versions", res.Folders, "bytes", res.Bytes)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(cachePruneEvery):
		}
	}
}
