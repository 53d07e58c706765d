package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		if p := cfg.PipelineFor(cfg.Watch[0], name); p == nil || p.Name != want {
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
		{"unknown nested key", "[[pipeline]]\nname = \"a\"\nplugin = [\"upper\"]\n", []string{"config.toml:3: pipeline.plugin: unknown key"}},
		{"unknown limits key", "[[pipeline]]\nname=\"a\"\n[limits]\nchunk = 1\n", []string{":4: limits.chunk: unknown key"}},
		{"wrong type", "[[pipeline]]\nname = 5\n", []string{"config.toml:2: pipeline.name: incompatible types"}},
		{"bad size", "[[pipeline]]\nname=\"a\"\n[limits]\nchunk_size = \"big\"\n", []string{"bad size \"big\""}},
		{"bad duration", "[[pipeline]]\nname=\"a\"\nplugins=[\"upper\"]\n[plugins.upper]\ntimeout = \"soon\"\n", []string{"bad duration \"soon\""}},
		{"no pipeline", "", []string{"no [[pipeline]]"}},
		{"unknown plugin", "[[pipeline]]\nname = \"a\"\nplugins = [\"nosuch\"]\n", []string{":3: pipeline.a.plugins: unknown plugin \"nosuch\"", "nosuch.wasm"}},
		{"missing wasm", "[[pipeline]]\nname=\"a\"\n[plugins.x]\npath = \"gone.wasm\"\n", []string{":4: plugins.x.path:", "gone.wasm"}},
		{"duplicate pipeline", "[[pipeline]]\nname=\"a\"\n[[pipeline]]\nname=\"a\"\n", []string{"pipeline \"a\" defined twice"}},
		{"bad glob", "[[pipeline]]\nname=\"a\"\nmatch=[\"[\"]\n", []string{"bad glob"}},
		{"unknown pipeline in watch", "[[watch]]\ndir=\"w\"\npipelines=[\"zz\"]\n[[pipeline]]\nname=\"a\"\n", []string{"watch.0.pipelines: unknown pipeline \"zz\""}},
		{"chunk too small", "[[pipeline]]\nname=\"a\"\n[limits]\nchunk_size = 10\n", []string{"limits.chunk_size: must be at least 1KiB"}},
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
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), file) {
				t.Errorf("error %q does not name the file", err)
			}
		})
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
	for _, in := range []string{"", "1.5MiB", "-1", "12 parsecs", "KiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) gave no error", in)
		}
	}
}
