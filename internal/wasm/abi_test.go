package wasm_test

// Tests that pin rules of docs/ABI.md that the rest of the suite does not.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

// Bytes emitted during _initialize and plugin_configure are dropped;
// bytes emitted in plugin_buffer are output of the call the buffer is for.
func TestEmitOutsideFileCalls(t *testing.T) {
	p, err := loadHostile(t, "emit_in_load", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	// Load asked for 2 bytes (the settings, "{}"); the name "in.txt" needs
	// a larger buffer, the chunk "a\n" does not.
	if got, err := run(t, []*wasm.Plugin{p}, "a\n", wasm.Limits{}); err != nil || got != "buf|a\n" {
		t.Errorf("got %q, %v; want %q", got, err, "buf|a\n")
	}
}

// plugin_begin gets the name given to Run (in folder mode the file's
// original name).
func TestBeginGetsTheName(t *testing.T) {
	p, err := loadHostile(t, "begin_name", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := wasm.Run(context.Background(), []*wasm.Plugin{p}, "report 2026.txt", strings.NewReader("a\n"), &out, wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "report 2026.txt\na\n" {
		t.Errorf("got %q", out.String())
	}
}

// attrLog records each message with its plugin attribute.
type attrLog struct {
	mu     *sync.Mutex
	lines  *[]string
	plugin string
}

func (h attrLog) Enabled(context.Context, slog.Level) bool { return true }
func (h attrLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.lines = append(*h.lines, h.plugin+": "+r.Message)
	h.mu.Unlock()
	return nil
}
func (h attrLog) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "plugin" {
			h.plugin = a.Value.String()
		}
	}
	return h
}
func (h attrLog) WithGroup(string) slog.Handler { return h }

// The host reads up to 64 KiB of input before any plugin_begin, then calls
// plugin_begin from the last plugin of the chain to the first.
func TestBeginOrder(t *testing.T) {
	var lines []string
	e, err := wasm.NewEngine("", slog.New(attrLog{mu: &sync.Mutex{}, lines: &lines}))
	if err != nil {
		t.Fatal(err)
	}
	path := hostile(t, "begin_log")
	var chain []*wasm.Plugin
	for _, name := range []string{"first", "second", "third"} {
		p, err := e.Load(context.Background(), wasm.Spec{Name: name, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		chain = append(chain, p)
	}
	if _, err := run(t, chain, "a\n", wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, ", "); got != "third: begin, second: begin, first: begin" {
		t.Errorf("begin calls: %s", got)
	}
	lines = nil
	broken := errors.New("disk on fire")
	_, err = wasm.Run(context.Background(), chain, "in.txt", errReader{broken}, &bytes.Buffer{}, wasm.Limits{})
	if !errors.Is(err, broken) || len(lines) != 0 {
		t.Errorf("input that cannot be read: %v, begin calls %v; want the read error before any begin", err, lines)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// max_memory of 4 GiB is rounded down to 65535 pages: a memory of 65536
// pages has a length no 32-bit size holds.
func TestMaxMemory4GiB(t *testing.T) {
	p := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper"), MaxMemory: 4 << 30})
	if got := p.Spec().MaxMemory; got != 65535*65536 {
		t.Errorf("max_memory 4GiB became %d bytes, want 65535 pages", got)
	}
	if got, err := run(t, []*wasm.Plugin{p}, "a\n", wasm.Limits{}); err != nil || got != "A\n" {
		t.Errorf("got %q, %v", got, err)
	}
}

// The defaults in docs/ABI.md's limits table are the code's.
func TestDefaultLimitsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(wasmtest.Root(t), "docs", "ABI.md"))
	if err != nil {
		t.Fatal(err)
	}
	p := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	spec := p.Spec()
	want := map[string]string{
		"call_timeout":    spec.CallTimeout.String(),
		"max_memory":      wasm.SizeString(spec.MaxMemory),
		"max_output":      wasm.SizeString(spec.MaxOutput),
		"max_table":       "1048576 elements",
		"log_rate":        "100 lines a second",
		"max_log_message": wasm.SizeString(uint64(spec.MaxLogMessage)),
		"timeout":         "none",
	}
	if spec.MaxTable != 1048576 || spec.LogRate != 100 || spec.Timeout != 0 || spec.CallTimeout != 30*time.Second {
		t.Errorf("defaults changed; update docs/ABI.md and this test: %+v", spec)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([^|]+?) \\|")
	found := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		found[m[1]] = m[2]
	}
	for key, def := range want {
		if found[key] != def {
			t.Errorf("docs/ABI.md: %s defaults to %q, the code to %q", key, found[key], def)
		}
	}
}

// docs/ABI.md names the Go version the SDK needs: the module's.
func TestGoVersionDocumented(t *testing.T) {
	root := wasmtest.Root(t)
	mod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	doc, _ := os.ReadFile(filepath.Join(root, "docs", "ABI.md"))
	if m == nil || !strings.Contains(string(doc), "for Go "+string(m[1])+" and later") {
		t.Errorf("docs/ABI.md does not say the SDK is for Go %s and later (go.mod)", m[1])
	}
}

// slowReader gives its first part at once and the rest only after a pause,
// during which a file's timeout passes between two calls.
type slowReader struct {
	first, rest []byte
	pause       time.Duration
}

func (r *slowReader) Read(b []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(b, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	if r.pause > 0 {
		time.Sleep(r.pause)
		r.pause = 0
	}
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// A file's timeout that passes between calls fails the file at the next
// one, as a timeout (worth a retry).
func TestTimeoutBetweenCalls(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper"), Timeout: 50 * time.Millisecond})
	line := strings.Repeat("x", 99) + "\n"
	r := &slowReader{first: []byte(strings.Repeat(line, 1000)), rest: []byte(line), pause: 500 * time.Millisecond}
	_, err := wasm.Run(context.Background(), []*wasm.Plugin{upper}, "in.txt", r, io.Discard, wasm.Limits{})
	if !errors.Is(err, context.DeadlineExceeded) || !wasm.IsTimeout(err) || !strings.HasPrefix(fmt.Sprint(err), "plugin upper: ") {
		t.Errorf("got %v, want the plugin's timeout", err)
	}
}

// A module whose initial memory is over max_memory fails to load, saying
// so.
func TestInitialMemoryOverMaxMemory(t *testing.T) {
	_, err := loadHostile(t, "log_huge", wasm.Spec{MaxMemory: 1 << 20}) // 130 pages
	if err == nil || !strings.Contains(err.Error(), "compile: section memory: min 130 pages (8 Mi) over limit of 16 pages (1 Mi)") {
		t.Errorf("got %v", err)
	}
}
