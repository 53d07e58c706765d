package host

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/watch"
)

func writeConfig(t *testing.T, src string, wasm ...string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	for _, name := range wasm {
		os.WriteFile(filepath.Join(dir, "plugins", name+".wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	}
	file := filepath.Join(dir, "config.toml")
	os.WriteFile(file, []byte(src), 0o644)
	return file
}

func TestConfigValid(t *testing.T) {
	file := writeConfig(t, `
plugin_dir = "plugins"
cache_dir = ""

[[watch]]
dir = "in"
pipelines = ["csv", "text"]

[[pipeline]]
name = "csv"
match = ["*.csv", "*.CSV"]
plugins = ["csv2jsonl"]

[[pipeline]]
name = "text"
plugins = ["trim", "errors"]

[plugins.errors]
path = "plugins/grep.wasm"
timeout = "30s"
max_memory = "256MiB"
[plugins.errors.config]
pattern = "ERROR"
anything = { nested = [1, 2] }

[limits]
chunk_size = "128KiB"
max_line = 1048576
`, "csv2jsonl", "trim", "grep")
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(file)
	if cfg.Watch[0].Dir != filepath.Join(dir, "in") {
		t.Errorf("watch dir = %s, want it relative to the config file", cfg.Watch[0].Dir)
	}
	if got := cfg.Plugins["errors"].Path; got != filepath.Join(dir, "plugins", "grep.wasm") {
		t.Errorf("plugin path = %s", got)
	}
	if cfg.Limits.ChunkSize != 128<<10 || cfg.Limits.MaxLine != 1<<20 {
		t.Errorf("limits = %+v", cfg.Limits)
	}
	if cfg.Plugins["errors"].MaxMemory != 256<<20 || cfg.Plugins["errors"].Timeout.String() != "30s" {
		t.Errorf("plugin entry = %+v", cfg.Plugins["errors"])
	}
	for name, want := range map[string]string{"a.csv": "csv", "B.CSV": "csv", "log.txt": "text", "csv": "text"} {
		if p := cfg.PipelineFor(cfg.Watch[0], name, nil); p == nil || p.Name != want {
			t.Errorf("pipeline for %s = %v, want %s", name, p, want)
		}
	}
	if got := cfg.pluginNames(); strings.Join(got, ",") != "csv2jsonl,errors,trim" {
		t.Errorf("plugin names = %v", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	file := writeConfig(t, "[[pipeline]]\nname = \"all\"\nplugins = []\n")
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Watch) != 1 || cfg.Watch[0].Dir != filepath.Join(filepath.Dir(file), "watch_dir") {
		t.Errorf("default watch = %+v", cfg.Watch)
	}
	if cfg.Limits.ChunkSize != 64<<10 || cfg.Limits.MaxLine != 16<<20 {
		t.Errorf("default limits = %+v", cfg.Limits)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error
	}{
		{"syntax", "[[pipeline]\nname = 1", []string{"config.toml:2:", "delimiter"}},
		{"unknown top key", "colour = \"red\"\n[[pipeline]]\nname=\"a\"", []string{"config.toml:1: colour: unknown key"}},
		{"unknown nested key", "[[pipeline]]\nname = \"a\"\nplugin = [\"upper\"]\n", []string{"config.toml:3: pipeline[1].plugin: unknown key; did you mean `plugins`?"}},
		{"unknown limits key", "[[pipeline]]\nname=\"a\"\n[limits]\nchunk = 1\n", []string{":4: limits.chunk: unknown key"}},
		{"no suggestion when far", "[[pipeline]]\nname=\"a\"\ncolour = 1\n", []string{":3: pipeline[1].colour: unknown key\n", "colour: unknown key"}},
		{"wrong type", "[[pipeline]]\nname = 5\n", []string{"config.toml:2: pipeline[1].name: must be a name in quotes, got a number (5)"}},
		{"plugins as a string", "[[pipeline]]\nname = \"a\"\nplugins = \"upper\"\n", []string{":3: pipeline[1].plugins: must be a list of plugin names, got a string (\"upper\")"}},
		{"plugins list item", "[[pipeline]]\nname = \"a\"\nplugins = [\"upper\", 3]\n", []string{":3: pipeline[1].plugins: must be a list of plugin names; item 2 is a number (3)"}},
		{"bool as string", "[[pipeline]]\nname=\"a\"\n[run]\nsync = \"yes\"\n", []string{":4: run.sync: must be true or false, got a string (\"yes\")"}},
		{"int as float", "[[pipeline]]\nname=\"a\"\n[run]\nworkers = 1.5\n", []string{":4: run.workers: must be a whole number, got a decimal number (1.5)"}},
		{"table for an array of tables", "[watch]\ndir = \"w\"\n[[pipeline]]\nname=\"a\"\n", []string{":1: watch: must be a list of tables, each written [[watch]], got a table"}},
		{"table as value", "limits = 3\n[[pipeline]]\nname=\"a\"\n", []string{":1: limits: must be a table, got a number (3)"}},
		{"bad size", "[[pipeline]]\nname=\"a\"\n[limits]\nchunk_size = \"big\"\n", []string{":4: limits.chunk_size: bad size \"big\""}},
		{"size overflow", "[[pipeline]]\nname=\"a\"\n[dashboard]\nmax_upload = \"10000000TB\"\n", []string{":4: dashboard.max_upload: size \"10000000TB\" is too large"}},
		{"negative size", "[[pipeline]]\nname=\"a\"\n[dashboard]\nmax_upload = -1\n", []string{":4: dashboard.max_upload: must not be negative"}},
		{"bad duration", "[[pipeline]]\nname=\"a\"\nplugins=[\"upper\"]\n[plugins.upper]\ntimeout = \"soon\"\n", []string{":5: plugins.upper.timeout: bad duration \"soon\""}},
		{"bare zero duration", "[[pipeline]]\nname=\"a\"\n[run]\nsettle = 0\n", []string{":4: run.settle: must be a duration in quotes, such as \"30s\", got a number (0) (a bare number has no unit: write \"0s\""}},
		{"no pipeline", "", []string{"config.toml: no [[pipeline]]"}},
		{"unknown plugin", "[[pipeline]]\nname = \"a\"\nplugins = [\"nosuch\"]\n", []string{":3: pipeline[1].plugins: unknown plugin \"nosuch\"", "nosuch.wasm"}},
		{"plugin typo", "[[pipeline]]\nname = \"a\"\nplugins = [\"uper\"]\n", []string{":3: pipeline[1].plugins: unknown plugin \"uper\"", "did you mean `upper`?"}},
		{"missing wasm", "[[pipeline]]\nname=\"a\"\n[plugins.x]\npath = \"gone.wasm\"\n", []string{":4: plugins.x.path:", "gone.wasm"}},
		{"duplicate pipeline", "[[pipeline]]\nname=\"a\"\n[[pipeline]]\nname=\"a\"\n", []string{":4: pipeline[2].name: pipeline \"a\" defined twice (first as pipeline[1])"}},
		{"nameless pipeline", "[[pipeline]]\nname=\"a\"\n[[pipeline]]\nplugins=[]\n", []string{":3: pipeline[2].name: missing: every pipeline needs a name"}},
		{"bad glob", "[[pipeline]]\nname=\"a\"\nmatch=[\"[\"]\n", []string{":3: pipeline[1].match: bad glob"}},
		{"bad content", "[[pipeline]]\nname=\"a\"\ncontent=\"txt\"\n", []string{":3: pipeline[1].content: must be \"text\", \"binary\" or \"any\", is \"txt\"; did you mean `text`?"}},
		{"bad mime", "[[pipeline]]\nname=\"a\"\nmime=[\"png\"]\n", []string{":3: pipeline[1].mime: bad MIME type \"png\""}},
		{"output escapes", "[[pipeline]]\nname=\"a\"\noutput=\"../{name}\"\n", []string{":3: pipeline[1].output: \"../x\" leaves processed/"}},
		{"output absolute", "[[pipeline]]\nname=\"a\"\noutput=\"/tmp/{name}\"\n", []string{":3: pipeline[1].output: \"/tmp/x\" is absolute"}},
		{"output placeholder", "[[pipeline]]\nname=\"a\"\noutput=\"{base}.txt\"\n", []string{":3: pipeline[1].output: unknown placeholder {base}"}},
		{"output brace", "[[pipeline]]\nname=\"a\"\noutput=\"{stem.txt\"\n", []string{":3: pipeline[1].output: unmatched brace"}},
		{"unknown pipeline in watch", "[[watch]]\ndir=\"w\"\npipelines=[\"zz\"]\n[[pipeline]]\nname=\"a\"\n", []string{":3: watch[1].pipelines: unknown pipeline \"zz\""}},
		{"pipeline typo in watch", "[[watch]]\ndir=\"w\"\npipelines=[\"logz\"]\n[[pipeline]]\nname=\"logs\"\n", []string{"did you mean `logs`?"}},
		{"folder twice", "[[watch]]\ndir=\"w\"\n[[watch]]\ndir=\"w\"\n[[pipeline]]\nname=\"a\"\n", []string{":4: watch[2].dir: folder", "watched twice (first by watch[1])"}},
		{"chunk too small", "[[pipeline]]\nname=\"a\"\n[limits]\nchunk_size = 10\n", []string{":4: limits.chunk_size: must be at least 1KiB"}},
		{"addr without port", "[[pipeline]]\nname=\"a\"\n[dashboard]\naddr = \"localhost\"\n", []string{":4: dashboard.addr: \"localhost\" has no port: write e.g. \"localhost:5000\""}},
		{"addr bad port", "[[pipeline]]\nname=\"a\"\n[dashboard]\naddr = \"localhost:http2\"\n", []string{":4: dashboard.addr:", "must be a number from 0 to 65535"}},
		{"retention negative", "[[pipeline]]\nname=\"a\"\n[retention.failed]\nmax_files = -1\n", []string{":4: retention.failed.max_files: must not be negative"}},
		{"several at once", "a = 1\nb = 2\n[[pipeline]]\nname=\"x\"\n", []string{"a: unknown key", "b: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeConfig(t, tt.src, "upper")
			_, err := LoadConfig(file)
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := err.(ConfigErrors); !ok {
				t.Errorf("error is %T, want ConfigErrors", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error()+"\n", w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name the file", err)
			}
			if n := len(err.(ConfigErrors)); n > 1 && tt.name != "several at once" {
				t.Errorf("%d errors for one mistake: %v", n, err)
			}
		})
	}
}

// TestConfigErrorsAllAtOnce is the docs/CONFIG.md example: a bad duration
// no longer hides the unknown key and the unknown plugin, and the
// problems come in line order whatever the section order of the checks.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	src := `[[pipeline]]
name = "logs"
match = ["*.log"]
plugins = ["redact", "nope"]

[plugins.errors_only]
path = "plugins/upper.wasm"
timeout = "fast"

[limits]
bogus = 1
chunk_size = "1B"
`
	file := writeConfig(t, src, "upper", "redact")
	_, err := LoadConfig(file)
	errs, ok := err.(ConfigErrors)
	if !ok {
		t.Fatalf("got %v", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, strings.TrimPrefix(e.Error(), file))
	}
	want := []string{
		`:4: pipeline[1].plugins: unknown plugin "nope": no [plugins.nope] entry and no ` + filepath.Join(filepath.Dir(file), "plugins", "nope.wasm"),
		`:8: plugins.errors_only.timeout: bad duration "fast" (want e.g. "500ms", "30s", "5m")`,
		`:11: limits.bogus: unknown key`,
		`:12: limits.chunk_size: must be at least 1KiB, is 1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKeyLines pins the line finder on the shapes a config takes: array
// entries told apart, dotted and quoted keys, values over several lines.
func TestKeyLines(t *testing.T) {
	src := `top = 1
[[pipeline]]
name = "a"
plugins = [
  "x = 1",   # not a key
  "y",
]
[[pipeline]]
name = """
b = not a key
"""
match = ['*.c']
[plugins."csv.v2"]
config = { a = 1 }
[plugins.z.config]
deep.key = 2
[[watch]]
dir = "w"
`
	lines := keyLines([]byte(src))
	for key, want := range map[string]int{
		"top": 1, "pipeline[1]": 2, "pipeline[1].name": 3, "pipeline[1].plugins": 4,
		"pipeline[2]": 8, "pipeline[2].name": 9, "pipeline[2].match": 12,
		`plugins."csv.v2"`: 13, `plugins."csv.v2".config`: 14, "plugins.z.config.deep.key": 16,
		"watch[1].dir": 18,
	} {
		if got := lines[key]; got != want {
			t.Errorf("line of %s = %d, want %d", key, got, want)
		}
	}
	for _, k := range []string{"pipeline[1].x", "pipeline[2].b", "b"} {
		if _, ok := lines[k]; ok {
			t.Errorf("%s taken for a key", k)
		}
	}
	if got := lineFor(lines, "pipeline[2].plugins"); got != 8 {
		t.Errorf("missing key reported at line %d, want its table's (8)", got)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"plugins", "match", "name", "output"}
	for word, want := range map[string]string{"plugin": "plugins", "pluginz": "plugins", "mach": "match", "nmae": "", "colour": "", "outptu": "output", "plugins": ""} {
		if got := suggest(word, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

// TestDefaultsInOnePlace pins that the engine packages' defaults are the
// config's.
func TestDefaultsInOnePlace(t *testing.T) {
	d := DefaultConfig()
	if int(d.Limits.ChunkSize) != wasm.DefaultLimits.ChunkSize || int(d.Limits.MaxLine) != wasm.DefaultLimits.MaxLine {
		t.Errorf("limits %+v differ from wasm.DefaultLimits %+v", d.Limits, wasm.DefaultLimits)
	}
	if d.Run.Queue != watch.DefaultMaxTracked || d.Run.History != tracker.DefaultHistory {
		t.Errorf("queue %d, history %d differ from the engine's", d.Run.Queue, d.Run.History)
	}
	if !d.Retention.Processed.Off() || !d.Retention.Failed.Off() {
		t.Error("retention is on by default")
	}
}

func TestConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Fatalf("got %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "512": 512, "64KiB": 64 << 10, "16MiB": 16 << 20, "1GiB": 1 << 30, "10MB": 10e6, "2 kB": 2000, "7B": 7} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1.5MiB", "-1", "12 parsecs", "KiB", "10000000TB", "9223372036854775808"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) gave no error", in)
		}
	}
}

// textValue is a type set from a string by encoding.TextUnmarshaler, as
// a config field may be.
type textValue string

func (v *textValue) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		return errors.New("bad text value")
	}
	*v = textValue("<" + string(b) + ">")
	return nil
}

func TestDecodeTextUnmarshaler(t *testing.T) {
	var got struct {
		V  textValue   `toml:"v"`
		VS []textValue `toml:"vs"`
	}
	d := &decoder{file: "f.toml", lines: map[string]int{}}
	d.decode("", map[string]any{"v": "x", "vs": []any{"a", "b"}}, reflect.ValueOf(&got).Elem())
	if len(d.errs) != 0 || got.V != "<x>" || len(got.VS) != 2 || got.VS[1] != "<b>" {
		t.Errorf("got %+v, errors %v", got, d.errs)
	}
	d = &decoder{file: "f.toml", lines: map[string]int{}}
	d.decode("", map[string]any{"v": int64(3), "vs": []any{"bad"}}, reflect.ValueOf(&got).Elem())
	if d.errs.Error() != "f.toml: v: must be a string, got a number (3)\nf.toml: vs[1]: bad text value" {
		t.Errorf("errors: %v", d.errs)
	}
}
