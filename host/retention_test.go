package host

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Watch mode sweeps every watched folder's processed/ and failed/ at start
// and then every retention.every, through the folder protocol.
func TestServiceRetention(t *testing.T) {
	h, dir := newHost(t, `
[run]
sync = false
[[pipeline]]
name = "all"
plugins = ["upper"]
[retention]
every = "50ms"
[retention.processed]
max_files = 1
[retention.failed]
max_age = "1h"
`, testPlugins(t))
	w := filepath.Join(dir, "watch_dir")
	now := time.Now()
	for name, age := range map[string]time.Duration{"processed/1": 2 * time.Hour, "processed/2": time.Hour, "failed/x": 0, "failed/x.error.json": 2 * time.Hour} {
		p := filepath.Join(w, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("data"), 0o644)
		os.Chtimes(p, now.Add(-age), now.Add(-age))
	}
	startService(t, h)
	waitFor(t, "the sweep", func() bool {
		p, _ := readNames(filepath.Join(w, "processed"))
		f, _ := readNames(filepath.Join(w, "failed"))
		return slices.Equal(p, []string{"2"}) && len(f) == 0
	})
}
