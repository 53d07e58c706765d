package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasmtest"
)

// The looping plugin's pipeline, with a grace period and call limit that a
// test can wait out: the call limit is far longer than the test.
const loopConfig = `
[run]
workers = 1
settle = "50ms"
grace = "1s"

[dashboard]
enabled = false

[[pipeline]]
name = "loop"
match = ["*.loop"]
plugins = ["loop"]

[[pipeline]]
name = "text"
plugins = ["upper"]

[plugins.loop]
call_timeout = "1h"
`

// loopProject is a project whose plugin "loop" loops for ever on a chunk
// starting with "!" (after logging "looping"), with one such file waiting.
func loopProject(t *testing.T) (dir, input string) {
	t.Helper()
	dir = project(t, loopConfig)
	data, err := os.ReadFile(wasmtest.Hostile(t, "loop_logged"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "plugins", "loop.wasm"), data, 0o644)
	input = filepath.Join(dir, "watch_dir", "unprocessed", "stuck.loop")
	os.MkdirAll(filepath.Dir(input), 0o755)
	os.WriteFile(input, []byte("!spin\n"), 0o644)
	return dir, input
}

// exitsSoon waits for cmd to exit after a signal: within run.grace plus a
// few seconds; the bound is a liveness limit, not a measurement.
func exitsSoon(t *testing.T, cmd *exec.Cmd, log *lineLog) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(1*time.Second + 10*time.Second):
		cmd.Process.Kill()
		t.Fatalf("no exit within run.grace + 10s of SIGTERM while a plugin loops\n%s", log.String())
	}
}

// recoverable checks that the stuck file is not lost: a host started on
// the folder afterwards, with the loop pipeline now pointing at upper,
// processes it.
func recoverable(t *testing.T, dir string) {
	t.Helper()
	wd := filepath.Join(dir, "watch_dir")
	cfg := strings.Replace(loopConfig, `plugins = ["loop"]`, `plugins = ["upper"]`, 1)
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("cache_dir = "+quote(filepath.Join(os.TempDir(), "wasmtest-cache"))+"\n"+cfg), 0o644)
	cmd, _ := startWatch(t, dir)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitUntil(t, "the stuck file processed after a restart", time.Minute, func() bool {
		data, _ := os.ReadFile(filepath.Join(wd, "processed", "stuck.loop"))
		return string(data) == "!SPIN\n"
	})
	// The result is published before the claimed original is removed, so
	// underprocess/ empties just after processed/ fills.
	waitUntil(t, "underprocess/ empty after the stuck file was processed", time.Minute, func() bool {
		return len(entries(t, filepath.Join(wd, "underprocess"))) == 0
	})
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `\`, `\\`) + `"` }

// SIGTERM stops `host --input` while its plugin loops, and the file is
// left to be recovered.
func TestSignalStopsInputWithLoopingPlugin(t *testing.T) {
	dir, input := loopProject(t)
	cmd := exec.Command(bin, "--input", input, "--log-format", "json")
	cmd.Dir = dir
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := &lineLog{}
	go log.read(stderr)
	waitUntil(t, "the plugin looping", time.Minute, func() bool { return strings.Contains(log.String(), `"msg":"looping"`) })
	cmd.Process.Signal(syscall.SIGTERM)
	exitsSoon(t, cmd, log)
	// The claimed file went back, untouched, and nothing else was left.
	if got, _ := os.ReadFile(input); string(got) != "!spin\n" {
		t.Errorf("%s = %q after SIGTERM, want the file back in unprocessed/", input, got)
	}
	for _, sub := range []string{"underprocess", "processed", "failed"} {
		if left := entries(t, filepath.Join(dir, "watch_dir", sub)); len(left) != 0 {
			t.Errorf("left in %s/ after SIGTERM: %v", sub, left)
		}
	}
	recoverable(t, dir)
}

// SIGTERM stops `host --watch` while its only worker's plugin loops.
func TestSignalStopsWatchWithLoopingPlugin(t *testing.T) {
	dir, _ := loopProject(t)
	cmd, log := startWatch(t, dir)
	waitUntil(t, "the plugin looping", time.Minute, func() bool { return strings.Contains(log.String(), `"msg":"looping"`) })
	cmd.Process.Signal(syscall.SIGTERM)
	exitsSoon(t, cmd, log)
	recoverable(t, dir)
}

// A plugin that loops in plugin_configure fails `host --check` at its
// call_timeout instead of hanging it.
func TestCheckWithLoopingConfigure(t *testing.T) {
	dir := project(t, `
[[pipeline]]
name = "text"
plugins = ["hang"]

[plugins.hang]
call_timeout = "500ms"
`)
	data, err := os.ReadFile(wasmtest.Hostile(t, "loop_configure"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "plugins", "hang.wasm"), data, 0o644)
	r := runHost(t, dir, nil, "--check")
	want := "configure: plugin_configure stopped: did not return within 500ms (call_timeout)"
	if r.code != 2 || !strings.Contains(r.stderr, "host: plugin hang (") || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}
}
