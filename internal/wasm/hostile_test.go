package wasm_test

// The hostile-plugin suite: modules written in WebAssembly text against
// docs/ABI.md alone (testdata/hostile), each misbehaving in one way. For
// each: what becomes of the file, the message, and that the next file goes
// through the same plugin correctly.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

func hostile(t testing.TB, name string) string { return wasmtest.Hostile(t, name) }

// newEngine makes the suite's engines; TestHostileInterpreted runs the
// suite again with engines whose plugins stay interpreted.
var newEngine = func(logger *slog.Logger) (*wasm.Engine, error) { return wasm.NewEngine("", logger) }

// The interpreter, which a tiered engine runs a plugin in until it has
// compiled, contains hostile plugins as the compiler does.
func TestHostileInterpreted(t *testing.T) {
	defer func(old func(*slog.Logger) (*wasm.Engine, error)) { newEngine = old }(newEngine)
	newEngine = wasm.NewInterpretingEngine
	for name, test := range map[string]func(*testing.T){
		"Calls": TestHostileCalls, "Load": TestHostileLoad, "HiddenMemory": TestHiddenMemory,
		"LargeEmitIsStreamed": TestLargeEmitIsStreamed, "TableBomb": TestTableBomb,
		"MemoryBudget": TestMemoryBudget, "LogFlood": TestLogFlood, "WASIProbes": TestWASIProbes,
		"LoopDoesNotBlockTheHost": TestLoopDoesNotBlockTheHost, "MemoryBudgetAtInstantiation": TestMemoryBudgetAtInstantiation,
		"InitialMemoryOverMaxMemory": TestInitialMemoryOverMaxMemory,
	} {
		t.Run(name, test)
	}
}

// loadHostile loads a hostile case with the given limits.
func loadHostile(t *testing.T, name string, spec wasm.Spec) (*wasm.Plugin, error) {
	t.Helper()
	e, err := newEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	spec.Name = name
	spec.Path = hostile(t, name)
	p, err := e.Load(context.Background(), spec)
	if err == nil {
		t.Cleanup(func() { _ = p.Close(context.Background()) })
	}
	return p, err
}

// Every call into a plugin has a time limit, on by default; a call over
// it is stopped wherever it is, the file fails naming the export, and the
// next file gets a fresh instance.
func TestHostileCalls(t *testing.T) {
	const limit = 300 * time.Millisecond
	tests := []struct {
		plugin, name, in string
		spec             wasm.Spec
		want             string // in the error
		limit            string // the LimitError's key, if one
		trap             bool
	}{
		{plugin: "loop_chunk", in: "!\n", want: "plugin_chunk stopped: did not return within 300ms", limit: "call_timeout"},
		{plugin: "loop_calls", in: "!\n", want: "plugin_chunk stopped", limit: "call_timeout"},
		{plugin: "loop_begin", name: "!x.txt", in: "a\n", want: "plugin_begin stopped", limit: "call_timeout"},
		{plugin: "loop_end", in: "!\n", want: "plugin_end stopped", limit: "call_timeout"},
		{plugin: "loop_buffer", in: strings.Repeat("x", 61000) + "\n", want: "plugin_buffer stopped", limit: "call_timeout"},
		{plugin: "emit_forever", in: "!\n", spec: wasm.Spec{MaxOutput: 64 << 20}, want: "plugin_chunk stopped: emitted more than 64MiB for one file (max_output)", limit: "max_output"},
		{plugin: "unreachable", in: "!\n", want: "plugin_chunk trapped: wasm error: unreachable", trap: true},
		{plugin: "stack_overflow", in: "!\n", want: "stack overflow", trap: true}, // "wasm error: stack overflow" in the interpreter
		{plugin: "bad_emit", in: "!\n", want: "plugin_chunk trapped: emit: range 0x1ffb8+100000 is outside memory", trap: true},
		{plugin: "bad_log", in: "!L\n", want: "plugin_chunk trapped: log: range 0xfffffff0+64 is outside memory", trap: true},
		{plugin: "bad_log", in: "!F\n", want: "plugin_chunk trapped: fail: range 0xfffffff0+64 is outside memory", trap: true},
		{plugin: "bad_buffer", in: strings.Repeat("x", 61000) + "\n", want: "plugin_buffer returned 61001 bytes at 0x7ffffff0, outside memory"},
		{plugin: "null_buffer", in: strings.Repeat("x", 61000) + "\n", want: "plugin_buffer returned a null pointer"},
		{plugin: "status_stripped", in: "!\n", want: "plugin status_stripped: plugin_chunk returned status 5"},
	}
	for _, tt := range tests {
		t.Run(tt.plugin+"/"+tt.in[:min(2, len(tt.in))], func(t *testing.T) {
			spec := tt.spec
			if tt.limit == "call_timeout" {
				spec.CallTimeout = limit
			}
			p, err := loadHostile(t, tt.plugin, spec)
			if err != nil {
				t.Fatal(err)
			}
			name := tt.name
			if name == "" {
				name = "in.txt"
			}
			var out bytes.Buffer
			_, err = wasm.Run(context.Background(), []*wasm.Plugin{p}, name, strings.NewReader(tt.in), &out, wasm.Limits{})
			if err == nil {
				t.Fatal("the file passed")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "plugin "+tt.plugin+": ") {
				t.Errorf("error %q\nwant it to name the plugin and contain %q", err, tt.want)
			}
			var lim *wasm.LimitError
			if errors.As(err, &lim) != (tt.limit != "") || (lim != nil && lim.Key != tt.limit) {
				t.Errorf("limit error %+v, want key %q", lim, tt.limit)
			}
			var trap *wasm.Trap
			if tt.trap && !errors.As(err, &trap) {
				t.Errorf("%v is not a trap", err)
			}
			if wasm.IsTimeout(err) {
				t.Errorf("IsTimeout(%v): a call over its limit is not worth a retry", err)
			}
			// The next file goes through the same plugin.
			out.Reset()
			if _, err := wasm.Run(context.Background(), []*wasm.Plugin{p}, "next.txt", strings.NewReader("ok\n"), &out, wasm.Limits{}); err != nil || out.String() != "ok\n" {
				t.Fatalf("next file: %q, %v", out.String(), err)
			}
			if live, idle := p.Instances(); live != idle {
				t.Errorf("%d instances live, %d idle: one leaked", live, idle)
			}
		})
	}
}

// Load-time calls have the same time limit, and a module that cannot be a
// plugin fails to load with a message that says why, naming the export.
func TestHostileLoad(t *testing.T) {
	tests := []struct{ plugin, want string }{
		{"loop_start", "the start function or _initialize stopped: did not return within 300ms (call_timeout)"},
		{"loop_initialize", "the start function or _initialize stopped: did not return within 300ms (call_timeout)"},
		{"loop_abi", "plugin_abi_version stopped: did not return within 300ms (call_timeout)"},
		{"loop_configure", "configure: plugin_configure stopped: did not return within 300ms (call_timeout)"},
		{"configure_status", "configure: plugin_configure returned status 5"},
		{"no_memory", "has no memory: a plugin must define one"},
		{"imported_memory", "imports its memory env.memory: a plugin must define its own memory"},
		{"chunk_i64", "export plugin_chunk has type (func (param i32) (result i64)), want (func (param i32) (result i32))"},
		{"abi_f32", "export plugin_abi_version has type (func (result f32)), want (func (result i32))"},
		{"begin_params", "export plugin_begin has type (func (param i32 i32) (result i32)), want (func (param i32) (result i32))"},
		{"no_end", "does not export plugin_end"},
		{"import_env", `imports env.foo, which the host does not provide`},
		{"import_bad_type", "instantiate: "},
		{"import_unknown_host", "instantiate: "},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			_, err := loadHostile(t, tt.plugin, wasm.Spec{CallTimeout: 300 * time.Millisecond})
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "plugin "+tt.plugin+" (") {
				t.Errorf("error %q\nwant it to name the plugin and contain %q", err, tt.want)
			}
		})
	}
}

// A module whose memory is not exported works: the host uses the module's
// memory, exported or not (docs/ABI.md, "Module kind").
func TestHiddenMemory(t *testing.T) {
	p, err := loadHostile(t, "hidden_memory", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := run(t, []*wasm.Plugin{p}, "a\nb\n", wasm.Limits{}); err != nil || got != "a\nb\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// streamCounter is an output that remembers its largest write.
type streamCounter struct {
	n, writes, largest int
}

func (w *streamCounter) Write(b []byte) (int, error) {
	w.n += len(b)
	w.writes++
	w.largest = max(w.largest, len(b))
	return len(b), nil
}

// What one call emits is passed on as it comes, in pieces of about 1 MiB,
// not held until the call returns: 2 GiB from one call never sits in host
// memory.
func TestLargeEmitIsStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("2 GiB of output")
	}
	p, err := loadHostile(t, "emit_2gib", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	var w streamCounter
	if _, err := wasm.Run(context.Background(), []*wasm.Plugin{p}, "in.txt", strings.NewReader("!\n"), &w, wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if w.n != 2<<30 {
		t.Errorf("%d bytes out, want 2 GiB", w.n)
	}
	if w.largest > 2<<20 || w.writes < 1024 {
		t.Errorf("%d writes, the largest %d bytes: the call's output was held, not streamed", w.writes, w.largest)
	}
}

// One emit of 8 MiB reaches the output in pieces of at most 1 MiB: the
// host never copies it whole.
func TestOneLargeEmitIsStreamed(t *testing.T) {
	p, err := loadHostile(t, "emit_one_big", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	var w streamCounter
	if _, err := wasm.Run(context.Background(), []*wasm.Plugin{p}, "in.txt", strings.NewReader("!\n"), &w, wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if w.n != 8<<20 || w.largest > 1<<20 {
		t.Errorf("%d bytes out in %d writes, the largest %d bytes; want 8 MiB in pieces of at most 1 MiB", w.n, w.writes, w.largest)
	}
}

// table.grow stops at max_table.
func TestTableBomb(t *testing.T) {
	for _, limit := range []uint32{100_000, 0} {
		p, err := loadHostile(t, "table_bomb", wasm.Spec{MaxTable: limit})
		if err != nil {
			t.Fatal(err)
		}
		_, err = run(t, []*wasm.Plugin{p}, "!\n", wasm.Limits{})
		m := regexp.MustCompile(`plugin_chunk returned status (\d+)`).FindStringSubmatch(fmt.Sprint(err))
		if m == nil {
			t.Fatalf("got %v, want the table's size as the status", err)
		}
		size, _ := strconv.Atoi(m[1])
		want := limit
		if want == 0 {
			want = wasm.DefaultMaxTable
		}
		if size > int(want) || size < int(want)-65536 {
			t.Errorf("max_table %d: the table reached %d elements", want, size)
		}
	}
}

// Instances reserve their memory from the engine's budget: a growth that
// does not fit fails the file with ErrMemoryBudget (worth a retry, not a
// trap), and the memory comes back when instances close.
func TestMemoryBudget(t *testing.T) {
	e, err := newEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	const budget = 16 << 20
	e.SetMemoryBudget(budget)
	p, err := e.Load(context.Background(), wasm.Spec{Name: "bomb", Path: hostile(t, "memory_bomb"), MaxIdle: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	// Four bombs at once, each wanting 6.25 MiB more than its 128 KiB: two
	// fit in 16 MiB, so at least one must fail, and clearly.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	hold := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = wasm.Run(context.Background(), []*wasm.Plugin{p}, "in.txt", strings.NewReader("!\n"), &blockingWriter{hold}, wasm.Limits{})
		})
	}
	// The files that grew hold their memory until released, so the others
	// meet a full budget. Those fail at once; then the rest are let go.
	waitFor(t, func() bool { return e.MemoryBudget().Used() > budget-7<<20 })
	if used := e.MemoryBudget().Used(); used > budget {
		t.Errorf("budget: %d bytes in use, over %d", used, budget)
	}
	close(hold)
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !errors.Is(err, wasm.ErrMemoryBudget) || !strings.Contains(err.Error(), "plugin bomb: plugin_chunk could not grow its memory") {
			t.Errorf("got %v, want ErrMemoryBudget naming the plugin and the call", err)
		}
		var trap *wasm.Trap
		if errors.As(err, &trap) {
			t.Errorf("%v is a trap: a budget refusal is worth another try", err)
		}
	}
	if failed == 0 {
		t.Error("four 6 MiB bombs all fit in a 16 MiB budget")
	}
	if got, err := run(t, []*wasm.Plugin{p}, "ok\n", wasm.Limits{}); err != nil || got != "ok\n" {
		t.Fatalf("next file: %q, %v", got, err)
	}
	_ = p.Close(context.Background())
	if used := e.MemoryBudget().Used(); used != 0 {
		t.Errorf("after Close, %d bytes of the budget still held", used)
	}
}

// blockingWriter holds every write until hold is closed.
type blockingWriter struct{ hold chan struct{} }

func (w *blockingWriter) Write(b []byte) (int, error) {
	<-w.hold
	return len(b), nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder is a slog handler that keeps records.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
	seen    chan string // each message, if not nil
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	if r.seen != nil {
		select {
		case r.seen <- rec.Message:
		default:
		}
	}
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		out = append(out, rec.Message)
	}
	return out
}

func loadLogged(t *testing.T, name string, spec wasm.Spec) (*wasm.Plugin, *recorder) {
	t.Helper()
	rec := &recorder{}
	e, err := newEngine(slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	spec.Name, spec.Path = name, hostile(t, name)
	p, err := e.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, rec
}

// A log flood is cut to the rate limit, with a note of how many lines
// were dropped.
func TestLogFlood(t *testing.T) {
	p, rec := loadLogged(t, "log_flood", wasm.Spec{LogRate: 10})
	start := time.Now()
	if _, err := run(t, []*wasm.Plugin{p}, "!flood\n", wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	msgs := rec.messages()
	note := regexp.MustCompile(`^(\d+) log lines dropped \(log_rate: 10 a second\)$`)
	logged := 0
	for _, msg := range msgs {
		if !note.MatchString(msg) {
			logged++
		}
	}
	// 10 at once, then 10 a second.
	if most := 10 + int(elapsed.Seconds()*10) + 1; logged > most {
		t.Errorf("%d lines logged in %v, want at most %d", logged, elapsed, most)
	}
	// Notes come with the next line let through and at the end of the
	// file; together with the lines logged they account for every line.
	if !note.MatchString(msgs[len(msgs)-1]) {
		t.Fatalf("last message %q, want the dropped-lines note", msgs[len(msgs)-1])
	}
	lines := 0
	for _, msg := range msgs {
		if m := note.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			lines += n
		} else {
			lines++
		}
	}
	if lines != 100000 {
		t.Errorf("%d lines logged or noted as dropped, want 100000", lines)
	}
	if got := p.Stats().LogDropped.Load(); got < 99000 {
		t.Errorf("stats: %d dropped", got)
	}
}

// A huge log message is cut to max_log_message, saying so.
func TestLogHuge(t *testing.T) {
	p, rec := loadLogged(t, "log_huge", wasm.Spec{})
	if _, err := run(t, []*wasm.Plugin{p}, "!\n", wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	msgs := rec.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	want := fmt.Sprintf(" [%d more bytes cut: max_log_message]", 8<<20-wasm.DefaultMaxLogMessage)
	if !strings.HasSuffix(msgs[0], want) || len(msgs[0]) > 5*wasm.DefaultMaxLogMessage {
		t.Errorf("message of %d bytes ending %q, want it cut with %q", len(msgs[0]), msgs[0][max(0, len(msgs[0])-60):], want)
	}
}

// Control characters in a plugin's log messages, failure message and
// output reach neither the terminal nor the log raw.
func TestControlCharactersEscaped(t *testing.T) {
	p, rec := loadLogged(t, "control_chars", wasm.Spec{})
	const escaped = `\x1b]0;pwned\x07\x1b[2J\x00\nlevel=ERROR msg=forged\r`
	_, err := run(t, []*wasm.Plugin{p}, "!F\n", wasm.Limits{})
	if err == nil || err.Error() != "plugin control_chars: "+escaped {
		t.Errorf("failure: %q\nwant %q", err, "plugin control_chars: "+escaped)
	}
	if msgs := rec.messages(); len(msgs) != 1 || msgs[0] != escaped {
		t.Errorf("log: %q, want %q", msgs, escaped)
	}
	_, err = run(t, []*wasm.Plugin{p}, "!T\n", wasm.Limits{})
	// The output's trailing white space (here the \r) is trimmed.
	if err == nil || !strings.HasSuffix(err.Error(), "; plugin output: "+strings.TrimSuffix(escaped, `\r`)) {
		t.Errorf("trap: %q\nwant the plugin's output escaped: %q", err, escaped)
	}
	for _, s := range []string{fmt.Sprint(err), strings.Join(rec.messages(), "")} {
		if strings.ContainsAny(s, "\x1b\x00\x07\r\n") {
			t.Errorf("raw control characters in %q", s)
		}
	}
}

// The WASI sandbox: no files, no sockets, no environment or arguments, a
// fake clock and the same random bytes in every instance.
func TestWASIProbes(t *testing.T) {
	probe := func() []uint32 {
		p, err := loadHostile(t, "wasi_probe", wasm.Spec{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := run(t, []*wasm.Plugin{p}, "!\n", wasm.Limits{})
		if err != nil || len(got) != 40 {
			t.Fatalf("probe: %q, %v", got, err)
		}
		words := make([]uint32, 10)
		for i := range words {
			words[i] = binary.LittleEndian.Uint32([]byte(got[4*i:]))
		}
		return words
	}
	w := probe()
	const ebadf = 8
	if w[0] != ebadf || w[1] != ebadf || w[2] != ebadf {
		t.Errorf("path_open %d, fd_prestat_get %d, sock_accept %d: want EBADF (%d): no preopens, no sockets", w[0], w[1], w[2], ebadf)
	}
	if w[9] == 0 {
		t.Errorf("sock_accept on stdin succeeded")
	}
	if w[3] != 0 || w[4] != 0 {
		t.Errorf("%d environment variables, %d arguments; want none", w[3], w[4])
	}
	clock := time.Unix(0, int64(uint64(w[6])<<32|uint64(w[5]))).UTC()
	if clock.Year() != 2022 {
		t.Errorf("wall clock %v, want the fake clock of 2022", clock)
	}
	if w2 := probe(); w2[7] != w[7] || w2[8] != w[8] {
		t.Errorf("random_get differs between instances: %x%x, %x%x", w[7], w[8], w2[7], w2[8])
	}
}

// A loop in a plugin does not stop the host's garbage collector (nor any
// other goroutine), and cancelling the file's context (shutdown) stops the
// call at once, whatever the time limit.
func TestLoopDoesNotBlockTheHost(t *testing.T) {
	rec := &recorder{seen: make(chan string, 1)}
	e, err := newEngine(slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Load(context.Background(), wasm.Spec{Name: "loop", Path: hostile(t, "loop_logged"), CallTimeout: wasm.NoLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := wasm.Run(ctx, []*wasm.Plugin{p}, "in.txt", strings.NewReader("!\n"), io.Discard, wasm.Limits{})
		done <- err
	}()
	if msg := <-rec.seen; msg != "looping" {
		t.Fatalf("log %q", msg)
	}
	gc := make(chan struct{})
	go func() {
		runtime.GC()
		close(gc)
	}()
	select {
	case <-gc:
	case <-time.After(time.Minute):
		t.Fatal("runtime.GC did not finish while a plugin loops")
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want the cancellation", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a cancelled file's call did not stop")
	}
}

// Output passed on during a call reaches the next plugin while the call
// runs, in a chain run on one goroutine (a small file) and on several.
func TestStreamedOutputThroughAChain(t *testing.T) {
	p, err := loadHostile(t, "emit_4mib", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	// With 1 KiB chunks the first line, which sets the plugin off, comes
	// alone; the rest passes through.
	first := "!" + strings.Repeat("x", 1018) + "\n"
	for _, rest := range []string{"rest\n", strings.Repeat("line\n", 30000)} {
		got, err := run(t, []*wasm.Plugin{p, upper}, first+rest, wasm.Limits{ChunkSize: 1024})
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Repeat("\x00", 4<<20) + strings.ToUpper(rest)
		if got != want {
			t.Errorf("%d bytes in: got %d bytes, want %d", len(first+rest), len(got), len(want))
		}
	}
}

// An instance whose initial memory does not fit in the budget is not made,
// and says why.
func TestMemoryBudgetAtInstantiation(t *testing.T) {
	e, err := newEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.SetMemoryBudget(64 << 10) // base.wat starts with 128 KiB
	_, err = e.Load(context.Background(), wasm.Spec{Name: "small", Path: hostile(t, "unreachable")})
	if !errors.Is(err, wasm.ErrMemoryBudget) {
		t.Errorf("got %v, want ErrMemoryBudget", err)
	}
	if used := e.MemoryBudget().Used(); used != 0 {
		t.Errorf("%d bytes of the budget held after a failed load", used)
	}
}
