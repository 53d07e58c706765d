package wasm

import (
	"bytes"
	"context"
	"io"
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
