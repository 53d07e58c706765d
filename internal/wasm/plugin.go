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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samyfodil/wazy"
	"github.com/samyfodil/wazy/api"
	"github.com/samyfodil/wazy/imports/wasi_snapshot_preview1"
)

// ABIVersion is the plugin ABI version this host speaks.
const ABIVersion = 1

// Spec says how to load one plugin. Every limit is on by default: a zero
// field means its Default constant (limits.go); NoLimit turns one off.
type Spec struct {
	Name   string // the name pipelines use
	Path   string // the .wasm file
	Config []byte // settings handed to plugin_configure, a JSON object

	// MaxMemory caps an instance's linear memory in bytes, rounded down to
	// whole 64 KiB pages, at least 1 and at most MaxMemoryLimit.
	MaxMemory uint64
	// CallTimeout bounds each call into the plugin, load-time calls
	// included; a call over it is stopped wherever it is.
	CallTimeout time.Duration
	// Timeout bounds the wall-clock time of a file while this plugin is
	// in its chain (from begin to end, waiting included); 0 means none.
	Timeout time.Duration
	// MaxOutput caps the bytes the plugin emits for one file
	// (math.MaxUint64: no cap).
	MaxOutput uint64
	// MaxTable caps the elements of each of the module's tables.
	MaxTable uint32
	// LogRate is how many log lines a second the plugin may write.
	LogRate int
	// MaxLogMessage is the longest log message kept, in bytes.
	MaxLogMessage int
	// RecycleAbove closes an instance after a file instead of pooling it
	// when its memory has grown past this many bytes: Wasm memory never
	// shrinks. 0 means DefaultRecycleAbove.
	RecycleAbove uint64
	// MaxIdle is how many ready instances are kept between files.
	MaxIdle int
}

// NoLimit in a Spec's CallTimeout, LogRate or MaxLogMessage turns that
// limit off (for benchmarks and trusted plugins).
const NoLimit = -1

// withDefaults fills the zero fields of spec.
func (spec Spec) withDefaults() Spec {
	if spec.MaxIdle <= 0 {
		spec.MaxIdle = 1
	}
	if spec.RecycleAbove == 0 {
		spec.RecycleAbove = DefaultRecycleAbove
	}
	if spec.Config == nil {
		spec.Config = []byte("{}")
	}
	if spec.MaxMemory == 0 {
		spec.MaxMemory = DefaultMaxMemory
	}
	spec.MaxMemory = min(max(spec.MaxMemory/pageSize, 1), MaxMemoryLimit/pageSize) * pageSize
	switch {
	case spec.CallTimeout == 0:
		spec.CallTimeout = DefaultCallTimeout
	case spec.CallTimeout < 0:
		spec.CallTimeout = 0
	}
	switch {
	case spec.MaxOutput == 0:
		spec.MaxOutput = DefaultMaxOutput
	case spec.MaxOutput == ^uint64(0):
		spec.MaxOutput = 0
	}
	if spec.MaxTable == 0 {
		spec.MaxTable = DefaultMaxTable
	}
	switch {
	case spec.LogRate == 0:
		spec.LogRate = DefaultLogRate
	case spec.LogRate < 0:
		spec.LogRate = 0
	}
	switch {
	case spec.MaxLogMessage == 0:
		spec.MaxLogMessage = DefaultMaxLogMessage
	case spec.MaxLogMessage < 0:
		spec.MaxLogMessage = 0
	}
	return spec
}

// DefaultRecycleAbove is the default Spec.RecycleAbove.
const DefaultRecycleAbove = 64 << 20

// Engine loads plugins, sharing one compilation cache and one memory
// budget between them.
type Engine struct {
	dir    string // the cache's folder, "" for none
	cache  wazy.CompilationCache
	cached wazy.CompilationCache // cache's folder, read only: hits, never a compile; nil without a folder
	logger *slog.Logger
	budget *MemoryBudget
	tiered bool
	bg     background // compiles of tiered loads (tier.go)

	memOnce sync.Once
	mem     wazy.CompilationCache // for compiles that cache cannot take (tier.go)
}

// NewEngine returns an engine whose compiled code is cached in cacheDir
// (created if needed), or in memory only when cacheDir is "". Its memory
// budget is DefaultMemoryBudget until SetMemoryBudget.
func NewEngine(cacheDir string, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{logger: logger, budget: NewMemoryBudget(DefaultMemoryBudget())}
	if cacheDir == "" {
		e.cache = wazy.NewCompilationCache()
		return e, nil
	}
	cache, err := wazy.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
	}
	// Made by the call above, the folder exists for the read-only view.
	cached, err := wazy.NewCompilationCacheWithDirReadOnly(cacheDir)
	if err != nil {
		_ = cache.Close(context.Background())
		return nil, fmt.Errorf("compilation cache %s: %w", cacheDir, err)
	}
	e.dir, e.cache, e.cached = cacheDir, cache, cached
	return e, nil
}

// SetMemoryBudget sets the bytes of linear memory that all instances of
// the engine's plugins may hold together (0: no limit). Call it before
// Load.
func (e *Engine) SetMemoryBudget(limit uint64) { e.budget = NewMemoryBudget(limit) }

// MemoryBudget returns the engine's budget, to read its use.
func (e *Engine) MemoryBudget() *MemoryBudget { return e.budget }

// Close waits for the compiles under way in the background (those not
// begun are skipped) and releases the compilation cache. Close plugins
// first.
func (e *Engine) Close(ctx context.Context) error {
	e.bg.close()
	if e.cached != nil {
		_ = e.cached.Close(ctx)
	}
	if e.mem != nil {
		_ = e.mem.Close(ctx)
	}
	return e.cache.Close(ctx)
}

// Plugin is a compiled plugin with its pool of instances. It is safe for
// concurrent use; each file gets an instance of its own.
type Plugin struct {
	spec     Spec
	sha256   string
	loadTime time.Duration
	logger   *slog.Logger
	budget   *MemoryBudget
	logLim   *logLimiter

	meta         *Meta         // from plugin_meta, read once at load (meta.go)
	stateless    bool          // plugin_stateless returned 1
	compiledDone chan struct{} // closed once no compile is to come (tier.go)

	engine *Engine
	code   []byte // the module, while it compiles in the background

	mu     sync.Mutex
	tier   *tier         // where new instances are made; nil while compiling until a file needs one
	making chan struct{} // closed when an interpreter's tier being made for a file is ready
	idle   []*instance   // all of tier
	live   int           // instances open, idle or in use, of every tier
	closed bool

	stats Stats
}

// Stats are running totals for one plugin.
type Stats struct {
	Files       atomic.Int64 // files begun
	Begins      atomic.Int64 // plugin_begin calls: more than Files when a stateless plugin ran a file on several instances
	Errors      atomic.Int64 // files the plugin failed
	BytesIn     atomic.Int64
	BytesOut    atomic.Int64
	Calls       atomic.Int64 // calls across the boundary
	Nanos       atomic.Int64 // time spent in calls
	Recycled    atomic.Int64 // instances closed after a trap or for size
	Interpreted atomic.Int64 // instances made for files in the interpreter, before the plugin compiled
	LogDropped  atomic.Int64 // log lines dropped by the rate limit
}

// Load compiles the plugin at spec.Path, checks its ABI, and configures a
// first instance, so a bad plugin or bad settings fail here, at start; that
// instance is then closed: instances are made for files, as they need
// them. On a tiered engine a plugin whose compiled code is not in the cache
// is interpreted until it has compiled in the background (tier.go).
func (e *Engine) Load(ctx context.Context, spec Spec) (*Plugin, error) {
	start := time.Now()
	defer LimitLoadMemory()()
	spec = spec.withDefaults()
	bin, err := os.ReadFile(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", spec.Name, err)
	}
	sum := sha256.Sum256(bin)
	p := &Plugin{
		spec:         spec,
		sha256:       hex.EncodeToString(sum[:]),
		logger:       e.logger.With("plugin", spec.Name),
		budget:       e.budget,
		logLim:       newLogLimiter(spec.LogRate, time.Now),
		compiledDone: make(chan struct{}),
		engine:       e,
	}
	if err := p.init(ctx, e, bin); err != nil {
		if p.tier != nil {
			_ = p.tier.rt.Close(ctx) // Don't leak the runtime on error.
		}
		return nil, fmt.Errorf("plugin %s (%s): %w", spec.Name, spec.Path, err)
	}
	p.loadTime = time.Since(start)
	return p, nil
}

func (p *Plugin) init(ctx context.Context, e *Engine, bin []byte) error {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return errors.New("not a WebAssembly module (no \\0asm header)")
	}
	// The compilation cache is keyed by the shrunk bytes; p.sha256 stays
	// the file's.
	code := shrink(bin)
	t, later, err := e.firstTier(ctx, p, code)
	if err != nil {
		return err
	}
	p.tier = t // Closed by Load if init fails from here on.
	if err := checkKind(t.compiled); err != nil {
		return err
	}
	if err := checkShape(t.compiled); err != nil {
		return err
	}
	p.live++
	t.live++
	inst, err := p.newInstance(ctx, t)
	if err != nil {
		p.live--
		t.live--
		return err
	}
	if p.meta, err = readMeta(inst.bind(ctx), inst); err != nil {
		p.release(inst, true)
		return err
	}
	p.stateless = inst.stateless
	// The instance has done its job: it showed that the plugin loads and
	// accepts its settings. It is not kept for files, so a plugin holds no
	// instance (a Go plugin's runtime and heap, 3-4 MiB) until a file
	// needs one, and a loaded plugin that no pipeline uses costs only its
	// compiled code (BenchmarkPluginMemory).
	_ = inst.mod.Close(ctx)
	p.drop(t)
	if !later {
		close(p.compiledDone)
		return nil
	}
	// Until the compile ends, files get an interpreter's tier made when
	// one needs it: the one made here holds the code its load ran (the Go
	// runtime's start) lowered, about 10 MiB of heap for a Go plugin,
	// which ten plugins would keep until their compiles end.
	p.tier, p.code = nil, code
	_ = t.rt.Close(ctx)
	e.compileLater(p, code)
	return nil
}

// readStateless calls the optional plugin_stateless export, after
// plugin_configure: 1 declares that the plugin's output for a chunk
// depends on that chunk alone (docs/ABI.md, "Stateless plugins").
func readStateless(ctx context.Context, inst *instance) (bool, error) {
	fn := inst.mod.ExportedFunction("plugin_stateless")
	if fn == nil {
		return false, nil
	}
	def := fn.Definition()
	params, results := def.ParamTypes(), def.ResultTypes()
	if len(params) != 0 || len(results) != 1 || results[0] != api.ValueTypeI32 {
		return false, fmt.Errorf("export plugin_stateless has type %s, want (func (result i32)) (see docs/ABI.md)",
			funcType(params, results))
	}
	if err := inst.invoke(ctx, export{"plugin_stateless", fn}); err != nil {
		return false, err
	}
	switch v := int32(inst.stack[0]); v {
	case 0, 1:
		return v == 1, nil
	default:
		return false, fmt.Errorf("plugin_stateless returned %d, want 0 or 1 (see docs/ABI.md)", v)
	}
}

// The exports of docs/ABI.md and their types: every parameter and result
// is an i32.
var exportShapes = []struct {
	name            string
	params, results int
}{
	{"plugin_abi_version", 0, 1},
	{"plugin_buffer", 1, 1},
	{"plugin_configure", 1, 1},
	{"plugin_begin", 1, 1},
	{"plugin_chunk", 1, 1},
	{"plugin_end", 0, 1},
}

// checkShape reports a clear error for a module that cannot be a plugin,
// before instantiation fails with a less helpful one.
func checkShape(m wazy.CompiledModule) error {
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case "host", wasi_snapshot_preview1.ModuleName:
		default:
			return fmt.Errorf("imports %s.%s, which the host does not provide (only \"host\" and %q, see docs/ABI.md)",
				mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	for _, m := range m.ImportedMemories() {
		mod, name, _ := m.Import()
		return fmt.Errorf("imports its memory %s.%s: a plugin must define its own memory (see docs/ABI.md)", mod, name)
	}
	exports := m.ExportedFunctions()
	if _, ok := exports["plugin_abi_version"]; !ok {
		return errors.New("does not export plugin_abi_version: not a plugin for this host (see docs/ABI.md)")
	}
	for _, want := range exportShapes {
		def, ok := exports[want.name]
		if !ok {
			return fmt.Errorf("does not export %s (see docs/ABI.md)", want.name)
		}
		params, results := def.ParamTypes(), def.ResultTypes()
		if len(params) != want.params || len(results) != want.results || !allI32(params) || !allI32(results) {
			return fmt.Errorf("export %s has type %s, want %s (see docs/ABI.md)",
				want.name, funcType(params, results), funcType(make([]api.ValueType, want.params), make([]api.ValueType, want.results)))
		}
	}
	return nil
}

func allI32(ts []api.ValueType) bool {
	for _, t := range ts {
		if t != api.ValueTypeI32 {
			return false
		}
	}
	return true
}

// funcType writes a function type as in the text format; zero value types
// (as made by make) are written as i32.
func funcType(params, results []api.ValueType) string {
	s := "(func"
	for _, list := range []struct {
		kw string
		ts []api.ValueType
	}{{"param", params}, {"result", results}} {
		if len(list.ts) == 0 {
			continue
		}
		s += " (" + list.kw
		for _, t := range list.ts {
			if t == 0 {
				t = api.ValueTypeI32
			}
			s += " " + api.ValueTypeName(t)
		}
		s += ")"
	}
	return s + ")"
}

// Name is the plugin's name in the config.
func (p *Plugin) Name() string { return p.spec.Name }

// Path is the .wasm file the plugin was loaded from.
func (p *Plugin) Path() string { return p.spec.Path }

// Spec is the plugin's spec with its defaults filled in: the limits in
// force.
func (p *Plugin) Spec() Spec { return p.spec }

// SHA256 is the hex digest of the .wasm file.
func (p *Plugin) SHA256() string { return p.sha256 }

// LoadTime is how long Load took: compile (or cache read) and the first
// instance.
func (p *Plugin) LoadTime() time.Duration { return p.loadTime }

// Stateless reports whether the plugin declared that its output for a
// chunk depends on that chunk alone, so that the chunks of one file may
// run on several instances at once.
func (p *Plugin) Stateless() bool { return p.stateless }

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
	t := p.tier
	busy := 0
	if t != nil {
		t.live -= len(idle)
		busy = t.live
	}
	p.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(ctx)
	}
	if t == nil || busy > 0 {
		return nil
	}
	return t.rt.Close(ctx)
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
	t, err := p.tierLocked()
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.live++ // Counted from now, so Close leaves the runtime to release.
	t.live++
	p.mu.Unlock()
	if t.interpreted {
		p.stats.Interpreted.Add(1)
	}
	inst, err := p.newInstance(ctx, t)
	if err != nil {
		p.drop(t)
		return nil, err
	}
	return inst, nil
}

// release returns inst to the pool, or closes it when it is broken (after
// a trap its state is unknown), too large, not needed, or of a tier new
// instances are no longer made in.
func (p *Plugin) release(inst *instance, broken bool) {
	p.mu.Lock()
	keep := !broken && !p.closed && len(p.idle) < p.spec.MaxIdle &&
		uint64(inst.mem.Size()) <= p.spec.RecycleAbove && inst.tier == p.tier
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
	p.drop(inst.tier)
}

// drop uncounts a closed (or never made) instance of t; the last one out
// of a tier left behind, or after Close, closes the tier's runtime.
func (p *Plugin) drop(t *tier) {
	p.mu.Lock()
	p.live--
	t.live--
	last := t.live == 0 && (p.closed || t != p.tier)
	p.mu.Unlock()
	if last {
		_ = t.rt.Close(context.Background())
	}
}

// export is one of the ABI's exports, called by its export name: a
// module's own (debug) function names may be missing or misleading.
type export struct {
	name string
	fn   api.Function
}

// instance is one module instance; it serves one file at a time.
type instance struct {
	p      *Plugin
	tier   *tier
	mod    api.Module
	mem    api.Memory
	buffer export
	begin  export
	chunk  export
	end    export
	stack  [1]uint64
	timer  *callTimer // the limit of the call in progress

	bufPtr, bufCap uint32

	out       []byte // emitted during the current call, not yet passed on
	loading   bool   // in the load-time calls, whose output is dropped
	flush     func([]byte) error
	emitted   uint64 // bytes passed on for the current file
	abort     error  // why a host function stopped the call
	denied    bool   // the memory budget refused a grow
	fail      string // message passed to the fail import
	file      string // file in progress, for logs
	stderr    tail   // the plugin's stdout and stderr, last bytes
	reserved  uint64 // bytes of the memory budget held
	allocated bool   // the memory has had its initial allocation
	stateless bool   // what plugin_stateless returned, checked at load
}

type instanceKey struct{}

// newInstance makes and configures an instance. Its load-time calls each
// get the call timeout, and ctx ends them all early (shutdown).
func (p *Plugin) newInstance(ctx context.Context, t *tier) (*instance, error) {
	inst := &instance{p: p, tier: t, loading: true}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inst.timer = newCallTimer(p.spec.CallTimeout, cancel)
	// The sandbox: no args, env, filesystem, network or real clocks (the
	// runtime's defaults); output goes to a small buffer shown when a call
	// traps.
	cfg := wazy.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(&inst.stderr).
		WithStderr(&inst.stderr)
	ctx = withMemory(inst.bind(ctx), inst)
	inst.timer.start()
	mod, err := t.rt.InstantiateModule(ctx, t.compiled, cfg)
	timedOut := inst.timer.stop()
	if err != nil {
		inst.freeMemory() // Whatever the failed instantiation reserved.
		if timedOut || inst.denied {
			return nil, inst.callError("the start function or _initialize", err, timedOut)
		}
		return nil, fmt.Errorf("instantiate: %s%s", Escape(err.Error()), inst.stderr.suffix())
	}
	inst.mod = mod
	if inst.denied { // Its initial memory did not fit in the budget.
		_ = mod.Close(ctx)
		inst.freeMemory()
		b := p.budget
		return nil, fmt.Errorf("a new instance's memory does not fit: %w: %s of %s in use",
			ErrMemoryBudget, SizeString(b.Used()), SizeString(b.Limit()))
	}
	if inst.mem = mod.Memory(); inst.mem == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("has no memory: a plugin must define one (see docs/ABI.md)")
	}
	get := func(name string) export { return export{name, mod.ExportedFunction(name)} }
	inst.buffer = get("plugin_buffer")
	inst.begin = get("plugin_begin")
	inst.chunk = get("plugin_chunk")
	inst.end = get("plugin_end")

	if err := inst.invoke(ctx, get("plugin_abi_version")); err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	if v := int32(inst.stack[0]); v != ABIVersion {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("plugin ABI version %d, host speaks version %d (rebuild the plugin with a matching SDK)", v, ABIVersion)
	}
	if err := inst.send(ctx, get("plugin_configure"), p.spec.Config); err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("configure: %w", err)
	}
	if inst.stateless, err = readStateless(ctx, inst); err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	inst.loading = false
	inst.timer = nil // Each file sets its own.
	return inst, nil
}

func (inst *instance) reset() {
	inst.out = inst.out[:0]
	inst.fail = ""
	inst.file = ""
	inst.flush = nil
	inst.timer = nil
	inst.emitted = 0
	inst.stderr.reset()
}

// send copies data into the plugin's buffer and calls fn(len(data)).
func (inst *instance) send(ctx context.Context, fn export, data []byte) error {
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
		ptr := inst.bufPtr
		inst.bufPtr, inst.bufCap = 0, 0 // Ask again next time.
		return fmt.Errorf("plugin_buffer returned %d bytes at %#x, outside memory", n, ptr)
	}
	inst.stack[0] = uint64(n)
	return inst.status(ctx, fn)
}

// status calls fn with the stack as set and turns a non-zero result into
// the plugin's failure message.
func (inst *instance) status(ctx context.Context, fn export) error {
	if err := inst.invoke(ctx, fn); err != nil {
		return err
	}
	if code := int32(inst.stack[0]); code != 0 {
		msg := inst.fail
		if msg == "" {
			msg = fmt.Sprintf("%s returned status %d", fn.name, code)
		}
		return &Failure{Message: msg}
	}
	return nil
}

// invoke calls fn under the call timeout and explains a call that did not
// return: a limit, the memory budget, a failed write downstream, a trap.
func (inst *instance) invoke(ctx context.Context, fn export) error {
	inst.fail = ""
	inst.abort = nil
	inst.denied = false
	start := time.Now()
	inst.timer.start()
	err := fn.fn.CallWithStack(ctx, inst.stack[:])
	timedOut := inst.timer.stop()
	inst.p.stats.Calls.Add(1)
	inst.p.stats.Nanos.Add(int64(time.Since(start)))
	if err != nil {
		return inst.callError(fn.name, err, timedOut)
	}
	if timedOut {
		// The call returned just as its time ran out; its context is
		// cancelled, so no later call could run anyway.
		return inst.callError(fn.name, err, true)
	}
	return nil
}

func (inst *instance) callError(name string, err error, timedOut bool) error {
	switch {
	case inst.abort != nil:
		var lim *LimitError
		if errors.As(inst.abort, &lim) {
			return &Trap{Func: name, Err: lim}
		}
		return inst.abort // The next plugin or the output failed.
	case timedOut:
		return &Trap{Func: name, Err: &LimitError{Key: "call_timeout",
			Msg: fmt.Sprintf("did not return within %v", inst.p.spec.CallTimeout)}}
	case inst.denied:
		b := inst.p.budget
		return fmt.Errorf("%s could not grow its memory: %w: %s of %s in use",
			name, ErrMemoryBudget, SizeString(b.Used()), SizeString(b.Limit()))
	}
	return &Trap{Func: name, Err: withoutTrace(err), Output: inst.stderr.String()}
}

// withoutTrace cuts the Wasm stack trace that the interpreter adds to a
// trap (the compiler adds none): a user reads the trap, and a plugin's
// author reruns it under a debugger.
func withoutTrace(err error) error {
	msg := err.Error()
	i := strings.Index(msg, "\nwasm stack trace:")
	if i < 0 {
		return err
	}
	return &tracedError{msg: msg[:i], err: err}
}

type tracedError struct {
	msg string
	err error
}

func (e *tracedError) Error() string { return e.msg }
func (e *tracedError) Unwrap() error { return e.err }

// bind returns ctx carrying inst, for the host functions to find it; every
// call into the instance must use a bound context.
func (inst *instance) bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, instanceKey{}, inst)
}

func instanceOf(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

// read returns the guest bytes at ptr, len, or stops the call with a
// trap naming the import.
func read(mod api.Module, name string, ptr, n uint64) []byte {
	mem := mod.Memory()
	if mem == nil {
		panic(fmt.Errorf("%s: the module has no memory", name))
	}
	b, ok := mem.Read(uint32(ptr), uint32(n))
	if !ok {
		panic(fmt.Errorf("%s: range %#x+%d is outside memory", name, uint32(ptr), uint32(n)))
	}
	return b
}

// hostModule defines the "host" imports of docs/ABI.md in rt.
func (p *Plugin) hostModule(ctx context.Context, rt wazy.Runtime) error {
	i32 := api.ValueTypeI32
	_, err := rt.NewHostModuleBuilder("host").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			b := read(mod, "emit", stack[0], stack[1])
			if inst := instanceOf(ctx); inst != nil && !inst.loading {
				inst.emit(b)
			}
		}), []api.ValueType{i32, i32}, nil).
		Export("emit").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			b := read(mod, "log", stack[1], stack[2])
			p.log(ctx, instanceOf(ctx), slog.Level(int32(stack[0])), b)
		}), []api.ValueType{i32, i32, i32}, nil).
		Export("log").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			b := read(mod, "fail", stack[0], stack[1])
			if len(b) > maxFailMessage {
				b = b[:maxFailMessage]
			}
			if inst := instanceOf(ctx); inst != nil {
				inst.fail = Escape(string(b))
			}
		}), []api.ValueType{i32, i32}, nil).
		Export("fail").
		Instantiate(ctx)
	return err
}

// emit takes b from the emit import: it is held until the call returns,
// or passed on at once when the call has emitted flushAt bytes, so a call
// that emits without end holds little memory and fails at max_output.
func (inst *instance) emit(b []byte) {
	if max := inst.p.spec.MaxOutput; max > 0 && inst.emitted+uint64(len(inst.out))+uint64(len(b)) > max {
		inst.stop(&LimitError{Key: "max_output",
			Msg: fmt.Sprintf("emitted more than %s for one file", SizeString(max))})
	}
	if inst.flush != nil && len(inst.out)+len(b) >= flushAt {
		if err := inst.flushOut(); err != nil {
			inst.stop(err)
		}
		// One large emit is passed on in pieces straight from the plugin's
		// memory, never copied whole into the host's.
		for len(b) >= flushAt {
			inst.emitted += flushAt
			if err := inst.flush(b[:flushAt]); err != nil {
				inst.stop(err)
			}
			b = b[flushAt:]
		}
	}
	inst.out = append(inst.out, b...)
}

// flushOut passes the held output on.
func (inst *instance) flushOut() error {
	out := inst.out
	inst.out = inst.out[:0]
	if len(out) == 0 || inst.flush == nil {
		return nil
	}
	inst.emitted += uint64(len(out))
	return inst.flush(out)
}

// stop ends the call in progress from a host function with err.
func (inst *instance) stop(err error) {
	inst.abort = err
	panic(err)
}

// log writes a plugin's log message, within its rate and size limits and
// with control characters escaped.
func (p *Plugin) log(ctx context.Context, inst *instance, level slog.Level, b []byte) {
	if !p.logger.Enabled(ctx, level) {
		return
	}
	ok, dropped := p.logLim.allow()
	if !ok {
		p.stats.LogDropped.Add(1)
		return
	}
	var attrs []any
	if inst != nil && inst.file != "" {
		attrs = append(attrs, "file", Escape(inst.file))
	}
	if dropped > 0 {
		p.noteDropped(ctx, dropped, attrs)
	}
	msg := b
	if max := p.spec.MaxLogMessage; max > 0 && len(msg) > max {
		msg = msg[:max]
	}
	text := Escape(string(msg))
	if len(msg) < len(b) {
		text += fmt.Sprintf(" [%d more bytes cut: max_log_message]", len(b)-len(msg))
	}
	p.logger.Log(ctx, level, text, attrs...)
}

func (p *Plugin) noteDropped(ctx context.Context, n int64, attrs []any) {
	p.logger.Log(ctx, slog.LevelWarn, fmt.Sprintf("%d log lines dropped (log_rate: %d a second)", n, p.spec.LogRate), attrs...)
}

const maxFailMessage = 4 << 10

// Failure is a file failed on purpose by a plugin, with its message.
type Failure struct{ Message string }

func (f *Failure) Error() string { return f.Message }

// Trap is a plugin call that did not return: a Wasm trap, an exit, a
// timeout, a limit. The instance is discarded.
type Trap struct {
	Func   string // the export called, e.g. plugin_chunk
	Err    error
	Output string // what the plugin printed last, often a Go panic
}

func (t *Trap) Error() string {
	var msg string
	var lim *LimitError
	if errors.As(t.Err, &lim) {
		msg = fmt.Sprintf("%s stopped: %v", t.Func, t.Err)
	} else {
		msg = fmt.Sprintf("%s trapped: %s", t.Func, Escape(t.Err.Error()))
	}
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
	if len(b) >= tailSize {
		t.buf = append(t.buf[:0], b[len(b)-tailSize:]...)
		return len(b), nil
	}
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(b), nil
}

// String is the tail with control characters escaped: it ends up in error
// messages shown on a terminal.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Escape(string(trimSpace(t.buf)))
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

// SizeString writes n bytes in the units of the config file.
func SizeString(n uint64) string {
	for _, u := range []struct {
		unit  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.unit)
		}
	}
	if n >= 1<<20 {
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
