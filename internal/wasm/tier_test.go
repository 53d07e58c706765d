package wasm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasmtest"
)

// waitCompiled waits for p's background compile, which under -race on a
// busy machine takes a few seconds.
func waitCompiled(t *testing.T, p *Plugin) {
	t.Helper()
	select {
	case <-p.Compiled():
	case <-time.After(5 * time.Minute):
		t.Fatal("the background compile did not end")
	}
}

func runOne(t *testing.T, p *Plugin, in string) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := Run(context.Background(), []*Plugin{p}, "in.txt", strings.NewReader(in), &out, Limits{}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// A cold tiered load is interpreted at once and compiled in the
// background; the compiled code fills the cache, so the next start loads
// it compiled.
func TestTieredColdThenWarm(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	path := wasmtest.Plugin(t, "upper")
	load := func() (*Engine, *Plugin) {
		e, err := NewEngine(cache, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.SetTiered(true)
		p, err := e.Load(ctx, Spec{Name: "upper", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return e, p
	}

	e, p := load()
	if !p.Compiling() {
		t.Fatal("a plugin missing from the cache loaded compiled")
	}
	if got := runOne(t, p, "a\nb\n"); got != "A\nB\n" {
		t.Fatalf("interpreted: %q", got)
	}
	waitCompiled(t, p)
	if p.Compiling() {
		t.Fatal("compiled, yet new instances are interpreted")
	}
	if got := runOne(t, p, "c\n"); got != "C\n" {
		t.Fatalf("compiled: %q", got)
	}
	inst, err := p.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inst.tier.interpreted {
		t.Error("an instance made after the compile is interpreted")
	}
	p.release(inst, false)
	_ = p.Close(ctx)
	_ = e.Close(ctx)

	e, p = load()
	defer e.Close(ctx)
	defer p.Close(ctx)
	if p.Compiling() {
		t.Error("a plugin in the cache loaded interpreted")
	}
	select {
	case <-p.Compiled():
	default:
		t.Error("Compiled is not closed for a plugin loaded compiled")
	}
}

// An instance busy when the compiled code arrives finishes its file in the
// interpreter and is then closed, not pooled (with it the interpreter's
// runtime); the next file runs compiled.
func TestTieredUpgradeMidFile(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	e.SetTiered(true)
	p, err := e.Load(ctx, Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper"), MaxIdle: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if !p.Compiling() {
		t.Fatal("loaded compiled")
	}
	first := strings.Repeat("ab\n", 200<<10) // more than Run reads before it starts the plugin
	r, w := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, []*Plugin{p}, "in.txt", r, &out, Limits{Workers: 1})
		done <- err
	}()
	if _, err := io.WriteString(w, first); err != nil {
		t.Fatal(err)
	}
	waitCompiled(t, p)
	if live, idle := p.Instances(); live != 1 || idle != 0 {
		t.Errorf("compiled mid-file: %d live, %d idle; want the busy one only", live, idle)
	}
	if _, err := io.WriteString(w, "cd\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := strings.ToUpper(first) + "CD\n"; out.String() != want {
		t.Errorf("output: %d bytes, want %d", out.Len(), len(want))
	}
	if live, idle := p.Instances(); live != 0 || idle != 0 {
		t.Errorf("after its file: %d live, %d idle; want the interpreted instance closed", live, idle)
	}
	if got := runOne(t, p, "y\n"); got != "Y\n" {
		t.Errorf("compiled: %q", got)
	}
	if live, idle := p.Instances(); live != 1 || idle != 1 {
		t.Errorf("after a compiled file: %d live, %d idle; want it pooled", live, idle)
	}
}

// Closing the engine while its compiles run waits for those under way and
// skips the rest; the plugins stay interpreted and usable until closed.
func TestTieredCloseDuringCompile(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine("", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.SetTiered(true)
	var ps []*Plugin
	for _, name := range []string{"upper", "lower", "trim", "snake_case"} {
		p, err := e.Load(ctx, Spec{Name: name, Path: wasmtest.Plugin(t, name)})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	e.bg.close() // What Engine.Close does first.
	for _, p := range ps {
		if got := runOne(t, p, "a b\n"); got == "" {
			t.Errorf("%s: no output", p.Name())
		}
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A plugin loaded twice with other settings is compiled for both, the
// second compile after the first (it then finds the first's code).
func TestTieredSamePluginTwice(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	e.SetTiered(true)
	path := wasmtest.Plugin(t, "grep")
	var ps []*Plugin
	for _, pattern := range []string{"a", "b"} {
		p, err := e.Load(ctx, Spec{Name: "grep", Path: path, Config: []byte(`{"pattern": "` + pattern + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		ps = append(ps, p)
	}
	for i, p := range ps {
		waitCompiled(t, p)
		if p.Compiling() {
			t.Errorf("plugin %d: interpreted after its compile", i)
		}
	}
	if got := runOne(t, ps[0], "a\nb\n"); got != "a\n" {
		t.Errorf("grep a: %q", got)
	}
	if got := runOne(t, ps[1], "a\nb\n"); got != "b\n" {
		t.Errorf("grep b: %q", got)
	}
}

// A cache_dir whose entry for a plugin cannot be read (damaged) or written
// (full, read-only) neither keeps the plugin interpreted nor stops a
// compiled load: the code compiles without the cache and is used, with a
// warning that the next start compiles it again.
func TestCompileWithoutCache(t *testing.T) {
	ctx := context.Background()
	// A WAT plugin: it compiles in milliseconds, where a Go one takes
	// seconds under -race, and this test compiles it up to three times.
	spec := Spec{Name: "cat", Path: wasmtest.BuildWat(t, "cat")}
	// unreadable makes each entry a folder of the same name: opening it
	// works, reading it does not.
	unreadable := func(t *testing.T, cache string) {
		e, err := NewEngine(cache, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.Load(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		p.Close(ctx)
		e.Close(ctx)
		entries, _ := filepath.Glob(filepath.Join(cache, "*", "*"))
		if len(entries) == 0 {
			t.Fatal("the first load wrote no cache entry")
		}
		for _, f := range entries {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(f, "in-the-way"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	// unwritable moves the cache's folder away once the engine has opened
	// it, as a full or read-only disk would refuse a new entry: every
	// entry is missing, and none can be made.
	unwritable := func(t *testing.T, cache string) {
		dirs, _ := filepath.Glob(filepath.Join(cache, "*"))
		for _, d := range dirs {
			if err := os.Rename(d, d+".gone"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name   string
		before func(*testing.T, string) // before the engine opens the cache
		after  func(*testing.T, string) // after
	}{
		{name: "unreadable", before: unreadable},
		{name: "unwritable", after: unwritable},
	} {
		for _, tiered := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/tiered=%v", c.name, tiered), func(t *testing.T) {
				cache := t.TempDir()
				if c.before != nil {
					c.before(t, cache)
				}
				var logged SyncBuffer
				e, err := NewEngine(cache, slog.New(slog.NewTextHandler(&logged, nil)))
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close(ctx)
				if c.after != nil {
					c.after(t, cache)
				}
				e.SetTiered(tiered)
				p, err := e.Load(ctx, spec)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close(ctx)
				select {
				case <-p.Compiled():
				case <-time.After(2 * time.Minute):
					t.Fatalf("not compiled:\n%s", logged.String())
				}
				if got := runOne(t, p, "a\n"); got != "a\n" {
					t.Errorf("%q", got)
				}
				if !strings.Contains(logged.String(), "plugin compiled without cache_dir") {
					t.Errorf("no warning:\n%s", logged.String())
				}
			})
		}
	}
}
