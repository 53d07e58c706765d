package host

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// Every example plugin, run in the real host on data like what it meets in
// use. The plugins' own tests cover their edge cases natively; these show
// they load, take their settings and stream through the engine.
func TestExamplePluginsInHost(t *testing.T) {
	plugins := map[string]string{}
	for _, name := range []string{"upper", "lower", "trim", "snake_case", "grep", "redact", "count", "dedupe", "csv2jsonl"} {
		plugins[name] = wasmtest.Plugin(t, name)
	}
	h, _ := newHost(t, `
[limits]
chunk_size = "1KiB" # many chunks even for small inputs

[plugins.errors]
path = "plugins/grep.wasm"
[plugins.errors.config]
pattern = "^(ERROR|FATAL)"

[plugins.quiet]
path = "plugins/grep.wasm"
[plugins.quiet.config]
pattern = "debug"
invert = true
ignore_case = true

[plugins.uniq]
path = "plugins/dedupe.wasm"
[plugins.uniq.config]
adjacent = true

[[pipeline]]
name = "upper"
plugins = ["upper"]
[[pipeline]]
name = "lower"
plugins = ["lower"]
[[pipeline]]
name = "trim"
plugins = ["trim"]
[[pipeline]]
name = "snake_case"
plugins = ["snake_case"]
[[pipeline]]
name = "errors"
plugins = ["errors"]
[[pipeline]]
name = "quiet"
plugins = ["quiet"]
[[pipeline]]
name = "redact"
plugins = ["redact"]
[[pipeline]]
name = "count"
plugins = ["count"]
[[pipeline]]
name = "dedupe"
plugins = ["dedupe"]
[[pipeline]]
name = "uniq"
plugins = ["uniq"]
[[pipeline]]
name = "csv2jsonl"
plugins = ["csv2jsonl"]
[[pipeline]]
name = "logs"
plugins = ["trim", "redact", "dedupe", "count"]
`, plugins)

	longLog := strings.Repeat("GET /index.html from 10.1.2.3\n", 200)
	tests := []struct {
		pipeline, in, want string
	}{
		{"upper", "Hello, World\r\nstraße", "HELLO, WORLD\r\nSTRAßE"},
		{"lower", "Hello, WORLD\n", "hello, world\n"},
		{"trim", "  padded \t\n\tx  \r\n", "padded\nx\r\n"},
		{"snake_case", "Hello World\nparseHTTPRequest\n", "hello_world\nparse_http_request\n"},
		{"errors", "INFO ok\nERROR disk\nFATAL cpu\nan ERROR inside\n", "ERROR disk\nFATAL cpu\n"},
		{"quiet", "DEBUG x\ninfo y\nDebug z\n", "info y\n"},
		{"redact", "mail bob@example.com from 192.168.0.1 card 4111 1111 1111 1111 at 12:30 v1.2.3\n",
			"mail [EMAIL] from [IPV4] card [CARD] at 12:30 v1.2.3\n"},
		{"count", "one two\nthree\n", "one two\nthree\n# lines=2 words=3 bytes=14\n"},
		{"dedupe", "a\nb\na\nc\nb\n", "a\nb\nc\n"},
		{"uniq", "a\na\nb\na\n", "a\nb\na\n"},
		{"csv2jsonl", "name,age\nAnn,41\n\"Bob, Jr.\",7\n", "{\"name\":\"Ann\",\"age\":\"41\"}\n{\"name\":\"Bob, Jr.\",\"age\":\"7\"}\n"},
		{"logs", longLog + "  user alice@example.org logged in  \n", "GET /index.html from [IPV4]\nuser [EMAIL] logged in\n# lines=2 words=8 bytes=51\n"},
	}
	for _, tt := range tests {
		t.Run(tt.pipeline, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := h.Process(context.Background(), tt.pipeline, "in.txt", strings.NewReader(tt.in), &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got  %q\nwant %q", out.String(), tt.want)
			}
		})
	}

}

// A bad setting stops the host at load, naming the plugin and the key.
func TestExamplePluginBadSettings(t *testing.T) {
	file := writeConfig(t, `
[plugins.errors]
path = "`+wasmtest.Plugin(t, "grep")+`"
[plugins.errors.config]
pattern = "(unclosed"
[[pipeline]]
name = "p"
plugins = ["errors"]
`)
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "plugin errors") || !strings.Contains(err.Error(), "pattern") {
		t.Fatalf("got %v, want an error naming plugin errors and key pattern", err)
	}
}
