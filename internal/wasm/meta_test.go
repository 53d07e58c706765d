package wasm_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

// metaModule is a pass-through plugin in WebAssembly text whose
// plugin_meta export is body, with data at address 16.
func metaModule(t *testing.T, export, data string) string {
	t.Helper()
	return wasmtest.Wat(t, `(module
  (import "host" "emit" (func $emit (param i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "`+data+`")
  `+export+`
  (func (export "plugin_abi_version") (result i32) (i32.const 1))
  (func (export "plugin_buffer") (param i32) (result i32) (i32.const 65536))
  (func (export "plugin_configure") (param i32) (result i32) (i32.const 0))
  (func (export "plugin_begin") (param i32) (result i32) (i32.const 0))
  (func (export "plugin_chunk") (param $n i32) (result i32) (call $emit (i32.const 65536) (local.get $n)) (i32.const 0))
  (func (export "plugin_end") (result i32) (i32.const 0)))`)
}

const metaAt16 = `(func (export "plugin_meta") (result i32) (i32.const 16))`

// TestMetaRules pins docs/ABI.md, "Metadata": what a plugin_meta export
// may return, and how the host reads it at load and in Inspect alike.
func TestMetaRules(t *testing.T) {
	tests := []struct {
		name, export, data string
		want               *wasm.Meta // nil: no metadata
		err                string     // the load error, if any
	}{
		{"no export", "", "", nil, ""},
		{"null pointer", `(func (export "plugin_meta") (result i32) (i32.const 0))`, "", nil, ""},
		{"full", metaAt16, `{\"name\":\"n\",\"version\":\"1.2\",\"description\":\"d\",\"settings\":[{\"name\":\"k\",\"type\":\"bool\",\"default\":\"false\",\"description\":\"kd\"}]}\00`,
			&wasm.Meta{Name: "n", Version: "1.2", Description: "d", Settings: []wasm.Setting{{Name: "k", Type: "bool", Default: "false", Description: "kd"}}}, ""},
		{"empty object", metaAt16, `{}\00`, &wasm.Meta{}, ""},
		{"unknown keys are ignored", metaAt16, `{\"name\":\"n\",\"license\":\"MIT\",\"settings\":[{\"name\":\"k\",\"min\":3}]}\00`,
			&wasm.Meta{Name: "n", Settings: []wasm.Setting{{Name: "k"}}}, ""},
		{"space around", metaAt16, ` \n{\"name\":\"n\"} \00`, &wasm.Meta{Name: "n"}, ""},
		{"not an object", metaAt16, `[1]\00`, nil, "plugin_meta: metadata is not a JSON object"},
		{"empty document", metaAt16, `\00`, nil, "plugin_meta: metadata is not a JSON object"},
		{"bad JSON", metaAt16, `{\"name\":}\00`, nil, "plugin_meta: metadata is not a JSON object: invalid character '}'"},
		{"wrong type", metaAt16, `{\"version\":1}\00`, nil, `plugin_meta: metadata key "version": want a string, got JSON number`},
		{"setting without name", metaAt16, `{\"settings\":[{\"type\":\"bool\"}]}\00`, nil, "plugin_meta: metadata settings[0] has no name"},
		{"setting twice", metaAt16, `{\"settings\":[{\"name\":\"a\"},{\"name\":\"a\"}]}\00`, nil, `plugin_meta: metadata settings: "a" is listed twice`},
		{"not UTF-8", metaAt16, `{\"name\":\"\ff\"}\00`, nil, "plugin_meta: metadata is not UTF-8"},
		{"no NUL before the end of memory", `(data (i32.const 131070) "{}") (func (export "plugin_meta") (result i32) (i32.const 131070))`, "", nil,
			"plugin_meta: the document at 0x1fffe runs to the end of memory without a NUL"},
		{"outside memory", `(func (export "plugin_meta") (result i32) (i32.const 131072))`, "", nil, "plugin_meta returned 0x20000, outside memory"},
		{"wrong signature", `(func (export "plugin_meta") (param i32) (result i32) (i32.const 16))`, "", nil,
			"export plugin_meta has type (func (param i32) (result i32)), want (func (result i32))"},
		{"trap", `(func (export "plugin_meta") (result i32) unreachable)`, "", nil, "plugin_meta trapped"},
	}
	e, err := wasm.NewEngine("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := metaModule(t, tt.export, tt.data)
			p, err := e.Load(context.Background(), wasm.Spec{Name: "m", Path: path})
			bin, _ := os.ReadFile(path)
			in, ierr := wasm.Inspect(context.Background(), bin)
			if ierr != nil {
				t.Fatal(ierr)
			}
			if tt.err != "" {
				if err == nil {
					p.Close(context.Background())
					t.Fatalf("loaded, want error %q", tt.err)
				}
				if !strings.Contains(err.Error(), tt.err) || !strings.Contains(in.Problem, tt.err) {
					t.Fatalf("load: %v\ninspect: %s\nwant %q in both", err, in.Problem, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			if in.Problem != "" {
				t.Errorf("inspect: %s", in.Problem)
			}
			for who, got := range map[string]*wasm.Meta{"load": p.Meta(), "inspect": in.Meta} {
				if !sameMeta(got, tt.want) {
					t.Errorf("%s: meta = %+v, want %+v", who, got, tt.want)
				}
			}
		})
	}
}

func TestMetaLimit(t *testing.T) {
	// 64 KiB of document is read; one byte more without a NUL is refused.
	long := `{\"description\":\"` + strings.Repeat("x", wasm.MaxMeta-len(`{"description":""}`)) + `\"}`
	e, _ := wasm.NewEngine("", nil)
	defer e.Close(context.Background())
	p, err := e.Load(context.Background(), wasm.Spec{Name: "m", Path: metaModule(t, metaAt16, long+`\00`)})
	if err != nil {
		t.Fatalf("a 64 KiB document: %v", err)
	}
	if n := len(p.Meta().Description); n != wasm.MaxMeta-18 {
		t.Errorf("description of %d bytes", n)
	}
	p.Close(context.Background())
	_, err = e.Load(context.Background(), wasm.Spec{Name: "m", Path: metaModule(t, metaAt16, long+` \00`)})
	if err == nil || !strings.Contains(err.Error(), "no NUL within 65536 bytes") {
		t.Errorf("a document over 64 KiB: %v", err)
	}
}

func sameMeta(a, b *wasm.Meta) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Name != b.Name || a.Version != b.Version || a.Description != b.Description || len(a.Settings) != len(b.Settings) {
		return false
	}
	for i := range a.Settings {
		if a.Settings[i] != b.Settings[i] {
			return false
		}
	}
	return true
}

// TestInspect checks what Inspect reads from a module's sections.
func TestInspect(t *testing.T) {
	path := wasmtest.Wat(t, `(module
  (import "host" "emit" (func (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "mem") 1 16)
  (table (export "tab") 2 8 funcref)
  (global (export "g") (mut i32) (i32.const 7))
  (func (export "plugin_abi_version") (result i32) (i32.const 2))
  (func (export "f") (param i64 f32) (result f64) (f64.const 1)))`)
	bin, _ := os.ReadFile(path)
	in, err := wasm.Inspect(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, x := range append(in.Imports, in.Exports...) {
		got = append(got, x.Module+"."+x.Name+" "+x.Kind+" "+x.Type)
	}
	want := []string{
		"host.emit func (func (param i32 i32))",
		"wasi_snapshot_preview1.fd_write func (func (param i32 i32 i32 i32) (result i32))",
		".mem memory (memory 1 16)",
		".tab table (table 2 8 funcref)",
		".g global (global (mut i32))",
		".plugin_abi_version func (func (result i32))",
		".f func (func (param i64 f32) (result f64))",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("externs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(in.Memories) != 1 || in.Memories[0].Min != 1 || *in.Memories[0].Max != 16 || in.Memories[0].Export != "mem" {
		t.Errorf("memories = %+v", in.Memories)
	}
	if len(in.Tables) != 1 || in.Tables[0].Min != 2 || *in.Tables[0].Max != 8 || in.Tables[0].Elem != "funcref" {
		t.Errorf("tables = %+v", in.Tables)
	}
	if in.Size != len(bin) || len(in.SHA256) != 64 {
		t.Errorf("size %d, sha256 %q", in.Size, in.SHA256)
	}
	if !strings.Contains(in.Problem, "does not export plugin_") {
		t.Errorf("problem = %q", in.Problem)
	}
	// A module that asks for more memory than max_memory's default at
	// start is refused, not given it.
	huge, _ := os.ReadFile(wasmtest.Wat(t, `(module (memory 20000))`))
	if in, err := wasm.Inspect(context.Background(), huge); err != nil {
		t.Error(err)
	} else if !strings.Contains(in.Problem, "over limit of 16384 pages") {
		t.Errorf("a 1.2 GiB initial memory: problem %q", in.Problem)
	}
	for _, bad := range [][]byte{[]byte("\x00asm\x02\x00\x00\x00"), []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01"), []byte("MZ")} {
		if _, err := wasm.Inspect(context.Background(), bad); err == nil {
			t.Errorf("Inspect(%q) gave no error", bad)
		}
	}
}
