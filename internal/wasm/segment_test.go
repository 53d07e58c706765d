package wasm_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

// The SDK declares Map and Filter plugins stateless, and no other kind;
// a module without plugin_stateless is stateful.
func TestStatelessDeclaration(t *testing.T) {
	for _, c := range []struct {
		name      string
		path      string
		config    string
		stateless bool
	}{
		{"trim", wasmtest.Plugin(t, "trim"), "", true},
		{"upper", wasmtest.Plugin(t, "upper"), "", true},
		{"grep", wasmtest.Plugin(t, "grep"), `{"pattern":"x"}`, true},
		{"dedupe", wasmtest.Plugin(t, "dedupe"), "", false}, // a Stream
		{"count", wasmtest.Plugin(t, "count"), "", false},
		{"base", hostile(t, "base"), "", false}, // no export
		{"stateless", hostile(t, "stateless"), "", true},
	} {
		spec := wasm.Spec{Name: c.name, Path: c.path}
		if c.config != "" {
			spec.Config = []byte(c.config)
		}
		if got := load(t, spec).Stateless(); got != c.stateless {
			t.Errorf("%s: Stateless() = %v, want %v", c.name, got, c.stateless)
		}
	}
}

// A bad plugin_stateless export fails the load, naming the export.
func TestStatelessBadExport(t *testing.T) {
	for name, want := range map[string]string{
		"stateless_two":   "plugin_stateless returned 2, want 0 or 1",
		"stateless_param": "export plugin_stateless has type (func (param i32) (result i32)), want (func (result i32))",
	} {
		_, err := loadHostile(t, name, wasm.Spec{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: load error %v, want one naming the plugin and %q", name, err, want)
		}
	}
}

// A big file through stateless plugins runs on several instances at once
// and comes out as it does on one instance, in order, a stateful plugin
// in the middle included, which keeps to one instance.
func TestStatelessParallel(t *testing.T) {
	in := string(wasmtest.LogText(1 << 20))
	in += "a last line without newline"
	trim := load(t, wasm.Spec{Name: "trim", Path: wasmtest.Plugin(t, "trim")})
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	grep := load(t, wasm.Spec{Name: "grep", Path: wasmtest.Plugin(t, "grep"), Config: []byte(`{"pattern":"WARN","invert":true}`)})
	dedupe := load(t, wasm.Spec{Name: "dedupe", Path: wasmtest.Plugin(t, "dedupe")})
	for _, chain := range [][]*wasm.Plugin{
		{trim, upper, grep},
		{trim, dedupe, upper, grep},
	} {
		lim := wasm.Limits{ChunkSize: 4 << 10}
		one := lim
		one.Workers = 1
		want, err := run(t, chain, in, one)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || strings.Contains(want, "WARN") || strings.Contains(want, "info") {
			t.Fatalf("one-instance output is not trimmed, upper-cased and filtered: %.200q", want)
		}
		files, begins := make([]int64, len(chain)), make([]int64, len(chain))
		for i, p := range chain {
			files[i], begins[i] = p.Stats().Files.Load(), p.Stats().Begins.Load()
		}
		lim.Workers = 4
		var out bytes.Buffer
		stats, err := wasm.Run(context.Background(), chain, "in.txt", strings.NewReader(in), &out, lim)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("parallel output (%d bytes) differs from one instance's (%d bytes)", out.Len(), len(want))
		}
		for i, p := range chain {
			if n := p.Stats().Files.Load() - files[i]; n != 1 {
				t.Errorf("%s counted %d files for one", p.Name(), n)
			}
			begun := p.Stats().Begins.Load() - begins[i]
			if p.Stateless() && begun < 2 {
				t.Errorf("%s ran on %d instance(s) for a file of %d chunks, want several", p.Name(), begun, len(in)/lim.ChunkSize)
			}
			if !p.Stateless() && begun != 1 {
				t.Errorf("stateful %s ran on %d instances, want 1", p.Name(), begun)
			}
			if stats[i].Plugin != p.Name() || stats[i].BytesIn == 0 {
				t.Errorf("stats[%d] = %+v", i, stats[i])
			}
		}
		if stats[0].BytesIn != int64(len(in)) {
			t.Errorf("first plugin's BytesIn = %d, want %d", stats[0].BytesIn, len(in))
		}
		// Idle instances kept stay within MaxIdle (1): the extra ones are
		// closed when the file ends.
		for _, p := range chain {
			if live, idle := p.Instances(); live != idle || idle > 1 {
				t.Errorf("%s after the file: %d live, %d idle", p.Name(), live, idle)
			}
		}
	}
}

// The host checks what a stateless plugin may not do, naming it: emit
// from plugin_begin (the output would have no place in the order), or end
// a chunk's output in a partial line.
func TestStatelessBroken(t *testing.T) {
	in := strings.Repeat("some line of text\n", 20000) // > 64 KiB: not read whole
	for name, want := range map[string]string{
		"stateless_begin_emit": "emitted output from plugin_begin or plugin_end",
		"stateless_partial":    "ends in a partial line",
	} {
		p, err := loadHostile(t, name, wasm.Spec{})
		if err != nil {
			t.Fatal(err)
		}
		upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
		for _, chain := range [][]*wasm.Plugin{{p}, {p, upper}} {
			_, err := run(t, chain, in, wasm.Limits{Workers: 2})
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "plugin "+name) {
				t.Errorf("%s in a chain of %d: error %v, want one naming it and %q", name, len(chain), err, want)
			}
		}
	}
}

// A stateless plugin that behaves gives the same output on several
// instances as on one.
func TestStatelessWAT(t *testing.T) {
	p, err := loadHostile(t, "stateless", wasm.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	in := string(wasmtest.LogText(512 << 10))
	got, err := run(t, []*wasm.Plugin{p}, in, wasm.Limits{Workers: 3, ChunkSize: 8 << 10})
	if err != nil || got != in {
		t.Fatalf("pass-through on 3 instances: %d bytes, %v; want the %d bytes of input", len(got), err, len(in))
	}
}

// Load checks a plugin on a first instance and closes it: a loaded plugin
// holds no instance until a file needs one, and then keeps the ones it
// used, up to MaxIdle.
func TestInstancesAreMadeForFiles(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper"), MaxIdle: 4})
	if live, idle := upper.Instances(); live != 0 || idle != 0 {
		t.Fatalf("after Load: %d live, %d idle instances; want none", live, idle)
	}
	if _, err := run(t, []*wasm.Plugin{upper}, "a\n", wasm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if live, idle := upper.Instances(); live != 1 || idle != 1 {
		t.Errorf("after one small file: %d live, %d idle instances; want 1, idle", live, idle)
	}
}

// A chain whose later plugin cannot start (here: closed) fails at once,
// with a segment before it that never began.
func TestSegmentBeforeFailedStart(t *testing.T) {
	upper := load(t, wasm.Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	dedupe := load(t, wasm.Spec{Name: "dedupe", Path: wasmtest.Plugin(t, "dedupe")})
	if err := dedupe.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := strings.Repeat("some line of text\n", 20000)
	_, err := run(t, []*wasm.Plugin{upper, dedupe}, in, wasm.Limits{Workers: 2})
	if err == nil || !strings.Contains(err.Error(), "dedupe: closed") {
		t.Errorf("error %v, want the closed plugin's", err)
	}
}
