// Package wasm runs plugins: WebAssembly modules that implement the host ABI
// (docs/ABI.md), compiled once by wazero and kept as a pool of ready
// instances that stream files through in chunks of whole lines.
package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ABIVersion is the plugin ABI version this host speaks.
const ABIVersion = 1

// Spec says how to load one plugin.
type Spec struct {
	Name   string // the name pipelines use
	Path   string // the .wasm file
	Config []byte // settings handed to plugin_configure, a JSON object

	// MaxMemory caps an instance's linear memory in bytes; 0 means the
	// Wasm maximum of 4 GiB.
	MaxMemory uint64
	// Timeout bounds the wall-clock time of a file while this plugin is
	// in its chain (from begin to end, waiting included); 0 means none. Setting it makes wazero check the context in loops, which
	// slows loop-heavy plugins, so it is off unless asked for.
	Timeout time.Duration
	// RecycleAbove closes an instance after a file instead of pooling it
	// when its memory has grown past this many bytes: Wasm memory never
	// shrinks. 0 means DefaultRecycleAbove.
	RecycleAbove uint64
	// MaxIdle is how many ready instances are kept between files.
	MaxIdle int
}

// DefaultRecycleAbove is the default Spec.RecycleAbove.
const DefaultRecycleAbove = 64 << 20

// Engine loads plugins, sharing one compilation cache between them.
type Engine struct {
	cache  wazero.CompilationCache
	logger *slog.Logger
}

// NewEngine returns an engine whose compiled code is cached in cacheDir
// (created if needed), or in memory only when cacheDir is "".
func NewEngine(cacheDir string, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cacheDir == "" {
		return &Engine{cache: wazero.NewCompilationCache(), logger: logger}, nil
	}
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
	}
	return &Engine{cache: cache, logger: logger}, nil
}

// Close releases the compilation cache. Close plugins first.
func (e *Engine) Close(ctx context.Context) error {
	return e.cache.Close(ctx)
}

// Plugin is a compiled plugin with its pool of instances. It is safe for
// concurrent use; each file gets an instance of its own.
type Plugin struct {
	spec     Spec
	sha256   string
	loadTime time.Duration
	logger   *slog.Logger

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	meta     *Meta // from plugin_meta, read once at load (meta.go)

	mu     sync.Mutex
	idle   []*instance
	live   int // instances open, idle or in use
	closed bool

	stats Stats
}

// Stats are running totals for one plugin.
type Stats struct {
	Files    atomic.Int64 // files begun
	Errors   atomic.Int64 // files the plugin failed
	BytesIn  atomic.Int64
	BytesOut atomic.Int64
	Calls    atomic.Int64 // calls across the boundary
	Nanos    atomic.Int64 // time spent in calls
	Recycled atomic.Int64 // instances closed after a trap or for size
}

// Load compiles the plugin at spec.Path, checks its ABI, and configures a
// first instance, so a bad plugin or bad settings fail here, at start.
func (e *Engine) Load(ctx context.Context, spec Spec) (*Plugin, error) {
	start := time.Now()
	if spec.MaxIdle <= 0 {
		spec.MaxIdle = 1
	}
	if spec.RecycleAbove == 0 {
		spec.RecycleAbove = DefaultRecycleAbove
	}
	if spec.Config == nil {
		spec.Config = []byte("{}")
	}
	bin, err := os.ReadFile(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", spec.Name, err)
	}
	sum := sha256.Sum256(bin)

	rc := wazero.NewRuntimeConfig().WithCompilationCache(e.cache)
	if spec.MaxMemory > 0 {
		pages := spec.MaxMemory / 65536
		if pages == 0 {
			pages = 1
		}
		if pages > 65536 {
			pages = 65536
		}
		rc = rc.WithMemoryLimitPages(uint32(pages))
	}
	if spec.Timeout > 0 {
		rc = rc.WithCloseOnContextDone(true)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	p := &Plugin{
		spec:   spec,
		sha256: hex.EncodeToString(sum[:]),
		logger: e.logger.With("plugin", spec.Name),
		rt:     rt,
	}
	if err := p.init(ctx, bin); err != nil {
		_ = rt.Close(ctx) // Don't leak the runtime on error.
		return nil, fmt.Errorf("plugin %s (%s): %w", spec.Name, spec.Path, err)
	}
	p.loadTime = time.Since(start)
	return p, nil
}

func (p *Plugin) init(ctx context.Context, bin []byte) error {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return errors.New("not a WebAssembly module (no \\0asm header)")
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return err
	}
	if err := p.hostModule(ctx); err != nil {
		return err
	}
	compiled, err := p.rt.CompileModule(ctx, bin)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	p.compiled = compiled
	if err := checkKind(compiled); err != nil {
		return err
	}
	if err := checkShape(compiled); err != nil {
		return err
	}
	p.live++
	inst, err := p.newInstance(ctx)
	if err != nil {
		return err
	}
	if p.meta, err = readMeta(inst.bind(ctx), inst); err != nil {
		p.release(inst, true)
		return err
	}
	p.release(inst, false)
	return nil
}

// checkShape reports a clear error for a module that cannot be a plugin,
// before instantiation fails with a less helpful one.
func checkShape(m wazero.CompiledModule) error {
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case "host", wasi_snapshot_preview1.ModuleName:
		default:
			return fmt.Errorf("imports %s.%s, which the host does not provide (only \"host\" and %q, see docs/ABI.md)",
				mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	exports := m.ExportedFunctions()
	if _, ok := exports["plugin_abi_version"]; !ok {
		return errors.New("does not export plugin_abi_version: not a plugin for this host (see docs/ABI.md)")
	}
	want := map[string][2]int{ // name: params, results
		"plugin_abi_version": {0, 1},
		"plugin_buffer":      {1, 1},
		"plugin_configure":   {1, 1},
		"plugin_begin":       {1, 1},
		"plugin_chunk":       {1, 1},
		"plugin_end":         {0, 1},
	}
	for name, shape := range want {
		def, ok := exports[name]
		if !ok {
			return fmt.Errorf("does not export %s (see docs/ABI.md)", name)
		}
		if len(def.ParamTypes()) != shape[0] || len(def.ResultTypes()) != shape[1] {
			return fmt.Errorf("export %s has %d params and %d results, want %d and %d",
				name, len(def.ParamTypes()), len(def.ResultTypes()), shape[0], shape[1])
		}
	}
	return nil
}

// Name is the plugin's name in the config.
func (p *Plugin) Name() string { return p.spec.Name }

// Path is the .wasm file the plugin was loaded from.
func (p *Plugin) Path() string { return p.spec.Path }

// SHA256 is the hex digest of the .wasm file.
func (p *Plugin) SHA256() string { return p.sha256 }

// LoadTime is how long Load took: compile (or cache read) and the first
// instance.
func (p *Plugin) LoadTime() time.Duration { return p.loadTime }

// Stats returns the plugin's running totals.
func (p *Plugin) Stats() *Stats { return &p.stats }

// Instances reports how many instances are open and how many of them idle.
func (p *Plugin) Instances() (live, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live, len(p.idle)
}

// Close closes the idle instances and the plugin's runtime. Instances in
// use are closed as their files finish, the runtime with the last of them:
// closing an instance frees its memory, which a running call still uses.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	busy := p.live
	p.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(ctx)
	}
	if busy > 0 {
		return nil
	}
	return p.rt.Close(ctx)
}

func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("plugin %s: closed", p.spec.Name)
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.live++ // Counted from now, so Close leaves the runtime to release.
	p.mu.Unlock()
	inst, err := p.newInstance(ctx)
	if err != nil {
		p.drop()
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, err)
	}
	return inst, nil
}

// release returns inst to the pool, or closes it when it is broken (after
// a trap its state is unknown), too large, or not needed.
func (p *Plugin) release(inst *instance, broken bool) {
	p.mu.Lock()
	keep := !broken && !p.closed && len(p.idle) < p.spec.MaxIdle &&
		uint64(inst.mem.Size()) <= p.spec.RecycleAbove
	if keep {
		inst.reset()
		p.idle = append(p.idle, inst)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if broken || uint64(inst.mem.Size()) > p.spec.RecycleAbove {
		p.stats.Recycled.Add(1)
	}
	_ = inst.mod.Close(context.Background())
	p.drop()
}

// drop uncounts a closed (or never made) instance; the last one out after
// Close closes the runtime.
func (p *Plugin) drop() {
	p.mu.Lock()
	p.live--
	last := p.closed && p.live == 0
	p.mu.Unlock()
	if last {
		_ = p.rt.Close(context.Background())
	}
}

// instance is one module instance; it serves one file at a time.
type instance struct {
	p      *Plugin
	mod    api.Module
	mem    api.Memory
	buffer api.Function
	begin  api.Function
	chunk  api.Function
	end    api.Function
	stack  [1]uint64

	bufPtr, bufCap uint32

	out    []byte // emitted during the current call
	fail   string // message passed to the fail import
	file   string // file in progress, for logs
	stderr tail   // the plugin's stdout and stderr, last bytes
}

type instanceKey struct{}

func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	inst := &instance{p: p}
	// The sandbox: no args, env, filesystem, network or real clocks (wazero's
	// defaults); output goes to a small buffer shown when a call traps.
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(&inst.stderr).
		WithStderr(&inst.stderr)
	ctx = withMemory(inst.bind(ctx))
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w%s", err, inst.stderr.suffix())
	}
	inst.mod = mod
	inst.mem = mod.Memory()
	if inst.mem == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("exports no memory")
	}
	inst.buffer = mod.ExportedFunction("plugin_buffer")
	inst.begin = mod.ExportedFunction("plugin_begin")
	inst.chunk = mod.ExportedFunction("plugin_chunk")
	inst.end = mod.ExportedFunction("plugin_end")

	if err := inst.invoke(ctx, mod.ExportedFunction("plugin_abi_version")); err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	if v := int32(inst.stack[0]); v != ABIVersion {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("plugin ABI version %d, host speaks version %d (rebuild the plugin with a matching SDK)", v, ABIVersion)
	}
	if err := inst.send(ctx, mod.ExportedFunction("plugin_configure"), p.spec.Config); err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("configure: %w", err)
	}
	inst.out = inst.out[:0] // Output before a file belongs to no file.
	return inst, nil
}

func (inst *instance) reset() {
	inst.out = inst.out[:0]
	inst.fail = ""
	inst.file = ""
	inst.stderr.reset()
}

// send copies data into the plugin's buffer and calls fn(len(data)).
func (inst *instance) send(ctx context.Context, fn api.Function, data []byte) error {
	n := uint32(len(data))
	if n > inst.bufCap || inst.bufPtr == 0 {
		inst.stack[0] = uint64(n)
		if err := inst.invoke(ctx, inst.buffer); err != nil {
			return err
		}
		inst.bufPtr, inst.bufCap = uint32(inst.stack[0]), n
		if inst.bufPtr == 0 {
			return errors.New("plugin_buffer returned a null pointer")
		}
	}
	if !inst.mem.Write(inst.bufPtr, data) {
		return fmt.Errorf("plugin_buffer returned %d bytes at %#x, outside memory", n, inst.bufPtr)
	}
	inst.stack[0] = uint64(n)
	return inst.status(ctx, fn)
}

// status calls fn with the stack as set and turns a non-zero result into
// the plugin's failure message.
func (inst *instance) status(ctx context.Context, fn api.Function) error {
	if err := inst.invoke(ctx, fn); err != nil {
		return err
	}
	if code := int32(inst.stack[0]); code != 0 {
		msg := inst.fail
		if msg == "" {
			msg = fmt.Sprintf("%s returned status %d", fn.Definition().Name(), code)
		}
		return &Failure{Message: msg}
	}
	return nil
}

// invoke calls fn and wraps a trap with what the plugin printed.
func (inst *instance) invoke(ctx context.Context, fn api.Function) error {
	inst.fail = ""
	start := time.Now()
	err := fn.CallWithStack(ctx, inst.stack[:])
	inst.p.stats.Calls.Add(1)
	inst.p.stats.Nanos.Add(int64(time.Since(start)))
	if err != nil {
		return &Trap{Func: fn.Definition().Name(), Err: err, Output: inst.stderr.String()}
	}
	return nil
}

// bind returns ctx carrying inst, for the host functions to find it; every
// call into the instance must use a bound context.
func (inst *instance) bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, instanceKey{}, inst)
}

func instanceOf(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

// hostModule defines the "host" imports of docs/ABI.md.
func (p *Plugin) hostModule(ctx context.Context) error {
	i32 := api.ValueTypeI32
	_, err := p.rt.NewHostModuleBuilder("host").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			inst := instanceOf(ctx)
			b, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
			if !ok {
				panic(fmt.Errorf("emit: range %#x+%d is outside memory", uint32(stack[0]), uint32(stack[1])))
			}
			inst.out = append(inst.out, b...)
		}), []api.ValueType{i32, i32}, nil).
		Export("emit").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			inst := instanceOf(ctx)
			b, ok := mod.Memory().Read(uint32(stack[1]), uint32(stack[2]))
			if !ok {
				panic(fmt.Errorf("log: range %#x+%d is outside memory", uint32(stack[1]), uint32(stack[2])))
			}
			level := slog.Level(int32(stack[0]))
			attrs := []any{}
			if inst != nil && inst.file != "" {
				attrs = append(attrs, "file", inst.file)
			}
			p.logger.Log(ctx, level, string(b), attrs...)
		}), []api.ValueType{i32, i32, i32}, nil).
		Export("log").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			inst := instanceOf(ctx)
			b, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
			if !ok {
				panic(fmt.Errorf("fail: range %#x+%d is outside memory", uint32(stack[0]), uint32(stack[1])))
			}
			if len(b) > maxFailMessage {
				b = b[:maxFailMessage]
			}
			inst.fail = string(b)
		}), []api.ValueType{i32, i32}, nil).
		Export("fail").
		Instantiate(ctx)
	return err
}

const maxFailMessage = 4 << 10

// Failure is a file failed on purpose by a plugin, with its message.
type Failure struct{ Message string }

func (f *Failure) Error() string { return f.Message }

// Trap is a plugin call that did not return: a Wasm trap, an exit, a
// timeout. The instance is discarded.
type Trap struct {
	Func   string
	Err    error
	Output string // what the plugin printed last, often a Go panic
}

func (t *Trap) Error() string {
	msg := fmt.Sprintf("%s trapped: %v", t.Func, t.Err)
	if t.Output != "" {
		msg += "; plugin output: " + t.Output
	}
	return msg
}

func (t *Trap) Unwrap() error { return t.Err }

// tail keeps the last bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 2 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(trimSpace(t.buf))
}

func (t *tail) suffix() string {
	if s := t.String(); s != "" {
		return "; plugin output: " + s
	}
	return ""
}

func (t *tail) reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

var _ io.Writer = (*tail)(nil)
