package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/internal/clock"
	"github.com/filehost/host/internal/wasmtest"
)

// Watch mode prunes cache_dir once its plugins have compiled, and again
// every day (wasm.Engine.PruneCache has the rules): an entry no host has
// used for a month goes, the one the host runs from stays.
func TestServicePrunesCache(t *testing.T) {
	h, dir := newHostCache(t, "cache", `
[run]
settle = "0s"
sync = false
[[pipeline]]
name = "up"
plugins = ["upper"]
`, map[string]string{"upper": wasmtest.Plugin(t, "upper")})
	cache := filepath.Join(dir, "cache")
	folders, _ := filepath.Glob(filepath.Join(cache, "wazy-*"))
	if len(folders) != 1 {
		t.Fatalf("cache folders %v", folders)
	}
	now := time.Now()
	entry := func(b byte, age time.Duration) string {
		path := filepath.Join(folders[0], strings.Repeat(string("0123456789"[b]), 64))
		os.WriteFile(path, []byte("x"), 0o644)
		os.Chtimes(path, now.Add(-age), now.Add(-age))
		return path
	}
	stale := entry(1, 31*24*time.Hour)
	aging := entry(2, 29*24*time.Hour)
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }

	fake := clock.NewFake(now)
	svc, stop := startServiceWith(t, h, ServiceOptions{Clock: fake, NoConfigWatch: true})
	defer func() {
		stopped := make(chan struct{})
		defer close(stopped)
		go func() { // the grace period runs on the fake clock too
			for {
				select {
				case <-stopped:
					return
				case <-time.After(10 * time.Millisecond):
					fake.Advance(time.Minute)
				}
			}
		}()
		stop()
	}()
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	waitFor(t, "the first prune", func() bool { return !exists(stale) })
	if !exists(aging) {
		t.Fatal("an entry used 29 days ago was pruned")
	}
	// Two days on, the daily prune finds it 31 days unused.
	waitFor(t, "the next day's prune", func() bool {
		fake.Advance(time.Hour)
		return !exists(aging)
	})
	if n, _ := filepath.Glob(filepath.Join(folders[0], "*")); len(n) != 1 {
		t.Errorf("cache holds %v; want only the plugin's entry", n)
	}
}
