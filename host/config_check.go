package host

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/filehost/host/internal/wasm"
)

// checker collects the problems of a decoded config, each located by key.
type checker struct {
	c      *Config
	lines  map[string]int
	failed map[string]bool // keys the decoder refused
	errs   ConfigErrors
}

func (k *checker) bad(key, format string, args ...any) {
	if k.failed[key] {
		return
	}
	k.errs = append(k.errs, &ConfigError{File: k.c.File, Key: key, Line: lineFor(k.lines, key), Msg: fmt.Sprintf(format, args...)})
}

// check validates the decoded config one section at a time.
func (c *Config) check(lines map[string]int, failed map[string]bool) ConfigErrors {
	k := &checker{c: c, lines: lines, failed: failed}
	k.limits()
	k.run()
	k.dashboard()
	k.pipelines()
	k.watch()
	k.plugins()
	k.retention()
	return k.errs
}

// entryKey names entry i (from 0) of an array of tables the way messages
// and keyLines do: numbered from 1, as a reader counts them.
func entryKey(array string, i int) string { return array + "[" + strconv.Itoa(i+1) + "]" }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (k *checker) limits() {
	l := k.c.Limits
	if l.ChunkSize < 1<<10 {
		k.bad("limits.chunk_size", "must be at least 1KiB, is %d", l.ChunkSize)
	}
	if l.MaxLine < l.ChunkSize {
		k.bad("limits.max_line", "must be at least chunk_size (%d), is %d", l.ChunkSize, l.MaxLine)
	}
	if l.MaxLine > 1<<30 {
		k.bad("limits.max_line", "must be at most 1GiB, is %d", l.MaxLine)
	}
	if l.MemoryBudget < 0 {
		k.bad("limits.memory_budget", "must not be negative (0: no budget)")
	}
}

func (k *checker) run() {
	r := k.c.Run
	if r.Workers < 0 {
		k.bad("run.workers", "must not be negative")
	}
	if r.Queue < 1 {
		k.bad("run.queue", "must be at least 1")
	}
	if r.Retries < 0 {
		k.bad("run.retries", "must not be negative")
	}
	if r.History < 1 {
		k.bad("run.history", "must be at least 1")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"settle", r.Settle}, {"rescan", r.Rescan}, {"poll", r.Poll}, {"retry_delay", r.RetryDelay}, {"grace", r.Grace}} {
		if d.v < 0 {
			k.bad("run."+d.key, "must not be negative")
		}
	}
}

func (k *checker) dashboard() {
	w := k.c.Web
	if w.Enabled {
		if err := CheckAddr(w.Addr); err != nil {
			k.bad("dashboard.addr", "%v", err)
		}
	}
	if w.MaxUpload < 0 {
		k.bad("dashboard.max_upload", "must not be negative")
	}
}

// CheckAddr reports whether addr is a listen address with a port, as the
// dashboard needs ("127.0.0.1:5000", ":5000", "[::1]:0").
func CheckAddr(addr string) error {
	if addr == "" {
		return fmt.Errorf("must be set when the dashboard is enabled (e.g. \"127.0.0.1:5000\")")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return fmt.Errorf("%q has no port: write e.g. %q", addr, net.JoinHostPort(strings.Trim(addr, "[]"), "5000"))
		}
		return fmt.Errorf("%q is not a host:port address", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q must be a number from 0 to 65535", addr, port)
	}
	_ = host
	return nil
}

func (k *checker) pipelines() {
	c := k.c
	if len(c.Pipeline) == 0 {
		k.bad("", "no [[pipeline]] defined: add one with a name and a list of plugins")
	}
	known := c.knownPlugins()
	first := map[string]int{}
	for i, p := range c.Pipeline {
		key := entryKey("pipeline", i)
		switch j, dup := first[p.Name]; {
		case p.Name == "":
			k.bad(key+".name", "missing: every pipeline needs a name")
		case dup:
			k.bad(key+".name", "pipeline %q defined twice (first as pipeline[%d])", p.Name, j+1)
		default:
			first[p.Name] = i
		}
		for _, g := range p.Match {
			if _, err := path.Match(g, ""); err != nil {
				k.bad(key+".match", "bad glob %q: %v", g, err)
			}
		}
		if err := checkContent(p.Content); err != nil {
			k.bad(key+".content", "%v", err)
		}
		for _, m := range p.MIME {
			if err := checkMIME(m); err != nil {
				k.bad(key+".mime", "%v", err)
			}
		}
		if err := checkOutput(p.Output); err != nil {
			k.bad(key+".output", "%v", err)
		}
		for _, pl := range p.Plugins {
			if _, ok := c.Plugins[pl]; ok {
				continue
			}
			if !nameRE.MatchString(pl) {
				k.bad(key+".plugins", "bad plugin name %q", pl)
				continue
			}
			file := filepath.Join(c.PluginDir, pl+".wasm")
			if _, err := os.Stat(file); err != nil {
				msg := fmt.Sprintf("unknown plugin %q: no [plugins.%s] entry and no %s", pl, pl, file)
				if s := suggest(pl, known); s != "" {
					msg += "; did you mean `" + s + "`?"
				}
				k.bad(key+".plugins", "%s", msg)
			}
		}
	}
}

// knownPlugins lists the plugin names a pipeline could use: entries and
// the .wasm files in plugin_dir.
func (c *Config) knownPlugins() []string {
	var names []string
	for name := range c.Plugins {
		names = append(names, name)
	}
	files, _ := filepath.Glob(filepath.Join(c.PluginDir, "*.wasm"))
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".wasm"))
	}
	sort.Strings(names)
	return names
}

func (k *checker) watch() {
	c := k.c
	var pipelines []string
	for _, p := range c.Pipeline {
		pipelines = append(pipelines, p.Name)
	}
	first := map[string]int{}
	for i, w := range c.Watch {
		key := entryKey("watch", i)
		if w.Dir == "" {
			k.bad(key+".dir", "missing: every watch folder needs a dir")
		} else if j, dup := first[w.Dir]; dup {
			k.bad(key+".dir", "folder %s watched twice (first by watch[%d])", w.Dir, j+1)
		} else {
			first[w.Dir] = i
		}
		for _, name := range w.Pipelines {
			if _, ok := c.pipeline(name); ok {
				continue
			}
			msg := fmt.Sprintf("unknown pipeline %q", name)
			if s := suggest(name, pipelines); s != "" {
				msg += "; did you mean `" + s + "`?"
			}
			k.bad(key+".pipelines", "%s", msg)
		}
	}
}

// pipeline returns the pipeline called name.
func (c *Config) pipeline(name string) (*PipelineConfig, bool) {
	for i := range c.Pipeline {
		if c.Pipeline[i].Name == name {
			return &c.Pipeline[i], true
		}
	}
	return nil, false
}

func (k *checker) plugins() {
	c := k.c
	names := make([]string, 0, len(c.Plugins))
	for name := range c.Plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pc := c.Plugins[name]
		key := joinKey("plugins", name)
		if !nameRE.MatchString(name) {
			k.bad(key, "bad plugin name %q: use letters, digits, '_', '-' and '.'", name)
		}
		if _, err := os.Stat(pc.Path); err != nil {
			k.bad(key+".path", "%v", err)
		}
		if pc.Timeout < 0 {
			k.bad(key+".timeout", "must not be negative")
		}
		if pc.MaxMemory != 0 && (pc.MaxMemory < 1<<20 || pc.MaxMemory > 4<<30) {
			k.bad(key+".max_memory", "must be between 1MiB and 4GiB (0 or unset: %s)", wasm.SizeString(DefaultMaxMemory))
		}
		k.pluginLimits(pc.PluginLimits, key)
		if _, err := json.Marshal(pc.Config); err != nil {
			k.bad(key+".config", "cannot be passed to the plugin: %v", err)
		}
	}
}

// pluginLimits reports bad values of a plugin's limits.
func (k *checker) pluginLimits(l PluginLimits, key string) {
	if l.CallTimeout < 0 {
		k.bad(key+".call_timeout", "must not be negative (0 or unset: %v)", wasm.DefaultCallTimeout)
	}
	if l.MaxOutput < 0 {
		k.bad(key+".max_output", "must not be negative (0 or unset: %s)", wasm.SizeString(wasm.DefaultMaxOutput))
	}
	if l.MaxTable < 0 || l.MaxTable > 1<<32-2 {
		k.bad(key+".max_table", "must be between 1 and 4294967294 elements (0 or unset: %d)", wasm.DefaultMaxTable)
	}
	if l.LogRate < 0 || l.LogRate > 1<<31-1 {
		k.bad(key+".log_rate", "must be a number of lines a second, at least 1 (0 or unset: %d)", wasm.DefaultLogRate)
	}
	if l.MaxLogMessage < 0 || l.MaxLogMessage > 1<<30 {
		k.bad(key+".max_log_message", "must be between 1 byte and 1GiB (0 or unset: %s)", wasm.SizeString(wasm.DefaultMaxLogMessage))
	}
}
