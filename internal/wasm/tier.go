package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/samyfodil/wazy"
	"github.com/samyfodil/wazy/api"
	"github.com/samyfodil/wazy/imports/wasi_snapshot_preview1"
)

// Tiered loading. Compiling a Go plugin takes most of a CPU second, so a
// cold start with ten of them took 5.5 s on two cores. On a tiered engine,
// Load looks for the plugin's compiled code in the cache only; when it is
// not there, the plugin is checked in wazy's interpreter (about 0.15 s,
// each function lowered on its first call) and compiled in the
// background. Files are taken at once: one that comes before the compile
// ends runs in an interpreter again, about 25 times slower; from then on
// new instances run the compiled code, and the interpreted ones are closed
// as their files end. The compiled code lands in the cache, so the next
// start is warm. The interpreter stops a call at its time limit and counts
// its memory against the budget as the compiler does
// (TestHostileInterpreted).

// tier is one runtime a plugin's instances are made in.
type tier struct {
	rt          wazy.Runtime
	compiled    wazy.CompiledModule
	interpreted bool
	live        int // instances of this tier open; guarded by Plugin.mu
}

// SetTiered makes later loads tiered: a plugin whose compiled code is not
// in the cache is interpreted until it has compiled in the background.
func (e *Engine) SetTiered(on bool) { e.tiered = on }

// tierKind is how newTier gets a plugin's code.
type tierKind int

const (
	compile   tierKind = iota // compile, or take it from the cache
	fromCache                 // take it from the cache, or fail with wazy.ErrCompilationCacheMiss
	interpret
	uncached // compile, with a cache in memory only
)

// compiledTier compiles p's code. A compile through the cache fails when
// the cache's entry for it cannot be read (damaged) or written (a full or
// read-only cache_dir); the code is then compiled again without it, so
// that the plugin still runs compiled, and the next start compiles again.
// A module that does not compile fails with the first error.
func (e *Engine) compiledTier(ctx context.Context, p *Plugin, code []byte) (*tier, error) {
	t, err := e.newTier(ctx, p, code, compile)
	if err == nil {
		return t, nil
	}
	t, again := e.newTier(ctx, p, code, uncached)
	if again != nil {
		return nil, err
	}
	p.logger.Warn("plugin compiled without cache_dir, whose entry for it could not be read or written: the next start compiles it again",
		"error", Escape(err.Error()))
	return t, nil
}

// memoryCache is the cache of uncached compiles, made on first use.
func (e *Engine) memoryCache() wazy.CompilationCache {
	e.memOnce.Do(func() { e.mem = wazy.NewCompilationCache() })
	return e.mem
}

// firstTier returns the tier a plugin is loaded in, and whether its code
// is still to be compiled.
func (e *Engine) firstTier(ctx context.Context, p *Plugin, code []byte) (*tier, bool, error) {
	if !e.tiered {
		t, err := e.compiledTier(ctx, p, code)
		return t, false, err
	}
	if e.cached != nil {
		t, err := e.newTier(ctx, p, code, fromCache)
		if errors.Is(err, wazy.ErrCompilationCacheUnsupported) {
			// No compiler on this platform: there is nothing to wait for.
			t, err = e.compiledTier(ctx, p, code)
			return t, false, err
		}
		if !cacheMissed(err) {
			return t, false, err
		}
	}
	t, err := e.newTier(ctx, p, code, interpret)
	return t, err == nil, err
}

// cacheMissed reports an error of a read-only cache that a compile would
// mend: no entry, or one of another wazy or that cannot be read.
func cacheMissed(err error) bool {
	return errors.Is(err, wazy.ErrCompilationCacheMiss) || errors.Is(err, wazy.ErrCompilationCacheStale) ||
		errors.Is(err, wazy.ErrCompilationCacheCorrupt)
}

// newTier makes a runtime for p with its imports and the plugin's code.
func (e *Engine) newTier(ctx context.Context, p *Plugin, code []byte, kind tierKind) (*tier, error) {
	rc := wazy.NewRuntimeConfig().WithCompilationCache(e.cache)
	switch kind {
	case fromCache:
		rc = wazy.NewRuntimeConfig().WithCompilationCache(e.cached)
	case interpret:
		rc = wazy.NewRuntimeConfigInterpreter()
		ctx = api.WithInterpreterLazyLowering(ctx)
	case uncached:
		rc = wazy.NewRuntimeConfig().WithCompilationCache(e.memoryCache())
	}
	rc = rc.WithMemoryLimitPages(uint32(p.spec.MaxMemory / pageSize)).
		WithTableLimitElements(p.spec.MaxTable)
	rt := wazy.NewRuntimeWithConfig(ctx, rc)
	t := &tier{rt: rt, interpreted: kind == interpret}
	err := func() error {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			return err
		}
		if err := p.hostModule(ctx, rt); err != nil {
			return err
		}
		compiled, err := rt.CompileModule(ctx, code)
		if err != nil {
			return fmt.Errorf("compile: %w", err)
		}
		t.compiled = compiled
		return nil
	}()
	if err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	return t, nil
}

// Compiling reports whether the plugin's code is compiling in the
// background, its files running in the interpreter meanwhile.
func (p *Plugin) Compiling() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tier == nil || p.tier.interpreted
}

// tierLocked returns the tier to make an instance in; p.mu is held, and
// released while an interpreter's tier is made for a plugin compiling
// with none.
func (p *Plugin) tierLocked() (*tier, error) {
	for p.tier == nil {
		if p.closed {
			return nil, fmt.Errorf("plugin %s: closed", p.spec.Name)
		}
		if wait := p.making; wait != nil {
			p.mu.Unlock()
			<-wait
			p.mu.Lock()
			continue
		}
		done := make(chan struct{})
		p.making = done
		code := p.code
		p.mu.Unlock()
		// The tier outlives the file that asked for it: not its context.
		t, err := p.engine.newTier(context.Background(), p, code, interpret)
		p.mu.Lock()
		p.making = nil
		close(done)
		if err != nil {
			return nil, fmt.Errorf("interpreter: %w", err)
		}
		if p.tier != nil || p.closed { // compiled, or closed, meanwhile
			p.mu.Unlock()
			_ = t.rt.Close(context.Background())
			p.mu.Lock()
			continue
		}
		p.tier = t
	}
	return p.tier, nil
}

// Compiled is closed once no compile of the plugin is to come: at once for
// a plugin loaded compiled, else when its background compile has ended,
// or failed, or been skipped by the engine's Close. Compiling then says
// which.
func (p *Plugin) Compiled() <-chan struct{} { return p.compiledDone }

// upgrade makes t the tier of new instances. The idle instances are
// closed, the busy ones as their files end, and the old runtime with the
// last of them. It returns false, having changed nothing, once p is
// closed.
func (p *Plugin) upgrade(t *tier) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	old := p.tier
	p.tier, p.code = t, nil
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	last := false
	if old != nil {
		old.live -= len(idle)
		last = old.live == 0
	}
	p.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(context.Background())
	}
	if last {
		_ = old.rt.Close(context.Background())
	}
	return true
}

// background runs an engine's compiles for tiered loads one at a time,
// under the load memory limit. Two at a time on two cores took twice as
// long each, the collector running all the while to keep their state
// under the limit; and one leaves the other cores to files. A plugin
// loaded twice compiles once: the second compile finds the first's code
// in the cache.
type background struct {
	one    sync.Mutex // held by the compile under way
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// compileLater compiles code for p in the background and upgrades p to it.
func (e *Engine) compileLater(p *Plugin, code []byte) {
	b := &e.bg
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(p.compiledDone)
		return
	}
	b.wg.Go(func() {
		defer close(p.compiledDone) // After the upgrade: Compiling is then false.
		b.one.Lock()
		defer b.one.Unlock()
		if b.isClosed() || p.isClosed() {
			return
		}
		defer LimitLoadMemory()()
		start := time.Now()
		t, err := e.compiledTier(context.Background(), p, code)
		if err != nil {
			// The interpreter took the module: this is a bug of the
			// compiler's, which the plugin can run without.
			p.logger.Error("plugin did not compile, so it stays interpreted", "error", Escape(err.Error()))
			return
		}
		if !p.upgrade(t) {
			_ = t.rt.Close(context.Background())
			return
		}
		p.logger.Info("plugin compiled", "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	})
}

func (b *background) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// close skips the compiles not begun and waits for the others.
func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
}

func (p *Plugin) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}
