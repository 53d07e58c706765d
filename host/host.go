// Package host runs files through chains of WebAssembly plugins: it holds
// the configuration, the loaded pipelines, and the folder protocol that
// moves a file from unprocessed/ through underprocess/ to processed/ or
// failed/ (docs/FOLDERS.md).
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/filehost/host/internal/wasm"
)

// Version is the host's version, set at build time with
// -ldflags "-X github.com/filehost/host/host.Version=v1.2.3".
var Version = ""

// VersionString returns Version, or the module version the binary was
// built from.
func VersionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Host is a loaded configuration: every plugin compiled and ready.
type Host struct {
	cfg       Config
	logger    *slog.Logger
	engine    *wasm.Engine
	plugins   map[string]*wasm.Plugin
	pipelines map[string][]*wasm.Plugin
	// specs are the plugins' specs as loaded, to tell on a reload which
	// plugins are unchanged.
	specs map[string]wasm.Spec
	// instances is how many idle instances each plugin keeps.
	instances int
	// owned is set once a Service has taken the host over: the service
	// then closes its plugins and engine, and Close does nothing.
	owned bool
	// forced is Options.Pipeline.
	forced string
	// read is the fingerprint of the config file and plugins taken before
	// they were read (readFingerprint): a change after it reloads in watch
	// mode.
	read string
}

// Options tune a Host beyond its config.
type Options struct {
	Logger *slog.Logger
	// Instances is how many instances of each plugin stay ready between
	// files: the number of files processed at once. Default 1.
	Instances int
	// Pipelines, when not nil, limits loading to these pipelines and their
	// plugins: one file needs one pipeline, and each plugin costs start-up
	// time and tens of MiB of memory.
	Pipelines []string
	// Pipeline, when set, is used for every file instead of the pipeline
	// chosen by name and content (host --pipeline NAME).
	Pipeline string
	// Tiered loads a plugin whose compiled code is not in the cache in
	// the interpreter and compiles it in the background (watch mode: a
	// cold start takes files in a second instead of after every compile).
	Tiered bool
}

// New loads every plugin the config names and returns a ready host. A
// plugin that fails to load is an error naming it.
func New(ctx context.Context, cfg Config, opts Options) (*Host, error) {
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("cache_dir: %w", err)
		}
	}
	engine, err := wasm.NewEngine(cfg.CacheDir, opts.Logger)
	if err != nil {
		return nil, err
	}
	engine.SetMemoryBudget(uint64(cfg.Limits.MemoryBudget))
	engine.SetTiered(opts.Tiered)
	h, err := load(ctx, engine, cfg, opts, nil)
	if err != nil {
		_ = engine.Close(ctx)
		return nil, err
	}
	return h, nil
}

// load builds a host on engine. reuse, if set, may return an already
// loaded plugin for a spec (a reload's unchanged plugins); the rest are
// loaded. On error, the plugins it loaded are closed, reused ones are not.
func load(ctx context.Context, engine *wasm.Engine, cfg Config, opts Options, reuse func(wasm.Spec) *wasm.Plugin) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Instances <= 0 {
		opts.Instances = 1
	}
	if _, ok := cfg.pipeline(opts.Pipeline); opts.Pipeline != "" && !ok {
		return nil, fmt.Errorf("unknown pipeline %q", opts.Pipeline)
	}
	h := &Host{
		cfg:       cfg,
		logger:    opts.Logger,
		engine:    engine,
		plugins:   map[string]*wasm.Plugin{},
		pipelines: map[string][]*wasm.Plugin{},
		specs:     map[string]wasm.Spec{},
		instances: opts.Instances,
		forced:    opts.Pipeline,
		read:      readFingerprint(cfg),
	}
	names := cfg.pluginNames()
	if opts.Pipelines != nil {
		cfg.Pipeline = slices.DeleteFunc(slices.Clone(cfg.Pipeline), func(p PipelineConfig) bool {
			return !slices.Contains(opts.Pipelines, p.Name)
		})
		h.cfg.Pipeline = cfg.Pipeline
		names = names[:0]
		for _, p := range cfg.Pipeline {
			names = append(names, p.Plugins...)
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	specs := make([]wasm.Spec, len(names))
	for i, name := range names {
		// A file holds one instance per use of the plugin in its pipeline.
		specs[i] = cfg.spec(name, opts.Instances*cfg.maxUses(name))
		h.specs[name] = specs[i]
	}
	loaded, reused, err := loadAll(ctx, engine, specs, reuse)
	if err != nil {
		for i, p := range loaded {
			if p != nil && !reused[i] {
				_ = p.Close(ctx)
			}
		}
		return nil, err
	}
	for i, p := range loaded {
		h.plugins[names[i]] = p
		if !reused[i] {
			opts.Logger.Debug("plugin loaded", "plugin", p.Name(), "path", p.Path(), "sha256", p.SHA256(), "load_time", p.LoadTime())
		}
	}
	for _, pc := range cfg.Pipeline {
		chain := make([]*wasm.Plugin, len(pc.Plugins))
		for i, name := range pc.Plugins {
			chain[i] = h.plugins[name]
		}
		h.pipelines[pc.Name] = chain
	}
	return h, nil
}

// loadAll loads the plugins of specs, one .wasm after another, and more
// at once only while a load takes longer than loadOverlapAfter: a load
// from the compilation cache takes a few milliseconds, and two at once
// raised the peak memory of four Go plugins' --input by 8 MiB (each starts
// an instance), while compiling a module keeps one core busy for most of
// a second. Specs that share a .wasm load one after another, so the first
// compiles it and the rest find it in the compilation cache. The error is
// the first by name.
func loadAll(ctx context.Context, engine *wasm.Engine, specs []wasm.Spec, reuse func(wasm.Spec) *wasm.Plugin) ([]*wasm.Plugin, []bool, error) {
	loaded := make([]*wasm.Plugin, len(specs))
	reused := make([]bool, len(specs))
	errs := make([]error, len(specs))
	byPath := map[string][]int{}
	var paths []string
	for i, spec := range specs {
		if reuse != nil {
			if p := reuse(spec); p != nil {
				loaded[i], reused[i] = p, true
				continue
			}
		}
		if _, ok := byPath[spec.Path]; !ok {
			paths = append(paths, spec.Path)
		}
		byPath[spec.Path] = append(byPath[spec.Path], i)
	}
	// One collection after the last load, not one after each.
	defer wasm.LimitLoadMemory()()
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, path := range paths {
		slots <- struct{}{}
		done := make(chan struct{})
		wg.Go(func() {
			defer func() { <-slots }()
			defer close(done)
			for _, i := range byPath[path] {
				loaded[i], errs[i] = engine.Load(ctx, specs[i])
			}
		})
		select {
		case <-done:
		case <-time.After(loadOverlapAfter):
		}
	}
	wg.Wait()
	return loaded, reused, firstErr(errs)
}

// loadOverlapAfter is how long a load runs alone before the next starts
// beside it: longer than a load from the cache (10-30 ms for a Go plugin),
// shorter than a compile (0.7-1 s) or a check in the interpreter (0.15 s).
const loadOverlapAfter = 50 * time.Millisecond

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pluginNames lists every plugin used by a pipeline or given an entry,
// sorted.
func (c *Config) pluginNames() []string {
	seen := map[string]bool{}
	for name := range c.Plugins {
		seen[name] = true
	}
	for _, p := range c.Pipeline {
		for _, name := range p.Plugins {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// maxUses is how many times one pipeline uses the plugin, at most.
func (c *Config) maxUses(name string) int {
	most := 1
	for _, p := range c.Pipeline {
		n := 0
		for _, pl := range p.Plugins {
			if pl == name {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func (c *Config) spec(name string, instances int) wasm.Spec {
	pc, ok := c.Plugins[name]
	if !ok {
		pc.Path = filepath.Join(c.PluginDir, name+".wasm")
	}
	settings, _ := jsonObject(pc.Config) // checked in Config.check
	maxMem := uint64(pc.MaxMemory)
	if maxMem == 0 {
		maxMem = DefaultMaxMemory
	}
	return wasm.Spec{
		Name:          name,
		Path:          pc.Path,
		Config:        settings,
		MaxMemory:     maxMem,
		Timeout:       time.Duration(pc.Timeout),
		MaxIdle:       instances,
		CallTimeout:   time.Duration(pc.CallTimeout),
		MaxOutput:     uint64(pc.MaxOutput),
		MaxTable:      uint32(pc.MaxTable),
		LogRate:       int(pc.LogRate),
		MaxLogMessage: int(pc.MaxLogMessage),
	}
}

// Config returns the host's configuration.
func (h *Host) Config() Config { return h.cfg }

// Plugins returns the loaded plugins, sorted by name.
func (h *Host) Plugins() []*wasm.Plugin {
	names := make([]string, 0, len(h.plugins))
	for name := range h.plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]*wasm.Plugin, len(names))
	for i, name := range names {
		out[i] = h.plugins[name]
	}
	return out
}

// Close releases every plugin and the compilation cache, unless a
// Service has taken the host over (NewService), which then does.
func (h *Host) Close() error {
	if h.owned {
		return nil
	}
	return h.close()
}

func (h *Host) close() error {
	ctx := context.Background()
	var errs []error
	for _, p := range h.plugins {
		errs = append(errs, p.Close(ctx))
	}
	errs = append(errs, h.engine.Close(ctx))
	return errors.Join(errs...)
}

// Result describes one processed file.
type Result struct {
	Pipeline string
	BytesIn  int64
	BytesOut int64
	Duration time.Duration
	Stages   []wasm.StageStats
}

// waitCompileFrom is the size from which a file waits for its plugins'
// background compiles (a cold start in watch mode) rather than run in the
// interpreter to its end: 4 MiB take about 1.5 s there through a chain of
// Go plugins, about what compiling one takes.
const waitCompileFrom = 4 << 20

// awaitCompiled waits until no plugin of the pipeline is still to be
// compiled, or ctx ends.
func (h *Host) awaitCompiled(ctx context.Context, pipeline string) error {
	for _, p := range h.pipelines[pipeline] {
		select {
		case <-p.Compiled():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Process streams r, a file named name, through the pipeline to w.
func (h *Host) Process(ctx context.Context, pipeline, name string, r io.Reader, w io.Writer) (Result, error) {
	chain, ok := h.pipelines[pipeline]
	if !ok {
		return Result{}, fmt.Errorf("unknown pipeline %q", pipeline)
	}
	start := time.Now()
	cr := &countingReader{r: r}
	cw := &countingWriter{w: w}
	stages, err := wasm.Run(ctx, chain, name, cr, cw, wasm.Limits{
		ChunkSize: int(h.cfg.Limits.ChunkSize),
		MaxLine:   int(h.cfg.Limits.MaxLine),
	})
	return Result{
		Pipeline: pipeline,
		BytesIn:  cr.n,
		BytesOut: cw.n,
		Duration: time.Since(start),
		Stages:   stages,
	}, err
}

// ErrNoPipeline fails a file that no pipeline takes (by name or content).
var ErrNoPipeline = errors.New("no pipeline takes the file")

// FileError is a file that failed, with where it went.
type FileError struct {
	File     string // the input as given
	Failed   string // where the original now is, in failed/ ("" if not moved)
	Pipeline string
	Plugin   string // the plugin at fault, "" if none
	Err      error
}

func (e *FileError) Error() string {
	msg := e.File + ": "
	if e.Plugin != "" && !isStageError(e.Err) {
		msg += "plugin " + e.Plugin + ": "
	}
	return msg + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

func isStageError(err error) bool {
	var se *wasm.StageError
	return errors.As(err, &se)
}

// pluginOf names the plugin at fault in err, if any.
func pluginOf(err error) string {
	var se *wasm.StageError
	if errors.As(err, &se) {
		return se.Plugin
	}
	return ""
}

// ProcessTo runs the file at path through its pipeline (chosen by name
// among the first watched folder's) and writes the result to w, leaving
// the file where it is.
func (h *Host) ProcessTo(ctx context.Context, path string, w io.Writer) (Result, error) {
	if err := checkInput(path); err != nil {
		return Result{}, err
	}
	name := filepath.Base(path)
	head := ReadHead(path)
	pc := h.pipelineFor(h.cfg.Watch[0], name, head)
	if pc == nil {
		return Result{}, &FileError{File: path, Err: h.cfg.NoPipeline(h.cfg.Watch[0], name, head)}
	}
	in, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer in.Close()
	res, err := h.Process(ctx, pc.Name, name, in, w)
	if err != nil {
		return res, &FileError{File: path, Pipeline: pc.Name, Plugin: pluginOf(err), Err: err}
	}
	return res, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
