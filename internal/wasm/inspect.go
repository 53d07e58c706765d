package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/samyfodil/wazy"
	"github.com/samyfodil/wazy/api"
	"github.com/samyfodil/wazy/imports/wasi_snapshot_preview1"
)

// Inspection describes a .wasm file for plugin authors (host plugin
// inspect): what the binary declares, read from its sections, and what the
// plugin reports when it is started the way the host starts it, but not
// configured, since its settings are not known.
type Inspection struct {
	Size     int      `json:"size"`
	SHA256   string   `json:"sha256"`
	Imports  []Extern `json:"imports"`
	Exports  []Extern `json:"exports"`
	Memories []Bounds `json:"memories"`
	Tables   []Bounds `json:"tables"`
	Custom   []string `json:"custom_sections,omitempty"`

	ABIVersion int32 `json:"abi_version,omitempty"` // 0 when it could not be read
	Meta       *Meta `json:"meta,omitempty"`
	// Problem is why the host would refuse to load the file, before
	// settings come into play; "" when it would not.
	Problem string `json:"problem,omitempty"`
}

// Extern is one import or export: Kind is func, table, memory or global,
// Type its type in WebAssembly text notation.
type Extern struct {
	Module string `json:"module,omitempty"` // imports only
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Type   string `json:"type"`
}

// Bounds are a memory's (in 64 KiB pages) or a table's (in elements)
// minimum and optional maximum.
type Bounds struct {
	Min    uint64  `json:"min"`
	Max    *uint64 `json:"max,omitempty"`
	Import string  `json:"import,omitempty"` // module.name when imported
	Export string  `json:"export,omitempty"` // export name, if exported
	Elem   string  `json:"elem,omitempty"`   // tables: funcref or externref
}

// inspectTimeout bounds starting the plugin: an _initialize that never
// returns must not hang an inspection.
const inspectTimeout = 10 * time.Second

// inspectMaxPages is DefaultMaxMemory in 64 KiB pages.
const inspectMaxPages = DefaultMaxMemory / 65536

// Inspect reads bin's sections, then starts one instance in the host's
// sandbox to ask its ABI version and metadata. A malformed binary is an
// error; a well-formed module that is not a loadable plugin gets its
// Problem set instead.
func Inspect(ctx context.Context, bin []byte) (*Inspection, error) {
	sum := sha256.Sum256(bin)
	in := &Inspection{Size: len(bin), SHA256: hex.EncodeToString(sum[:])}
	if err := parseModule(bin, in); err != nil {
		return nil, err
	}
	if err := start(ctx, bin, in); err != nil {
		in.Problem = err.Error()
	}
	return in, nil
}

// start runs the module as Engine.Load does, up to plugin_configure, which
// it leaves out, and reads plugin_meta.
func start(ctx context.Context, bin []byte, in *Inspection) error {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	// The host's default max_memory and max_table, so a module that asks
	// for more at start fails as its load would, instead of taking them;
	// the runtime stops a call when its context ends (the timeout).
	rc := wazy.NewRuntimeConfig().WithMemoryLimitPages(inspectMaxPages).WithTableLimitElements(DefaultMaxTable)
	rt := wazy.NewRuntimeWithConfig(ctx, rc)
	defer rt.Close(context.Background())
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return err
	}
	// Stand-ins for the host's imports: a plugin may log from _initialize,
	// but must not emit there (docs/ABI.md).
	noop := api.GoModuleFunc(func(context.Context, api.Module, []uint64) {})
	i32 := api.ValueTypeI32
	_, err := rt.NewHostModuleBuilder("host").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{i32, i32}, nil).Export("emit").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{i32, i32, i32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{i32, i32}, nil).Export("fail").
		Instantiate(ctx)
	if err != nil {
		return err
	}
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	if err := checkKind(compiled); err != nil {
		return err
	}
	if err := checkShape(compiled); err != nil {
		return err
	}
	var out tail
	mod, err := rt.InstantiateModule(ctx, compiled, wazy.NewModuleConfig().
		WithName("").WithStartFunctions("_initialize").WithStdout(&out).WithStderr(&out))
	if err != nil {
		return fmt.Errorf("instantiate: %w%s", err, out.suffix())
	}
	if mod.Memory() == nil {
		return errors.New("has no memory: a plugin must define one (see docs/ABI.md)")
	}
	res, err := mod.ExportedFunction("plugin_abi_version").Call(ctx)
	if err != nil {
		return fmt.Errorf("plugin_abi_version trapped: %w%s", err, out.suffix())
	}
	in.ABIVersion = int32(res[0])
	if fn := mod.ExportedFunction("plugin_meta"); fn != nil {
		if err := checkMetaShape(fn.Definition()); err != nil {
			return err
		}
		res, err := fn.Call(ctx)
		if err != nil {
			return fmt.Errorf("plugin_meta trapped: %w%s", err, out.suffix())
		}
		if in.Meta, err = metaAt(mod.Memory(), uint32(res[0])); err != nil {
			return err
		}
	}
	if in.ABIVersion != ABIVersion {
		return fmt.Errorf("plugin ABI version %d, host speaks version %d (rebuild the plugin with a matching SDK)", in.ABIVersion, ABIVersion)
	}
	return nil
}

// parseModule reads the sections of a WebAssembly binary that describe its
// interface (types, imports, functions, tables, memories, globals,
// exports); wazero's CompiledModule does not expose tables.
func parseModule(bin []byte, in *Inspection) error {
	r := &reader{b: bin}
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return errors.New("not a WebAssembly module (no \\0asm header)")
	}
	if v := bin[4:8]; string(v) != "\x01\x00\x00\x00" {
		return fmt.Errorf("WebAssembly binary version %x, want 1 (a core module)", v)
	}
	r.off = 8
	var (
		types     []string // func types
		funcTypes []string // by function index
		globals   []string // by global index
	)
	type exported struct{ kind, idx uint32 }
	var exports []struct {
		name string
		exported
	}
	for r.off < len(bin) {
		id := r.byte()
		size := r.u32()
		if r.err != nil || uint64(r.off)+uint64(size) > uint64(len(bin)) {
			return fmt.Errorf("malformed module: section %d at offset %d runs past the end", id, r.off)
		}
		s := &reader{b: bin[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 0:
			in.Custom = append(in.Custom, s.name())
		case 1:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				if form := s.byte(); form != 0x60 {
					return fmt.Errorf("malformed module: type form %#x (only function types are supported)", form)
				}
				params := s.valTypes()
				results := s.valTypes()
				types = append(types, funcTypeNames(params, results))
			}
		case 2:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				e := Extern{Module: s.name(), Name: s.name()}
				switch kind := s.byte(); kind {
				case 0:
					t := s.u32()
					e.Kind, e.Type = "func", index(types, t)
					funcTypes = append(funcTypes, e.Type)
				case 1:
					l := s.table()
					l.Import = e.Module + "." + e.Name
					e.Kind, e.Type = "table", "(table "+l.String()+")"
					in.Tables = append(in.Tables, l)
				case 2:
					l := s.limits()
					l.Import = e.Module + "." + e.Name
					e.Kind, e.Type = "memory", "(memory "+l.String()+")"
					in.Memories = append(in.Memories, l)
				case 3:
					e.Kind, e.Type = "global", s.global()
					globals = append(globals, e.Type)
				default:
					return fmt.Errorf("malformed module: import kind %#x", kind)
				}
				in.Imports = append(in.Imports, e)
			}
		case 3:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				funcTypes = append(funcTypes, index(types, s.u32()))
			}
		case 4:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				in.Tables = append(in.Tables, s.table())
			}
		case 5:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				in.Memories = append(in.Memories, s.limits())
			}
		case 6:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				globals = append(globals, s.global())
				s.skipConstExpr()
			}
		case 7:
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				name := s.name()
				kind := uint32(s.byte())
				exports = append(exports, struct {
					name string
					exported
				}{name, exported{kind, s.u32()}})
			}
		}
		if s.err != nil {
			return fmt.Errorf("malformed module: section %d: %w", id, s.err)
		}
	}
	for _, e := range exports {
		x := Extern{Name: e.name}
		switch e.kind {
		case 0:
			x.Kind, x.Type = "func", index(funcTypes, e.idx)
		case 1:
			x.Kind = "table"
			if int(e.idx) < len(in.Tables) {
				in.Tables[e.idx].Export = e.name
				x.Type = "(table " + in.Tables[e.idx].String() + ")"
			}
		case 2:
			x.Kind = "memory"
			if int(e.idx) < len(in.Memories) {
				in.Memories[e.idx].Export = e.name
				x.Type = "(memory " + in.Memories[e.idx].String() + ")"
			}
		case 3:
			x.Kind, x.Type = "global", index(globals, e.idx)
		default:
			return fmt.Errorf("malformed module: export kind %#x", e.kind)
		}
		in.Exports = append(in.Exports, x)
	}
	return nil
}

func index(s []string, i uint32) string {
	if int(i) < len(s) {
		return s[i]
	}
	return fmt.Sprintf("(bad index %d)", i)
}

// String writes the limits as in WebAssembly text: "17", "1 32".
func (l Bounds) String() string {
	s := fmt.Sprint(l.Min)
	if l.Max != nil {
		s += fmt.Sprint(" ", *l.Max)
	}
	if l.Elem != "" {
		s += " " + l.Elem
	}
	return s
}

// funcTypeNames writes a function type as in WebAssembly text.
func funcTypeNames(params, results []string) string {
	s := "(func"
	if len(params) > 0 {
		s += " (param " + strings.Join(params, " ") + ")"
	}
	if len(results) > 0 {
		s += " (result " + strings.Join(results, " ") + ")"
	}
	return s + ")"
}

// reader decodes the binary format's LEB128 numbers, names and types.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errors.New("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.err = errors.New("integer too large")
			}
			return uint32(v)
		}
	}
	if r.err == nil {
		r.err = errors.New("integer too long")
	}
	return 0
}

func (r *reader) u64() uint64 {
	var v uint64
	for shift := 0; shift < 70; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	if r.err == nil {
		r.err = errors.New("integer too long")
	}
	return 0
}

func (r *reader) name() string {
	n := int(r.u32())
	if r.err != nil {
		return ""
	}
	if n > len(r.b)-r.off {
		r.err = errors.New("name runs past the end")
		return ""
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

func (r *reader) valType() string {
	switch c := r.byte(); c {
	case 0x7f:
		return "i32"
	case 0x7e:
		return "i64"
	case 0x7d:
		return "f32"
	case 0x7c:
		return "f64"
	case 0x7b:
		return "v128"
	case 0x70:
		return "funcref"
	case 0x6f:
		return "externref"
	default:
		if r.err == nil {
			r.err = fmt.Errorf("value type %#x", c)
		}
		return ""
	}
}

func (r *reader) valTypes() []string {
	var out []string
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		out = append(out, r.valType())
	}
	return out
}

// limits reads memory limits; memory64 and shared memories, which the host
// does not support, still read correctly.
func (r *reader) limits() Bounds {
	flags := r.byte()
	var l Bounds
	if flags&4 != 0 {
		l.Min = r.u64()
	} else {
		l.Min = uint64(r.u32())
	}
	if flags&1 != 0 {
		var m uint64
		if flags&4 != 0 {
			m = r.u64()
		} else {
			m = uint64(r.u32())
		}
		l.Max = &m
	}
	return l
}

func (r *reader) table() Bounds {
	elem := r.valType()
	l := r.limits()
	l.Elem = elem
	return l
}

func (r *reader) global() string {
	t := r.valType()
	if r.byte() == 1 {
		return "(global (mut " + t + "))"
	}
	return "(global " + t + ")"
}

// skipConstExpr skips a global's initializer, which ends at the end opcode
// (0x0b); the MVP's constant instructions have one immediate at most.
func (r *reader) skipConstExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return
		case 0x41, 0x23, 0xd2: // i32.const, global.get, ref.func
			r.u64()
		case 0x42: // i64.const
			r.u64()
		case 0x43:
			r.off += 4
		case 0x44:
			r.off += 8
		case 0xd0: // ref.null t
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant arithmetic
		default:
			r.err = fmt.Errorf("constant expression opcode %#x", op)
		}
	}
}
