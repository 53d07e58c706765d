package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/watch"
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
	// Retention deletes old results and failures (retention.go).
	Retention RetentionConfig `toml:"retention"`

	// File is the config file the values came from, for messages.
	File string `toml:"-"`
	// fileStamp is File's mtime and size as LoadConfig found them before
	// reading it (readFingerprint).
	fileStamp string
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
	Dir string `toml:"dir" desc:"a folder path"`
	// Pipelines lists the pipelines tried for this folder's files, in
	// order; empty means all pipelines, in config order.
	Pipelines []string `toml:"pipelines" desc:"a list of pipeline names"`
	// Archive keeps each input in DIR/archive/ once its result is in
	// processed/, instead of deleting it.
	Archive bool `toml:"archive"`
}

// PipelineConfig is an ordered chain of plugins for the files it takes:
// those whose base name matches one of Match's globs (path.Match syntax)
// and whose first bytes match Content and MIME (match.go). An empty
// criterion takes every file.
type PipelineConfig struct {
	Name  string   `toml:"name" desc:"a name in quotes"`
	Match []string `toml:"match" desc:"a list of globs, such as [\"*.csv\"]"`
	// Content is "text", "binary" or "any" (also ""): the kind of the
	// file's first bytes.
	Content string `toml:"content" desc:"\"text\", \"binary\" or \"any\""`
	// MIME lists MIME types ("image/png") or families ("image/*") sniffed
	// from the file's first bytes.
	MIME    []string `toml:"mime" desc:"a list of MIME types, such as [\"text/*\"]"`
	Plugins []string `toml:"plugins" desc:"a list of plugin names"`
	// Output names the result from the input's name (ResultName); "" keeps
	// the input's name.
	Output string `toml:"output" desc:"a name pattern, such as \"{stem}.jsonl\""`
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
// defines; checker.pluginLimits validates them.
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

// DefaultConfig is the configuration a file's values are laid on. It is
// the one place each default is written; the engine packages' own
// defaults are referred to, not repeated.
func DefaultConfig() Config {
	return Config{
		PluginDir: "plugins",
		CacheDir:  ".cache/wazero",
		Limits: LimitsConfig{
			ChunkSize:    ByteSize(wasm.DefaultLimits.ChunkSize),
			MaxLine:      ByteSize(wasm.DefaultLimits.MaxLine),
			MemoryBudget: ByteSize(wasm.DefaultMemoryBudget()),
		},
		Run: RunConfig{
			Queue:      watch.DefaultMaxTracked,
			Settle:     Duration(time.Second),
			Rescan:     Duration(time.Minute),
			Retries:    3,
			RetryDelay: Duration(time.Second),
			Grace:      Duration(30 * time.Second),
			History:    tracker.DefaultHistory,
			Sync:       true,
		},
		Web: DashboardConfig{
			Enabled:   true,
			Addr:      "127.0.0.1:5000",
			MaxUpload: 1 << 30,
		},
		Retention: RetentionConfig{
			Every: Duration(10 * time.Minute),
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
	before := stamp(file)
	src, err := os.ReadFile(file)
	if err != nil {
		return Config{}, ConfigErrors{{File: file, Msg: err.Error()}}
	}
	cfg, err := ParseConfig(file, src)
	cfg.fileStamp = before
	return cfg, err
}

// ParseConfig is LoadConfig for a file already read. A TOML syntax error
// stops at once; every other problem is collected, in line order.
func ParseConfig(file string, src []byte) (Config, error) {
	var tree map[string]any
	if _, err := toml.Decode(string(src), &tree); err != nil {
		ce := &ConfigError{File: file, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			ce.Line = pe.Position.Line
			ce.Msg = pe.Message
			if pe.LastKey != "" {
				ce.Key = pe.LastKey
			}
		}
		return Config{}, ConfigErrors{ce}
	}
	cfg := DefaultConfig()
	cfg.File = file
	d := &decoder{file: file, lines: keyLines(src)}
	d.decode("", tree, reflect.ValueOf(&cfg).Elem())
	cfg.resolve(filepath.Dir(file))
	errs := append(d.errs, cfg.check(d.lines, d.failed)...)
	if len(errs) > 0 {
		// Stable: problems on one line keep the order they were found in.
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
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

// Duration is a time.Duration written as a string such as "30s".
type Duration time.Duration

// UnmarshalTOML implements toml.Unmarshaler. A bare number is refused,
// even 0: it has no unit.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		hint := ""
		if _, num := v.(int64); num {
			hint = ` (a bare number has no unit: write "0s", "30s", "5m")`
		}
		return fmt.Errorf(`must be a duration in quotes, such as "30s", got %s%s`, describeValue(v), hint)
	}
	return d.UnmarshalText([]byte(s))
}

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
		if v < 0 {
			return fmt.Errorf("must not be negative, is %d", v)
		}
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
	return fmt.Errorf(`must be a size such as 65536 or "64KiB", got %s`, describeValue(v))
}

var sizeRE = regexp.MustCompile(`^\s*(\d+)\s*([KMGT]i?B|[kMGT]B|B)?\s*$`)

// ParseByteSize parses "64KiB" and the like.
func ParseByteSize(s string) (ByteSize, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad size %q (want e.g. 65536, \"64KiB\", \"16MiB\", \"1GiB\")", s)
	}
	mult := map[string]int64{"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m[2]]
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large (at most 8EiB)", s)
	}
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
