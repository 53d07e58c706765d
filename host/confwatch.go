package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadQuiet is how long the config file and the plugins must have had
// no event and kept their size and mtime before a change is reloaded: a
// .wasm still being copied is waited for, not loaded half.
const reloadQuiet = 500 * time.Millisecond

// watchConfig reloads, by itself, when the config file, a .wasm it names
// or a .wasm in plugin_dir is created, replaced (editors that save by
// rename-over included), changed or removed. It watches the folders that
// hold them, not the files, so a replaced file is still seen.
func (s *Service) watchConfig(ctx context.Context) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		s.logger.Warn("config changes are not watched; reload with SIGHUP or the dashboard", "error", err)
		return
	}
	defer fsw.Close()
	watching := map[string]bool{}
	rewatch := func() {
		dirs := s.configDirs()
		for dir := range watching {
			if !slices.Contains(dirs, dir) {
				_ = fsw.Remove(dir)
				delete(watching, dir)
			}
		}
		for _, dir := range dirs {
			if !watching[dir] {
				if err := fsw.Add(dir); err == nil {
					watching[dir] = true
				}
			}
		}
	}
	rewatch()
	// A change made while the host started, after its files were read and
	// before the folders were watched, has no event: compare with what the
	// running configuration was read from.
	settled := s.fingerprint()
	var quiet <-chan time.Time
	pending := settled != s.gen.Load().h.read
	if pending {
		quiet = s.clock.After(reloadQuiet)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fsw.Events:
			if !ok {
				return
			}
			if s.configRelevant(ev.Name) {
				pending = true
				quiet = s.clock.After(reloadQuiet)
			}
		case err, ok := <-fsw.Errors:
			if !ok {
				return
			}
			s.logger.Warn("config watch", "error", err) // an overflow: look again
			pending = true
			quiet = s.clock.After(reloadQuiet)
		case <-quiet:
			quiet = nil
			if !pending {
				continue
			}
			now := s.fingerprint()
			if now != settled {
				// Still changing (a copy in progress): wait for it to stop.
				settled = now
				quiet = s.clock.After(reloadQuiet)
				continue
			}
			pending = false
			if now == s.gen.Load().h.read {
				continue // touched, not changed
			}
			if err := s.Reload(ctx); errors.Is(err, ErrReloadBusy) {
				pending = true // try again once the running one is done
				quiet = s.clock.After(reloadQuiet)
				continue
			}
			rewatch() // plugin_dir or plugin paths may have changed
		}
	}
}

// fingerprint is the size and mtime of the config file and of every .wasm
// a reload would read.
func (s *Service) fingerprint() string { return fingerprint(s.gen.Load().h.cfg) }

// fingerprint is the size and mtime of cfg's file and of every .wasm cfg
// names or its plugin_dir holds, as they are now.
func fingerprint(cfg Config) string { return stamp(cfg.File) + pluginStamps(cfg) }

// readFingerprint is fingerprint with the config file as LoadConfig found
// it before reading it, so that a save while it was read still counts as
// a change. The plugins are stamped now: call it before reading them.
func readFingerprint(cfg Config) string {
	if cfg.fileStamp == "" {
		return fingerprint(cfg)
	}
	return cfg.fileStamp + pluginStamps(cfg)
}

// pluginStamps stamps every .wasm cfg names or its plugin_dir holds, in
// a fixed order.
func pluginStamps(cfg Config) string {
	var paths []string
	for _, pc := range cfg.Plugins {
		if pc.Path != "" {
			paths = append(paths, pc.Path)
		}
	}
	slices.Sort(paths) // map order is random
	if ents, err := os.ReadDir(cfg.PluginDir); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".wasm") {
				paths = append(paths, filepath.Join(cfg.PluginDir, e.Name()))
			}
		}
	}
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(stamp(p))
	}
	return b.String()
}

// stamp is path's mtime and size, or that it is missing.
func stamp(path string) string {
	if fi, err := os.Stat(path); err == nil {
		return fmt.Sprintf("%s\x00%d\x00%d\n", path, fi.ModTime().UnixNano(), fi.Size())
	}
	return path + "\x00-\n"
}

// configDirs are the folders holding the config file and the plugins.
func (s *Service) configDirs() []string {
	cfg := s.gen.Load().h.cfg
	dirs := []string{filepath.Dir(s.cfg.File)}
	if cfg.PluginDir != "" {
		dirs = append(dirs, cfg.PluginDir)
	}
	for _, pc := range cfg.Plugins {
		if pc.Path != "" {
			dirs = append(dirs, filepath.Dir(pc.Path))
		}
	}
	for i, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			dirs[i] = abs
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// configRelevant reports whether an event's path is one a reload reads.
func (s *Service) configRelevant(path string) bool {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	path = abs(path)
	if path == abs(s.cfg.File) {
		return true
	}
	cfg := s.gen.Load().h.cfg
	if strings.HasSuffix(path, ".wasm") && filepath.Dir(path) == abs(cfg.PluginDir) {
		return true
	}
	for _, pc := range cfg.Plugins {
		if pc.Path != "" && abs(pc.Path) == path {
			return true
		}
	}
	return false
}
