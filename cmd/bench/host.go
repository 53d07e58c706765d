package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// chainConfig returns a config for a pipeline of chain, in watch folder
// watch (relative to the config file or absolute), with each plugin's
// settings from stages, and the harness's compilation cache.
func (b *bench) chainConfig(chain []string, watch string, durable bool) string {
	return b.chainConfigIn(chain, b.cacheDir(), watch, durable)
}

// chainConfigIn is chainConfig with the compilation cache cache.
func (b *bench) chainConfigIn(chain []string, cache, watch string, durable bool) string {
	var c strings.Builder
	fmt.Fprintf(&c, "plugin_dir = %s\n", strconv.Quote(b.o.plugins))
	fmt.Fprintf(&c, "cache_dir = %s\n\n", strconv.Quote(cache))
	fmt.Fprintf(&c, "[[watch]]\ndir = %s\n\n", strconv.Quote(watch))
	fmt.Fprintf(&c, "[[pipeline]]\nname = \"bench\"\nplugins = [%s]\n\n", quoteList(chain))
	fmt.Fprintf(&c, "[run]\nworkers = %d\nsettle = %q\nsync = %t\n\n", b.o.workers, b.o.settle.String(), durable)
	c.WriteString("[dashboard]\nenabled = false\n")
	for _, name := range chain {
		if s, _ := stageOf(name); s.toml != "" {
			fmt.Fprintf(&c, "\n[plugins.%s]\nconfig = %s\n", strconv.Quote(name), s.toml)
		}
	}
	return c.String()
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// cacheDir is the compilation cache of the chains' runs, warmed once per
// chain so that they measure processing, not compiling.
func (b *bench) cacheDir() string { return filepath.Join(b.tmp, "cache") }

func (b *bench) warmCache(ctx context.Context, chain []string) error {
	key := strings.Join(chain, ",")
	if b.warmed[key] {
		return nil
	}
	dir := filepath.Join(b.tmp, "warm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(b.chainConfig(chain, "watch", true)), 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, b.o.host, "--config", cfg, "--check").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --check: %w\n%s", b.o.host, err, out)
	}
	if b.warmed == nil {
		b.warmed = map[string]bool{}
	}
	b.warmed[key] = true
	return nil
}

// hostMover is bin/host --watch. Processed times come from its JSON log:
// the time of each "file processed" line, which the service writes right
// after the file's commit to processed/ returns. The log goes to a file
// that is read after the run: reading it through a pipe as it is written
// would wake this process for every line, on the CPUs the host is using.
type hostMover struct {
	child
	log string
}

// hostLine is what the harness reads of a log line.
type hostLine struct {
	Time time.Time `json:"time"`
	Msg  string    `json:"msg"`
	File string    `json:"file"`
}

func (b *bench) startHost(ctx context.Context, dir, watch string, chain []string, durable bool) (*hostMover, error) {
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(b.chainConfig(chain, watch, durable)), 0o644); err != nil {
		return nil, err
	}
	m := &hostMover{child: child{done: make(chan struct{})}, log: filepath.Join(dir, "host.log")}
	logFile, err := os.Create(m.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	m.cmd = exec.Command(b.o.host, "--config", cfg, "--watch", "--log-format", "json", "--log-level", "info")
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's ^C goes to us, and we stop it
	m.cmd.Stderr = logFile
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.done)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(m.log); err == nil && bytes.Contains(data, []byte(`"msg":"watching"`)) {
			return m, nil
		}
		select {
		case <-tick.C:
		case <-m.done:
			return nil, fmt.Errorf("host exited before it was ready: %v%s", m.waitErr, m.describe())
		case <-ctx.Done():
			_ = m.stop()
			return nil, fmt.Errorf("host not ready: %w%s", ctx.Err(), m.describe())
		}
	}
}

// lines reads the host's log so far.
func (m *hostMover) lines() ([]hostLine, []string) {
	data, _ := os.ReadFile(m.log)
	var parsed []hostLine
	var raw []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l hostLine
		_ = json.Unmarshal([]byte(line), &l)
		parsed = append(parsed, l)
		raw = append(raw, line)
	}
	return parsed, raw
}

// stop sends SIGTERM, the graceful shutdown, and waits; a host that does
// not stop within a minute is killed.
func (m *hostMover) stop() error {
	return m.stopWith(func() error {
		if !terminate(m.cmd, m.done, m.cmd.Process.Pid, time.Minute) {
			return fmt.Errorf("host did not stop within a minute of SIGTERM")
		}
		return m.waitErr
	})
}

// child is a process under test that runs until it is stopped.
type child struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed once the process has exited
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

func (c *child) exited() <-chan struct{} { return c.done }

// stopWith stops the process with end, once, unless it has exited on its
// own, which is an error.
func (c *child) stopWith(end func() error) error {
	c.stopOnce.Do(func() {
		select {
		case <-c.done:
			c.stopErr = fmt.Errorf("exited on its own: %v", c.waitErr)
		default:
			c.stopErr = end()
		}
	})
	return c.stopErr
}

// terminate sends SIGTERM to pid (a process group if negative), waits
// until done is closed, and after patience kills cmd's process group
// (cmd runs with Setpgid). It reports whether SIGTERM was enough.
func terminate(cmd *exec.Cmd, done <-chan struct{}, pid int, patience time.Duration) bool {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-done:
		return true
	case <-time.After(patience):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return false
	}
}

func (m *hostMover) times(names []string) (map[string]time.Time, string) {
	parsed, _ := m.lines()
	processed := make(map[string]time.Time, len(names))
	for _, l := range parsed {
		if l.Msg == "file processed" {
			processed[l.File] = l.Time
		}
	}
	return processed, "host log"
}

// cpu reads the host's user and system time from /proc/PID/stat, counted
// in clock ticks of 10 ms (USER_HZ is 100 on Linux).
func (m *hostMover) cpu() (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", m.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is the first, utime the 12th, stime the 13th.
	rest := string(data)
	rest = rest[strings.LastIndexByte(rest, ')')+1:]
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// describe quotes the host's failures, or the last lines of its log.
func (m *hostMover) describe() string {
	parsed, raw := m.lines()
	var failed, tail []string
	for i, l := range parsed {
		switch l.Msg {
		case "file failed":
			failed = append(failed, raw[i])
		case "file processed":
		default:
			tail = append(tail, raw[i])
		}
	}
	lines := tail[max(len(tail)-10, 0):]
	if len(failed) > 0 {
		lines = failed[:min(len(failed), 3)]
	}
	if len(lines) == 0 || lines[0] == "" {
		return ""
	}
	return "; host log:\n  " + strings.Join(lines, "\n  ")
}

// startupPhase times bin/host --watch from exec to ready with o.startup
// plugin entries, first with an empty compilation cache, then with the
// cache it filled.
func (b *bench) startupPhase(ctx context.Context, _ []byte) error {
	dir := filepath.Join(b.tmp, "startup")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, distinct, err := b.startupEntries()
	if err != nil {
		return err
	}
	b.res.Params["startup_plugins"] = len(entries)
	b.res.Params["startup_distinct_wasm"] = distinct
	for rep := 1; rep <= b.o.reps; rep++ {
		cache, err := os.MkdirTemp(dir, "cache-")
		if err != nil {
			return err
		}
		cfg := filepath.Join(dir, "config.toml")
		conf := startupConfig(b.o.plugins, cache, filepath.Join(dir, "watch"), b.o.workers, entries)
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			return err
		}
		for _, phase := range []string{"cold", "warm"} {
			syscall.Sync()
			r, err := b.timeReady(ctx, cfg, len(entries))
			if err != nil {
				return fmt.Errorf("start-up, %s cache: %w", phase, err)
			}
			if phase == "warm" && r.compiled > 0 {
				return fmt.Errorf("start-up, warm cache: %d plugins compiled again", r.compiled)
			}
			b.res.add("startup.host."+phase+"_s", r.ready.Seconds())
			b.res.add("startup.host."+phase+"_rss_mib", r.rss)
			if phase == "cold" {
				b.res.add("startup.host.cold_compiled_s", r.allCompiled.Seconds())
				b.res.add("startup.host.cold_peak_rss_mib", r.peak)
			}
			b.logf("start-up %s cache, %d plugins, rep %d/%d: ready %.2f s, RSS then %.1f MiB; %d compiled in the background by %.2f s, peak RSS %.1f MiB",
				phase, len(entries), rep, b.o.reps, r.ready.Seconds(), r.rss, r.compiled, r.allCompiled.Seconds(), r.peak)
		}
		if err := os.RemoveAll(cache); err != nil {
			return err
		}
	}
	return nil
}

// readiness is what timeReady measured.
type readiness struct {
	ready       time.Duration // to the "watching" log line
	rss         float64       // MiB resident then
	compiled    int           // "plugin compiled" lines: plugins compiled in the background
	allCompiled time.Duration // to the last of them, or ready if none
	peak        float64       // MiB, VmHWM by then
}

// timeReady starts bin/host --watch with cfg and times its "watching" log
// line (every plugin loaded, the folder recovered and watched: files are
// taken from then on). A plugin missing from the cache is interpreted
// until it has compiled in the background; timeReady waits for a "plugin
// compiled" line for each that the ready line counts as compiling, then
// stops the host.
func (b *bench) timeReady(ctx context.Context, cfg string, plugins int) (readiness, error) {
	var r readiness
	cmd := exec.CommandContext(ctx, b.o.host, "--config", cfg, "--watch", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	var log []string
	compiling := -1 // until the ready line
	compiledSince := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log = append(log, sc.Text())
		var l struct {
			Msg       string `json:"msg"`
			Plugins   int    `json:"plugins"`
			Compiling int    `json:"compiling"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Msg {
		case "watching":
			r.ready = time.Since(start)
			r.allCompiled = r.ready
			if kb, ok := vmRSS(cmd.Process.Pid); ok {
				r.rss = float64(kb) / 1024
			}
			if l.Plugins != plugins {
				err = fmt.Errorf("ready with %d plugins, want %d", l.Plugins, plugins)
			}
			compiling = l.Compiling
		case "plugin compiled":
			r.compiled++
			r.allCompiled = time.Since(start)
			if compiling >= 0 {
				compiledSince++
			}
		case "plugin did not compile, so it stays interpreted":
			err = errors.New("a plugin did not compile")
		}
		if err != nil || (compiling >= 0 && compiledSince >= compiling) {
			break
		}
	}
	if kb, ok := vmHWM(cmd.Process.Pid); ok {
		r.peak = float64(kb) / 1024
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_, _ = io.Copy(io.Discard, stderr)
	if werr := cmd.Wait(); err == nil && (werr != nil || r.ready == 0) {
		err = fmt.Errorf("host exited before it was ready (%v)", werr)
	}
	if err != nil {
		return r, fmt.Errorf("%s --watch: %w\n%s", b.o.host, err, strings.Join(log, "\n"))
	}
	return r, nil
}

// startupEntry is one [plugins.NAME] entry of the start-up config.
type startupEntry struct {
	name, wasm, settings string
}

// Settings that a plugin needs (grep), and other settings for the extra
// entries that reuse a .wasm: each entry is its own plugin (docs/CONFIG.md).
var (
	firstSettings = map[string]string{"grep": `{ pattern = "ERROR" }`}
	otherSettings = map[string]string{
		"trim":      `{ chars = " \t." }`,
		"redact":    `{ kinds = ["email"] }`,
		"grep":      `{ pattern = "WARN", ignore_case = true }`,
		"count":     `{ prefix = "## " }`,
		"dedupe":    `{ adjacent = true }`,
		"csv2jsonl": `{ delimiter = ";" }`,
	}
)

// startupEntries is every Go plugin's .wasm in the plugin folder with its
// default settings, then entries reusing them with other settings, up to
// o.startup entries; and how many distinct .wasm files they load. The
// builds in other languages (c-NAME, rust-NAME, wat-NAME: docs/PLUGINS.md)
// are left out: a tenth the size or less, they would make start-up look
// faster than it is with standard-Go plugins.
func (b *bench) startupEntries() ([]startupEntry, int, error) {
	all, err := filepath.Glob(filepath.Join(b.o.plugins, "*.wasm"))
	var paths []string
	for _, p := range all {
		if base := filepath.Base(p); !strings.HasPrefix(base, cPrefix) && !strings.HasPrefix(base, "rust-") && !strings.HasPrefix(base, "wat-") {
			paths = append(paths, p)
		}
	}
	if err != nil || len(paths) == 0 {
		return nil, 0, fmt.Errorf("no Go plugins' .wasm files in %s", b.o.plugins)
	}
	var entries []startupEntry
	used := map[string]bool{}
	for i := 0; len(entries) < b.o.startup; i++ {
		p := paths[i%len(paths)]
		base := strings.TrimSuffix(filepath.Base(p), ".wasm")
		e := startupEntry{name: base, wasm: p, settings: firstSettings[base]}
		if round := i / len(paths); round > 0 {
			e.name = fmt.Sprintf("%s_%d", base, round+1)
			e.settings = otherSettings[base]
		}
		entries = append(entries, e)
		used[p] = true
	}
	return entries, len(used), nil
}

// startupConfig watches watch with a pipeline of every entry, so that
// watch mode loads them all.
func startupConfig(plugins, cache, watch string, workers int, entries []startupEntry) string {
	var c strings.Builder
	fmt.Fprintf(&c, "plugin_dir = %s\ncache_dir = %s\n\n", strconv.Quote(plugins), strconv.Quote(cache))
	fmt.Fprintf(&c, "[[watch]]\ndir = %s\n\n[run]\nworkers = %d\n\n", strconv.Quote(watch), workers)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	fmt.Fprintf(&c, "[[pipeline]]\nname = \"all\"\nplugins = [%s]\n\n", quoteList(names))
	c.WriteString("[dashboard]\nenabled = false\n\n")
	for _, e := range entries {
		fmt.Fprintf(&c, "[plugins.%s]\npath = %s\n", e.name, strconv.Quote(e.wasm))
		if e.settings != "" {
			fmt.Fprintf(&c, "config = %s\n", e.settings)
		}
		c.WriteString("\n")
	}
	return c.String()
}
