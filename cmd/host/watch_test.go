package main_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const watchConfig = `
[run]
workers = 2
settle = "50ms"
rescan = "2s"
grace = "10s"
sync = false # kill -9 safety does not rely on fsync; more files per round

[dashboard]
enabled = false

[[pipeline]]
name = "text"
plugins = ["upper", "upper", "upper"]
`

// startWatch starts `host --watch` in dir and returns it with its stderr.
func startWatch(t *testing.T, dir string, extra ...string) (*exec.Cmd, *lineLog) {
	t.Helper()
	return startWatchEnv(t, dir, nil, extra...)
}

// startWatchEnv is startWatch with more environment variables.
func startWatchEnv(t *testing.T, dir string, env []string, extra ...string) (*exec.Cmd, *lineLog) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--watch", "--log-format", "json"}, extra...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := &lineLog{}
	go log.read(stderr)
	return cmd, log
}

// lineLog collects a process's log lines as they come.
type lineLog struct {
	mu  sync.Mutex
	all strings.Builder
}

func (l *lineLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l.mu.Lock()
		l.all.WriteString(sc.Text() + "\n")
		l.mu.Unlock()
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != ".gitkeep" {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestWatchSignalStopsCleanly(t *testing.T) {
	dir := project(t, watchConfig)
	wd := filepath.Join(dir, "watch_dir")
	os.MkdirAll(filepath.Join(wd, "unprocessed"), 0o755)
	os.WriteFile(filepath.Join(wd, "unprocessed", "a.txt"), []byte("hello\n"), 0o644)
	cmd, log := startWatch(t, dir)
	waitUntil(t, "a.txt processed", 30*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(wd, "processed", "a.txt"))
		return string(data) == "HELLO\n"
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), `"msg":"file processed"`) {
		t.Errorf("no log line for the file:\n%s", log.String())
	}
	// A second host on the same folder is refused while one runs.
	cmd, log = startWatch(t, dir)
	waitUntil(t, "the first host watching", 30*time.Second, func() bool { return strings.Contains(log.String(), `"msg":"watching"`) })
	r := runHost(t, dir, nil, "--watch")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if r.code == 0 || !strings.Contains(r.stderr, "in use by another host") || strings.Contains(r.stderr, "host: host:") {
		t.Errorf("second host: exit %d, %q", r.code, r.stderr)
	}
}

// kill -9 at random moments during a 2,000-file run, 20 times; then every
// input is in exactly one of processed/ or failed/, every output is
// complete and correct, and no temporary file is left.
func TestWatchSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	dir := project(t, watchConfig)
	wd := filepath.Join(dir, "watch_dir")
	in := filepath.Join(wd, "unprocessed")
	os.MkdirAll(in, 0o755)
	const files = 2000
	want := map[string]string{}
	for i := range files {
		name := fmt.Sprintf("file-%04d.txt", i)
		var b strings.Builder
		for j := range 1 + i%50 {
			fmt.Fprintf(&b, "file %d line %d %s\n", i, j, strings.Repeat("x", i%200))
		}
		os.WriteFile(filepath.Join(in, name), []byte(b.String()), 0o644)
		want[name] = strings.ToUpper(b.String())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		cmd, _ := startWatch(t, dir)
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("round %d: %d processed", round, len(entries(t, filepath.Join(wd, "processed"))))
	}
	cmd, log := startWatch(t, dir)
	waitUntil(t, "every file", 5*time.Minute, func() bool {
		// Started (signals handled), and done: the earlier rounds may have
		// finished every file already.
		return strings.Contains(log.String(), `"msg":"watching"`) &&
			len(entries(t, filepath.Join(wd, "processed")))+len(entries(t, filepath.Join(wd, "failed"))) >= files &&
			len(entries(t, in)) == 0 && len(entries(t, filepath.Join(wd, "underprocess"))) == 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v\n%s", err, log.String())
	}

	if failed := entries(t, filepath.Join(wd, "failed")); len(failed) != 0 {
		t.Errorf("failed/ = %v", failed[:min(len(failed), 10)])
	}
	got := entries(t, filepath.Join(wd, "processed"))
	if len(got) != files {
		t.Errorf("processed/ has %d files, want %d", len(got), files)
	}
	for _, name := range got {
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected %s in processed/ (a temp file, or a file processed twice)", name)
			continue
		}
		data, _ := os.ReadFile(filepath.Join(wd, "processed", name))
		if string(data) != w {
			t.Errorf("%s: %d bytes, want %d", name, len(data), len(w))
		}
	}
	for _, sub := range []string{"unprocessed", "underprocess", "processed", "failed"} {
		for _, name := range entries(t, filepath.Join(wd, sub)) {
			if strings.HasPrefix(name, ".host-tmp-") {
				t.Errorf("temp file left: %s/%s", sub, name)
			}
		}
	}
}

// A file the host cannot read fails at once with the reason; the host runs
// as an unprivileged user here, since root reads anything.
func TestWatchUnreadableFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the host as another user")
	}
	dir := project(t, strings.Replace(watchConfig, "[run]", "[run]\nretries = 0", 1))
	// The project and the binary must be usable by nobody.
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
	cfg = []byte(strings.Replace(string(cfg), "cache_dir = ", "# cache_dir = ", 1))
	os.WriteFile(filepath.Join(dir, "config.toml"), cfg, 0o644)
	wd := filepath.Join(dir, "watch_dir")
	for _, sub := range []string{"unprocessed", "underprocess", "processed", "failed"} {
		os.MkdirAll(filepath.Join(wd, sub), 0o755)
	}
	os.WriteFile(filepath.Join(wd, "unprocessed", "secret.txt"), []byte("top secret\n"), 0o000)
	os.WriteFile(filepath.Join(wd, "unprocessed", "open.txt"), []byte("open\n"), 0o644)
	for _, p := range []string{filepath.Dir(dir), dir} {
		os.Chmod(p, 0o755)
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && filepath.Base(p) != "secret.txt" {
			os.Lchown(p, 65534, 65534)
		}
		return nil
	})
	nobodyBin := filepath.Join(dir, "host")
	data, _ := os.ReadFile(bin)
	os.WriteFile(nobodyBin, data, 0o755)

	cmd := exec.Command(nobodyBin, "--watch", "--log-format", "json")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both files handled", 60*time.Second, func() bool {
		_, e1 := os.Stat(filepath.Join(wd, "failed", "secret.txt.error.json"))
		_, e2 := os.Stat(filepath.Join(wd, "processed", "open.txt"))
		return e1 == nil && e2 == nil
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	rep, _ := os.ReadFile(filepath.Join(wd, "failed", "secret.txt.error.json"))
	if !strings.Contains(string(rep), "permission denied") || !strings.Contains(string(rep), `"attempts": 1`) {
		t.Errorf("report: %s", rep)
	}
}

// SIGHUP reloads the configuration and does not stop the host (systemd's
// ExecReload sends it).
func TestWatchSIGHUPReloads(t *testing.T) {
	dir := project(t, strings.Replace(watchConfig, `plugins = ["upper", "upper", "upper"]`, `plugins = ["upper"]`, 1))
	wd := filepath.Join(dir, "watch_dir")
	os.MkdirAll(filepath.Join(wd, "unprocessed"), 0o755)
	cmd, log := startWatch(t, dir)
	defer cmd.Process.Kill()
	waitUntil(t, "watching", 30*time.Second, func() bool { return strings.Contains(log.String(), `"msg":"watching"`) })
	reloads := func(n int) func() bool {
		return func() bool { return strings.Count(log.String(), `"msg":"configuration reloaded"`) >= n }
	}
	cmd.Process.Signal(syscall.SIGHUP) // nothing changed: a reload all the same
	waitUntil(t, "the first reload", 30*time.Second, reloads(1))
	// Two signals sent at once may coalesce into one reload, as Unix
	// signals do: the second is sent once the first has been handled.
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
	cfg = []byte(strings.Replace(string(cfg), `plugins = ["upper"]`, `plugins = ["faulty"]`, 1))
	os.WriteFile(filepath.Join(dir, "config.toml"), cfg, 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the second reload", 30*time.Second, reloads(2))
	os.WriteFile(filepath.Join(wd, "unprocessed", "a.txt"), []byte("fail\n"), 0o644)
	waitUntil(t, "the new pipeline", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(wd, "failed", "a.txt.error.json"))
		return err == nil
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, log.String())
	}
}

// A cold start (an empty cache_dir) is ready while its plugin still
// compiles: files are taken in the interpreter, the compiled code lands in
// the cache, and the next start has nothing to compile.
func TestWatchColdStartCompilesInTheBackground(t *testing.T) {
	dir := project(t, watchConfig)
	cache := filepath.Join(dir, "cache")
	conf := "cache_dir = " + strconv.Quote(cache) + "\n" + watchConfig
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(dir, "watch_dir")
	os.MkdirAll(filepath.Join(wd, "unprocessed"), 0o755)
	os.WriteFile(filepath.Join(wd, "unprocessed", "a.txt"), []byte("cold\n"), 0o644)
	processed := func(name, want string) func() bool {
		return func() bool {
			data, _ := os.ReadFile(filepath.Join(wd, "processed", name))
			return string(data) == want
		}
	}
	stop := func(cmd *exec.Cmd, log *lineLog) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	}

	cmd, log := startWatch(t, dir)
	waitUntil(t, "ready", time.Minute, func() bool { return strings.Contains(log.String(), `"msg":"watching"`) })
	if !strings.Contains(log.String(), `"compiling":1`) {
		t.Errorf("cold start: the ready line does not count upper as compiling:\n%s", log.String())
	}
	waitUntil(t, "a.txt processed", time.Minute, processed("a.txt", "COLD\n"))
	waitUntil(t, "upper compiled", 5*time.Minute, func() bool {
		return strings.Contains(log.String(), `"msg":"plugin compiled","plugin":"upper"`)
	})
	os.WriteFile(filepath.Join(wd, "unprocessed", "b.txt"), []byte("compiled\n"), 0o644)
	waitUntil(t, "b.txt processed", time.Minute, processed("b.txt", "COMPILED\n"))
	stop(cmd, log)

	cmd, log = startWatch(t, dir)
	waitUntil(t, "ready", time.Minute, func() bool { return strings.Contains(log.String(), `"msg":"watching"`) })
	os.WriteFile(filepath.Join(wd, "unprocessed", "c.txt"), []byte("warm\n"), 0o644)
	waitUntil(t, "c.txt processed", time.Minute, processed("c.txt", "WARM\n"))
	stop(cmd, log)
	if s := log.String(); !strings.Contains(s, `"compiling":0`) || strings.Contains(s, "plugin compiled") {
		t.Errorf("warm start compiled again:\n%s", s)
	}
}
