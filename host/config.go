package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/filehost/host/internal/wasm"
)

// Config is the host's configuration, read from config.toml
// (docs/CONFIG.md). Relative paths are relative to the config file.
type Config struct {
	// PluginDir holds .wasm files; a pipeline may name any NAME.wasm there
	// without a [plugins.NAME] entry.
	PluginDir string `toml:"plugin_dir"`
	// CacheDir keeps compiled plugins between runs; "" disables it.
	CacheDir string `toml:"cache_dir"`

	Watch    []WatchConfig           `toml:"watch"`
	Pipeline []PipelineConfig        `toml:"pipeline"`
	Plugins  map[string]PluginConfig `toml:"plugins"`
	Limits   LimitsConfig            `toml:"limits"`
	Run      RunConfig               `toml:"run"`
	Web      DashboardConfig         `toml:"dashboard"`

	// File is the config file the values came from, for messages.
	File string `toml:"-"`
}

// RunConfig tunes watch mode.
type RunConfig struct {
	// Workers is how many files are processed at once; 0 means one per CPU.
	Workers int `toml:"workers"`
	// Queue is how many waiting files are tracked at once, oldest first;
	// more stay on disk until the queue drains.
	Queue int `toml:"queue"`
	// Settle is how long a file must stay unchanged before it is taken.
	Settle Duration `toml:"settle"`
	// Rescan is the period of the full rescan that catches missed events;
	// 0 disables it.
	Rescan Duration `toml:"rescan"`
	// Poll, when set, replaces file system events by a scan this often
	// (for network filesystems).
	Poll Duration `toml:"poll"`
	// Retries is how many more times a file is tried after an error that
	// may pass (a timeout, an I/O error), with exponential backoff from
	// RetryDelay.
	Retries    int      `toml:"retries"`
	RetryDelay Duration `toml:"retry_delay"`
	// Grace is how long in-flight files may take to finish at shutdown.
	Grace Duration `toml:"grace"`
	// History is how many finished files the dashboard remembers.
	History int `toml:"history"`
	// Sync makes every move and result durable (fsync) before the next
	// step. Turning it off is faster and still safe against a crash of the
	// host, but not against power loss.
	Sync bool `toml:"sync"`
}

// DashboardConfig is the web dashboard of watch mode.
type DashboardConfig struct {
	Enabled bool   `toml:"enabled"`
	Addr    string `toml:"addr"`
	// Token, when set, is required on every page and call; the
	// HOST_DASHBOARD_TOKEN environment variable overrides it.
	Token     string   `toml:"token"`
	MaxUpload ByteSize `toml:"max_upload"`
}

// WatchConfig is one watched folder: DIR/unprocessed is watched, and DIR's
// underprocess/, processed/ and failed/ hold files in their later states.
type WatchConfig struct {
	Dir string `toml:"dir"`
	// Pipelines lists the pipelines tried for this folder's files, in
	// order; empty means all pipelines, in config order.
	Pipelines []string `toml:"pipelines"`
	// Archive keeps each input in DIR/archive/ once its result is in
	// processed/, instead of deleting it.
	Archive bool `toml:"archive"`
}

// PipelineConfig is an ordered chain of plugins for files whose base name
// matches one of Match's globs (path.Match syntax; empty means all).
type PipelineConfig struct {
	Name    string   `toml:"name"`
	Match   []string `toml:"match"`
	Plugins []string `toml:"plugins"`
}

// PluginConfig is a plugin entry: needed only for settings or a .wasm
// other than PLUGIN_DIR/NAME.wasm.
type PluginConfig struct {
	Path      string         `toml:"path"`
	Timeout   Duration       `toml:"timeout"`
	MaxMemory ByteSize       `toml:"max_memory"`
	Config    map[string]any `toml:"config"`
	PluginLimits
}

// PluginLimits are a plugin's containment limits (docs/CONFIG.md, "Plugin
// limits"). A zero or unset key means the default, which package wasm
// defines; checkPluginLimits validates them.
type PluginLimits struct {
	CallTimeout   Duration `toml:"call_timeout"`
	MaxOutput     ByteSize `toml:"max_output"`
	MaxTable      int64    `toml:"max_table"`
	LogRate       int64    `toml:"log_rate"`
	MaxLogMessage ByteSize `toml:"max_log_message"`
}

// LimitsConfig bounds memory per file.
type LimitsConfig struct {
	ChunkSize ByteSize `toml:"chunk_size"`
	MaxLine   ByteSize `toml:"max_line"`
	// MemoryBudget caps the linear memory of all plugin instances together.
	MemoryBudget ByteSize `toml:"memory_budget"`
}

// DefaultConfig is the configuration a file's values are laid on.
func DefaultConfig() Config {
	return Config{
		PluginDir: "plugins",
		CacheDir:  ".cache/wazero",
		Limits: LimitsConfig{
			ChunkSize:    64 << 10,
			MaxLine:      16 << 20,
			MemoryBudget: ByteSize(wasm.DefaultMemoryBudget()),
		},
		Run: RunConfig{
			Queue:      10000,
			Settle:     Duration(time.Second),
			Rescan:     Duration(time.Minute),
			Retries:    3,
			RetryDelay: Duration(time.Second),
			Grace:      Duration(30 * time.Second),
			History:    10000,
			Sync:       true,
		},
		Web: DashboardConfig{
			Enabled:   true,
			Addr:      "127.0.0.1:5000",
			MaxUpload: 1 << 30,
		},
	}
}

// DefaultMaxMemory caps a plugin instance's memory unless its entry says
// otherwise; package wasm holds the value.
const DefaultMaxMemory = wasm.DefaultMaxMemory

// ConfigError is a problem in the config file, located as well as TOML
// allows.
type ConfigError struct {
	File string
	Key  string // dotted key, "" when not about one key
	Line int    // 0 when unknown
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigErrors is every problem found in a config file.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// LoadConfig reads the config file at file over DefaultConfig and checks
// it. Errors are ConfigErrors.
func LoadConfig(file string) (Config, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return Config{}, ConfigErrors{{File: file, Msg: err.Error()}}
	}
	return ParseConfig(file, src)
}

// ParseConfig is LoadConfig for a file already read.
func ParseConfig(file string, src []byte) (Config, error) {
	cfg := DefaultConfig()
	cfg.File = file
	md, err := toml.Decode(string(src), &cfg)
	if err != nil {
		ce := &ConfigError{File: file, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			ce.Line = pe.Position.Line
			ce.Msg = pe.Message
			if pe.LastKey != "" {
				ce.Key = pe.LastKey
			}
		} else if m := decodeErrRE.FindStringSubmatch(err.Error()); m != nil {
			ce.Line, _ = strconv.Atoi(m[1])
			ce.Key, ce.Msg = m[2], m[3]
		}
		return Config{}, ConfigErrors{ce}
	}
	var errs ConfigErrors
	for _, key := range md.Undecoded() {
		// Plugin settings are the plugin's to check.
		if len(key) >= 3 && key[0] == "plugins" && key[2] == "config" {
			continue
		}
		errs = append(errs, &ConfigError{File: file, Key: key.String(), Line: lineOf(src, key), Msg: "unknown key"})
	}
	cfg.resolve(filepath.Dir(file))
	errs = append(errs, cfg.check(src)...)
	if len(errs) > 0 {
		return Config{}, errs
	}
	return cfg, nil
}

// resolve makes paths relative to the config file's folder absolute-ish
// (joined to dir) and fills defaults that depend on other values.
func (c *Config) resolve(dir string) {
	join := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.PluginDir = join(c.PluginDir)
	c.CacheDir = join(c.CacheDir)
	if len(c.Watch) == 0 {
		c.Watch = []WatchConfig{{Dir: "watch_dir"}}
	}
	for i := range c.Watch {
		c.Watch[i].Dir = join(c.Watch[i].Dir)
	}
	for name, pc := range c.Plugins {
		if pc.Path == "" {
			pc.Path = filepath.Join(c.PluginDir, name+".wasm")
		} else {
			pc.Path = join(pc.Path)
		}
		c.Plugins[name] = pc
	}
}

// decodeErrRE takes apart BurntSushi/toml's type errors, which carry a
// line and key only in their text.
var decodeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (c *Config) check(src []byte) ConfigErrors {
	var errs ConfigErrors
	bad := func(key []string, format string, args ...any) {
		errs = append(errs, &ConfigError{File: c.File, Key: strings.Join(key, "."), Line: lineOf(src, key), Msg: fmt.Sprintf(format, args...)})
	}
	if c.Limits.ChunkSize < 1<<10 {
		bad([]string{"limits", "chunk_size"}, "must be at least 1KiB, is %d", c.Limits.ChunkSize)
	}
	if c.Limits.MaxLine < c.Limits.ChunkSize {
		bad([]string{"limits", "max_line"}, "must be at least chunk_size (%d), is %d", c.Limits.ChunkSize, c.Limits.MaxLine)
	}
	if c.Limits.MemoryBudget < 0 {
		bad([]string{"limits", "memory_budget"}, "must not be negative (0: no budget)")
	}
	if c.Limits.MaxLine > 1<<30 {
		bad([]string{"limits", "max_line"}, "must be at most 1GiB, is %d", c.Limits.MaxLine)
	}
	if c.Run.Workers < 0 {
		bad([]string{"run", "workers"}, "must not be negative")
	}
	if c.Run.Queue < 1 {
		bad([]string{"run", "queue"}, "must be at least 1")
	}
	if c.Run.Retries < 0 {
		bad([]string{"run", "retries"}, "must not be negative")
	}
	if c.Run.History < 1 {
		bad([]string{"run", "history"}, "must be at least 1")
	}
	for key, d := range map[string]Duration{"settle": c.Run.Settle, "rescan": c.Run.Rescan, "poll": c.Run.Poll, "retry_delay": c.Run.RetryDelay, "grace": c.Run.Grace} {
		if d < 0 {
			bad([]string{"run", key}, "must not be negative")
		}
	}
	if c.Web.Enabled && c.Web.Addr == "" {
		bad([]string{"dashboard", "addr"}, "must be set when the dashboard is enabled (e.g. \"127.0.0.1:5000\")")
	}
	if c.Web.MaxUpload < 0 {
		bad([]string{"dashboard", "max_upload"}, "must not be negative")
	}
	names := map[string]bool{}
	if len(c.Pipeline) == 0 {
		bad(nil, "no [[pipeline]] defined: add one with a name and a list of plugins")
	}
	for i, p := range c.Pipeline {
		key := []string{"pipeline", p.Name}
		switch {
		case p.Name == "":
			bad([]string{"pipeline", strconv.Itoa(i), "name"}, "pipeline %d has no name", i+1)
		case names[p.Name]:
			bad(append(key, "name"), "pipeline %q defined twice", p.Name)
		}
		names[p.Name] = true
		for _, g := range p.Match {
			if _, err := path.Match(g, ""); err != nil {
				bad(append(key, "match"), "bad glob %q: %v", g, err)
			}
		}
		for _, pl := range p.Plugins {
			if _, ok := c.Plugins[pl]; ok {
				continue
			}
			if !nameRE.MatchString(pl) {
				bad(append(key, "plugins"), "bad plugin name %q", pl)
				continue
			}
			if _, err := os.Stat(filepath.Join(c.PluginDir, pl+".wasm")); err != nil {
				bad(append(key, "plugins"), "unknown plugin %q: no [plugins.%s] entry and no %s", pl, pl, filepath.Join(c.PluginDir, pl+".wasm"))
			}
		}
	}
	dirs := map[string]bool{}
	for i, w := range c.Watch {
		key := []string{"watch", strconv.Itoa(i)}
		if w.Dir == "" {
			bad(append(key, "dir"), "watch folder %d has no dir", i+1)
		}
		if dirs[w.Dir] {
			bad(append(key, "dir"), "folder %s watched twice", w.Dir)
		}
		dirs[w.Dir] = true
		for _, name := range w.Pipelines {
			if !names[name] {
				bad(append(key, "pipelines"), "unknown pipeline %q", name)
			}
		}
	}
	pluginNames := make([]string, 0, len(c.Plugins))
	for name := range c.Plugins {
		pluginNames = append(pluginNames, name)
	}
	sort.Strings(pluginNames)
	for _, name := range pluginNames {
		pc := c.Plugins[name]
		key := []string{"plugins", name}
		if !nameRE.MatchString(name) {
			bad(key, "bad plugin name %q: use letters, digits, '_', '-' and '.'", name)
		}
		if _, err := os.Stat(pc.Path); err != nil {
			bad(append(key, "path"), "%v", err)
		}
		if pc.Timeout < 0 {
			bad(append(key, "timeout"), "must not be negative")
		}
		if pc.MaxMemory != 0 && (pc.MaxMemory < 1<<20 || pc.MaxMemory > 4<<30) {
			bad(append(key, "max_memory"), "must be between 1MiB and 4GiB (0 or unset: %s)", wasm.SizeString(DefaultMaxMemory))
		}
		checkPluginLimits(pc.PluginLimits, key, bad)
		if _, err := json.Marshal(pc.Config); err != nil {
			bad(append(key, "config"), "cannot be passed to the plugin: %v", err)
		}
	}
	return errs
}

// PipelineFor returns the pipeline for a file named name in watch folder w:
// the first of the folder's pipelines whose globs match, or nil.
func (c *Config) PipelineFor(w WatchConfig, name string) *PipelineConfig {
	try := func(p *PipelineConfig) bool {
		if len(p.Match) == 0 {
			return true
		}
		for _, g := range p.Match {
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
		return false
	}
	if len(w.Pipelines) == 0 {
		for i := range c.Pipeline {
			if try(&c.Pipeline[i]) {
				return &c.Pipeline[i]
			}
		}
		return nil
	}
	for _, pn := range w.Pipelines {
		for i := range c.Pipeline {
			if c.Pipeline[i].Name == pn && try(&c.Pipeline[i]) {
				return &c.Pipeline[i]
			}
		}
	}
	return nil
}

// lineOf finds the line where key is set, as well as a text search can:
// BurntSushi/toml does not expose key positions.
func lineOf(src []byte, key []string) int {
	if len(key) == 0 {
		return 0
	}
	last := key[len(key)-1]
	lines := strings.Split(string(src), "\n")
	keyRE := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(last) + `"?\s*=`)
	tableRE := regexp.MustCompile(`^\s*\[+\s*` + regexp.QuoteMeta(strings.Join(key, ".")) + `\s*\]+`)
	// Prefer a key inside its table: find the table header first.
	start := 0
	if len(key) > 1 {
		parent := regexp.MustCompile(`^\s*\[+\s*` + regexp.QuoteMeta(strings.Join(key[:len(key)-1], ".")) + `\s*\]+`)
		for i, l := range lines {
			if parent.MatchString(l) {
				start = i
				break
			}
		}
	}
	for i := start; i < len(lines); i++ {
		if keyRE.MatchString(lines[i]) || tableRE.MatchString(lines[i]) {
			return i + 1
		}
	}
	return 0
}

// Duration is a time.Duration written as a string such as "30s".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"500ms\", \"30s\", \"5m\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ByteSize is a number of bytes written as an integer or a string such as
// "64KiB", "16MiB", "1GiB" (also "kB", "MB", "GB" for powers of 1000).
type ByteSize int64

// UnmarshalTOML implements toml.Unmarshaler.
func (s *ByteSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		*s = ByteSize(v)
		return nil
	case string:
		n, err := ParseByteSize(v)
		if err != nil {
			return err
		}
		*s = n
		return nil
	}
	return fmt.Errorf("want a size like 65536 or \"64KiB\", got %v", v)
}

var sizeRE = regexp.MustCompile(`^\s*(\d+)\s*([KMGT]i?B|[kMGT]B|B)?\s*$`)

// ParseByteSize parses "64KiB" and the like.
func ParseByteSize(s string) (ByteSize, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad size %q (want e.g. 65536, \"64KiB\", \"16MiB\", \"1GiB\")", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: %v", s, err)
	}
	mult := map[string]int64{"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m[2]]
	return ByteSize(n * mult), nil
}

func jsonObject(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(m)
}

// String returns the duration as time.Duration writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// checkPluginLimits reports bad values of a plugin's limits.
func checkPluginLimits(l PluginLimits, key []string, bad func([]string, string, ...any)) {
	if l.CallTimeout < 0 {
		bad(append(key, "call_timeout"), "must not be negative (0 or unset: %v)", wasm.DefaultCallTimeout)
	}
	if l.MaxOutput < 0 {
		bad(append(key, "max_output"), "must not be negative (0 or unset: %s)", wasm.SizeString(wasm.DefaultMaxOutput))
	}
	if l.MaxTable < 0 || l.MaxTable > 1<<32-2 {
		bad(append(key, "max_table"), "must be between 1 and 4294967294 elements (0 or unset: %d)", wasm.DefaultMaxTable)
	}
	if l.LogRate < 0 || l.LogRate > 1<<31-1 {
		bad(append(key, "log_rate"), "must be a number of lines a second, at least 1 (0 or unset: %d)", wasm.DefaultLogRate)
	}
	if l.MaxLogMessage < 0 || l.MaxLogMessage > 1<<30 {
		bad(append(key, "max_log_message"), "must be between 1 byte and 1GiB (0 or unset: %s)", wasm.SizeString(wasm.DefaultMaxLogMessage))
	}
}
