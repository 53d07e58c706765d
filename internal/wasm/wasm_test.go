package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

func load(t *testing.T, spec wasm.Spec) *wasm.Plugin {
	t.Helper()
	e, err := wasm.NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func run(t *testing.T, plugins []*wasm.Plugin, in string, lim wasm.Limits) (string, error) {
	t.Helper()
	var out bytes.Buffer
	_, err := wasm.Run(context.Background(), plugins, "in.txt", strings.NewReader(in), &out, lim)
	return out.String(), err
}

func TestRunEdgeCases(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"one line", "a\n", "A\n"},
		{"no trailing newline", "a\nb", "A\nB"},
		{"only newlines", "\n\n\n", "\n\n\n"},
		{"crlf", "a\r\nb\r\n", "A\r\nB\r\n"},
		{"mixed endings", "a\r\nb\nc", "A\r\nB\nC"},
		{"invalid utf-8", "a\xff\xfeb\n", "A\xff\xfeB\n"},
		{"nul bytes", "a\x00b\n\x00\n", "A\x00B\n\x00\n"},
		{"lone cr", "a\rb\n", "A\rB\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(t, []*wasm.Plugin{upper}, tt.in, wasm.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Small chunks force lines across chunk boundaries and lines longer than a
// chunk; the output must not depend on the chunk size. A file under 64 KiB
// goes through the stages in turn, a larger one through them at once.
func TestRunChunkBoundaries(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	cat := load(t, wasm.Spec{Name: "cat", Path: wasmtest.Build(t, "testdata/cat")})
	for _, lines := range []int{500, 3000} {
		var in strings.Builder
		for i := 0; i < lines; i++ {
			in.WriteString(strings.Repeat("x", i%97))
			if i%7 == 0 {
				in.WriteString("\r")
			}
			in.WriteString("\n")
		}
		in.WriteString("tail")
		want := strings.ToUpper(in.String())
		sizes := []int{1, 2, 16, 100, 4096, 1 << 16}
		if lines > 500 {
			sizes = sizes[2:] // a call per byte is slow under -race
		}
		for _, size := range sizes {
			got, err := run(t, []*wasm.Plugin{cat, upper, cat}, in.String(), wasm.Limits{ChunkSize: size, MaxLine: 1 << 20})
			if err != nil {
				t.Fatalf("%d bytes, chunk %d: %v", in.Len(), size, err)
			}
			if got != want {
				t.Fatalf("%d bytes, chunk %d: output differs (%d bytes, want %d)", in.Len(), size, len(got), len(want))
			}
		}
	}
}

// TestRunLineSplit checks the SDK's line split as compiled to Wasm (an
// assembly loop there, eight bytes at a time): lines of every length up to
// a few words, so that each '\n' falls at every place in a word, through
// trim (a Map that shrinks lines, so a wrong split shows) and grep (a
// Filter), against the same work done here.
func TestRunLineSplit(t *testing.T) {
	trim := load(t, wasm.Spec{Name: "trim", Path: wasmtest.Plugin(t, "trim")})
	grep := load(t, wasm.Spec{Name: "grep", Path: wasmtest.Plugin(t, "grep"), Config: []byte(`{"pattern":"y","invert":true}`)})
	var in, want strings.Builder
	for n := range 40 {
		for _, end := range []string{"\n", "\r\n"} {
			for lead := range 3 {
				line := strings.Repeat(" ", lead) + strings.Repeat("x", n) + []string{"", "y", "z"}[n%3] + "\x00\t "[:n%4]
				in.WriteString(line + end)
				if trimmed := strings.TrimSpace(line); !strings.Contains(trimmed, "y") {
					want.WriteString(trimmed + end)
				}
			}
		}
	}
	for i := range 3000 { // more lines than the SDK finds with one call
		line := strings.Repeat(" ", i%2) + strings.Repeat("y", i%5/4) + strings.Repeat("x", i%3)
		in.WriteString(line + "\n")
		if !strings.Contains(line, "y") {
			want.WriteString(strings.TrimSpace(line) + "\n")
		}
	}
	in.WriteString("  last x")
	want.WriteString("last x")
	for _, size := range []int{64, 1 << 16} {
		got, err := run(t, []*wasm.Plugin{trim, grep}, in.String(), wasm.Limits{ChunkSize: size})
		if err != nil {
			t.Fatal(err)
		}
		if got != want.String() {
			t.Fatalf("chunk %d: got %q, want %q", size, got, want.String())
		}
	}
	// The SDK's batch of line ends fills up within the last word of the
	// chunk, where it tests a byte at a time.
	for _, n := range []int{1024, 1025, 1030, 1031, 1032} {
		in := strings.Repeat("\n", n) + " x"
		got, err := run(t, []*wasm.Plugin{trim, grep}, in, wasm.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat("\n", n) + "x"; got != want {
			t.Fatalf("%d empty lines: got %q, want %q", n, got, want)
		}
	}
}

func TestRunLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB line")
	}
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	line := bytes.Repeat([]byte("a"), 64<<20)
	in := "short\n" + string(line) + "\nafter\n"

	got, err := run(t, []*wasm.Plugin{upper}, in, wasm.Limits{MaxLine: 65 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) || got[:6] != "SHORT\n" || got[len(got)-6:] != "AFTER\n" || got[1000] != 'A' {
		t.Fatalf("64 MiB line: got %d bytes, want %d", len(got), len(in))
	}

	_, err = run(t, []*wasm.Plugin{upper}, in, wasm.Limits{MaxLine: 32 << 20})
	if !errors.Is(err, wasm.ErrLineTooLong) {
		t.Fatalf("over the maximum: got %v, want ErrLineTooLong", err)
	}
	if !strings.Contains(err.Error(), "max_line") {
		t.Errorf("error %q does not name the limit", err)
	}
	// The same line last and unterminated.
	_, err = run(t, []*wasm.Plugin{upper}, "x\n"+string(line), wasm.Limits{MaxLine: 32 << 20})
	if !errors.Is(err, wasm.ErrLineTooLong) {
		t.Fatalf("unterminated, over the maximum: got %v, want ErrLineTooLong", err)
	}
}

func TestPluginFailures(t *testing.T) {
	faulty := load(t, wasm.Spec{Name: "faulty", Path: wasmtest.Build(t, "testdata/faulty"), MaxIdle: 2, MaxMemory: 64 << 20})
	tests := []struct {
		line    string
		want    string
		trapped bool
	}{
		{"fail", "asked to fail", false},
		{"panic", "panic: assignment to entry in nil map", false},
		{"exit", "exit_code(3)", true},
		{"oom", "trapped", true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			before := faulty.Stats().Recycled.Load()
			_, err := run(t, []*wasm.Plugin{faulty}, "ok\n"+tt.line+"\nnot reached\n", wasm.Limits{})
			var se *wasm.StageError
			if !errors.As(err, &se) || se.Plugin != "faulty" {
				t.Fatalf("got %v, want a StageError naming the plugin", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var trap *wasm.Trap
			if errors.As(err, &trap) != tt.trapped {
				t.Errorf("trap = %v, want %v", !tt.trapped, tt.trapped)
			}
			if recycled := faulty.Stats().Recycled.Load() - before; (recycled == 1) != tt.trapped {
				t.Errorf("recycled %d instances", recycled)
			}
			// The plugin keeps working for the next file.
			got, err := run(t, []*wasm.Plugin{faulty}, "fine\n", wasm.Limits{})
			if err != nil || got != "fine\n" {
				t.Fatalf("next file: %q, %v", got, err)
			}
		})
	}
}

func TestPluginTimeout(t *testing.T) {
	faulty := load(t, wasm.Spec{Name: "faulty", Path: wasmtest.Build(t, "testdata/faulty"), Timeout: 200 * time.Millisecond})
	_, err := run(t, []*wasm.Plugin{faulty}, "loop\n", wasm.Limits{})
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if !wasm.IsTimeout(err) {
		t.Errorf("IsTimeout(%v) = false", err)
	}
	if got, err := run(t, []*wasm.Plugin{faulty}, "fine\n", wasm.Limits{}); err != nil || got != "fine\n" {
		t.Fatalf("next file: %q, %v", got, err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "not.wasm")
	os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o644)
	truncated := filepath.Join(dir, "truncated.wasm")
	upper, _ := os.ReadFile(wasmtest.Plugin(t, "upper"))
	os.WriteFile(truncated, upper[:len(upper)/2], 0o644)

	tests := []struct {
		name string
		spec wasm.Spec
		want string
	}{
		{"missing", wasm.Spec{Name: "gone", Path: filepath.Join(dir, "gone.wasm")}, "no such file"},
		{"not wasm", wasm.Spec{Name: "not", Path: notWasm}, "not a WebAssembly module"},
		{"truncated", wasm.Spec{Name: "truncated", Path: truncated}, "compile"},
		{"wrong abi", wasm.Spec{Name: "badabi", Path: wasmtest.Build(t, "testdata/badabi")}, "ABI version 2, host speaks version 1"},
		{"bad config", wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper"), Config: []byte(`[1]`)}, "configure: config is not a JSON object"},
	}
	e, err := wasm.NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), tt.spec)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "plugin "+tt.spec.Name) {
				t.Errorf("error %q should name the plugin and contain %q", err, tt.want)
			}
		})
	}
}

// Many files at once share a plugin's pool; each gets its own instance.
func TestRunConcurrent(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper"), MaxIdle: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := strings.Repeat("line "+string(rune('a'+i))+"\n", 5000)
			var out bytes.Buffer
			if _, err := wasm.Run(context.Background(), []*wasm.Plugin{upper}, "f", strings.NewReader(in), &out, wasm.Limits{ChunkSize: 1024}); err != nil {
				errs <- err
				return
			}
			if out.String() != strings.ToUpper(in) {
				errs <- errors.New("output mixed up between files")
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if live, idle := upper.Instances(); idle > 4 || live != idle {
		t.Errorf("after the run: %d live, %d idle instances; want at most 4, all idle", live, idle)
	}
}

func TestStats(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	var out bytes.Buffer
	stats, err := wasm.Run(context.Background(), []*wasm.Plugin{upper}, "f", strings.NewReader("ab\ncd\n"), &out, wasm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Plugin != "upper" || stats[0].BytesIn != 6 || stats[0].BytesOut != 6 || stats[0].Calls != 3 {
		t.Errorf("stats = %+v; want 6 bytes in and out over 3 calls (begin, chunk, end)", stats)
	}
}

// A plugin that allocates per line must not grow without bound: 1.6 GB of
// garbage through an instance capped at 128 MiB.
func TestGarbageIsCollected(t *testing.T) {
	g := load(t, wasm.Spec{Name: "garbage", Path: wasmtest.Build(t, "testdata/garbage"), MaxMemory: 128 << 20})
	in := strings.Repeat("line\n", 50000)
	got, err := run(t, []*wasm.Plugin{g}, in, wasm.Limits{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if got != in {
		t.Error("output differs")
	}
}

// Plugins see no filesystem, environment, arguments or real clock.
func TestSandbox(t *testing.T) {
	faulty := load(t, wasm.Spec{Name: "faulty", Path: wasmtest.Build(t, "testdata/faulty")})
	got, err := run(t, []*wasm.Plugin{faulty}, "probe\n", wasm.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(got, "\n")
	if line != "file=true dir=true env=0 args=0 year=2022" && line != "file=true dir=true env=0 args=1 year=2022" {
		t.Errorf("sandbox probe: %q; want no file, no dir, no env, no args, wazero's fake clock (2022)", line)
	}
}

// A plugin's log messages reach the host's logger, with level, plugin and
// file.
func TestPluginLog(t *testing.T) {
	var buf wasm.SyncBuffer
	e, err := wasm.NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Load(context.Background(), wasm.Spec{Name: "faulty", Path: wasmtest.Build(t, "testdata/faulty")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if _, err := run(t, []*wasm.Plugin{p}, "log\n", wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.Contains(got, `level=WARN msg="a warning from the plugin" plugin=faulty file=in.txt`) {
		t.Errorf("log = %q", got)
	}
}

// In a chain whose plugins run at once, the error names the plugin that
// failed, wherever it is in the chain, and the others stay usable.
func TestChainFailureNamesThePlugin(t *testing.T) {
	cat := load(t, wasm.Spec{Name: "cat", Path: wasmtest.Build(t, "testdata/cat"), MaxIdle: 3})
	faulty := load(t, wasm.Spec{Name: "faulty", Path: wasmtest.Build(t, "testdata/faulty")})
	in := strings.Repeat("filler line\n", 20000) + "fail\n" + strings.Repeat("after\n", 20000)
	for _, chain := range [][]*wasm.Plugin{{faulty, cat, cat}, {cat, faulty, cat}, {cat, cat, faulty}} {
		_, err := run(t, chain, in, wasm.Limits{ChunkSize: 1024})
		var se *wasm.StageError
		if !errors.As(err, &se) || se.Plugin != "faulty" || !strings.Contains(err.Error(), "asked to fail") {
			t.Errorf("got %v, want plugin faulty's failure", err)
		}
	}
	if got, err := run(t, []*wasm.Plugin{cat, faulty, cat}, in[:1000], wasm.Limits{ChunkSize: 1024}); err != nil || got != in[:1000] {
		t.Errorf("after failures: %v", err)
	}
}

// Closing a plugin while a file runs through it lets that file finish:
// an instance's memory is unmapped when it closes, so closing it under a
// running call would crash the process.
func TestCloseWhileRunning(t *testing.T) {
	e, err := wasm.NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Load(context.Background(), wasm.Spec{Name: "faulty", Path: wasmtest.Build(t, "testdata/faulty")})
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Repeat("slow\n", 300) // about 0.3 s of work
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		_, err := wasm.Run(context.Background(), []*wasm.Plugin{p}, "in.txt", strings.NewReader(in), &out, wasm.Limits{ChunkSize: 64})
		done <- err
	}()
	for {
		if live, idle := p.Instances(); live > idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the file in flight: %v", err)
	}
	if out.String() != in {
		t.Errorf("output: %d bytes, want %d", out.Len(), len(in))
	}
	if live, idle := p.Instances(); live != 0 || idle != 0 {
		t.Errorf("after the file: %d live, %d idle instances", live, idle)
	}
	if _, err := run(t, []*wasm.Plugin{p}, "x\n", wasm.Limits{}); err == nil {
		t.Error("a closed plugin took a new file")
	}
}
