package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// memoryImage applies the active data segments of bin, in order, to a
// zeroed memory of its initial size, and lists its custom sections.
func memoryImage(t *testing.T, bin []byte) (mem []byte, segments int, custom []string) {
	t.Helper()
	r := &reader{b: bin, off: 8}
	var data []byte
	for r.off < len(bin) {
		id := r.byte()
		size := int(r.u32())
		body := bin[r.off : r.off+size]
		r.off += size
		switch id {
		case 0:
			custom = append(custom, (&reader{b: body}).name())
		case 5:
			m := &reader{b: body}
			m.u32()
			m.byte()
			mem = make([]byte, uint64(m.u32())*pageSize)
		case 11:
			data = body
		}
	}
	d := &reader{b: data}
	n := int(d.u32())
	for range n {
		d.byte()
		d.byte()
		off := int(d.s32())
		d.byte()
		size := int(d.u32())
		copy(mem[off:off+size], data[d.off:d.off+size])
		d.off += size
	}
	if r.err != nil || d.err != nil {
		t.Fatalf("reading the module: %v %v", r.err, d.err)
	}
	return mem, n, custom
}

func TestShrinkGoPlugin(t *testing.T) {
	bin, err := os.ReadFile(wasmtest.Plugin(t, "trim"))
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(bin)
	out := shrink(bin)
	if !bytes.Equal(bin, orig) {
		t.Fatal("shrink changed its input")
	}
	mem0, n0, custom0 := memoryImage(t, bin)
	mem1, n1, custom1 := memoryImage(t, out)
	if !bytes.Equal(mem0, mem1) {
		t.Error("the shrunk module initialises memory differently")
	}
	if n1 > n0/20 {
		t.Errorf("%d data segments, from %d: want at most 1/20", n1, n0)
	}
	if len(custom1) != 1 || custom1[0] != "name" {
		t.Errorf("custom sections %q (from %q), want only the name section", custom1, custom0)
	}
	if again := shrink(out); &again[0] != &out[0] {
		t.Error("shrinking a shrunk module rewrote it again")
	}
}

// module builds a module with one memory of one page, extra sections
// (id, contents) and a data section of segments (offset, bytes); flags
// is the first segment's flags byte.
func module(extra [][2]any, flags byte, segs ...[2]any) []byte {
	section := func(b []byte, id byte, body []byte) []byte {
		b = append(b, id)
		b = binary.AppendUvarint(b, uint64(len(body)))
		return append(b, body...)
	}
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = section(b, 5, []byte{1, 0, 1}) // one memory, min 1 page
	for _, e := range extra {
		b = section(b, e[0].(byte), e[1].([]byte))
	}
	data := binary.AppendUvarint(nil, uint64(len(segs)))
	for i, s := range segs {
		f := byte(0)
		if i == 0 {
			f = flags
		}
		data = append(data, f, 0x41)
		data = appendS32(data, int32(s[0].(int)))
		data = append(data, 0x0b)
		data = binary.AppendUvarint(data, uint64(len(s[1].([]byte))))
		data = append(data, s[1].([]byte)...)
	}
	return section(b, 11, data)
}

func TestShrinkMergesOnlyWhenSafe(t *testing.T) {
	seg := func(off int, s string) [2]any { return [2]any{off, []byte(s)} }
	buildID := [2]any{byte(0), append([]byte{byte(len("go:buildid"))}, "go:buildid x"...)}
	names := [2]any{byte(0), append([]byte{4}, "name\x00"...)}
	for _, tc := range []struct {
		name    string
		bin     []byte
		changed bool
		segs    int
	}{
		{"adjacent, out of order", module(nil, 0, seg(100, "cd"), seg(10, "ab"), seg(20, "x")), true, 2},
		{"far apart", module(nil, 0, seg(0, "a"), seg(1000, "b")), false, 2},
		{"overlapping", module(nil, 0, seg(0, "abc"), seg(2, "x")), false, 2},
		{"past the initial memory", module(nil, 0, seg(0, "a"), seg(pageSize-1, "bc")), false, 2},
		{"negative offset", module(nil, 0, seg(0, "a"), seg(-1, "b")), false, 2},
		{"passive segment", module(nil, 1, seg(0, "a"), seg(2, "b")), false, 2},
		{"data count section", module([][2]any{{byte(12), []byte{2}}}, 0, seg(0, "a"), seg(2, "b")), false, 2},
		{"custom section dropped", module([][2]any{buildID}, 0, seg(0, "a"), seg(1000, "b")), true, 2},
		{"name section kept", module([][2]any{names}, 0, seg(0, "a"), seg(1000, "b")), false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := shrink(tc.bin)
			if changed := !bytes.Equal(out, tc.bin); changed != tc.changed {
				t.Fatalf("rewritten: %v, want %v", changed, tc.changed)
			}
			if !tc.changed {
				return
			}
			mem0, _, _ := memoryImage(t, tc.bin)
			mem1, n, custom := memoryImage(t, out)
			if !bytes.Equal(mem0, mem1) {
				t.Error("memory initialised differently")
			}
			if n != tc.segs {
				t.Errorf("%d segments, want %d", n, tc.segs)
			}
			if len(custom) != 0 {
				t.Errorf("custom sections %q left", custom)
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm"), []byte("\x00asm\x01\x00\x00\x00\x0b\x05\x01"),
		// a custom section whose name runs past its end
		[]byte("\x00asm\x01\x00\x00\x00\x00\x02\x09a")} {
		if out := shrink(bad); !bytes.Equal(out, bad) {
			t.Errorf("shrink(%q) = %q, want it unchanged", bad, out)
		}
	}
}

// TestShrinkDropsTheWasm: once loaded, a plugin keeps no slice of the
// bytes it was compiled from. The runtime keeps every custom section it
// stores as such a slice, so this fails if shrink keeps one the runtime
// stores (go:buildid, producers).
func TestShrinkDropsTheWasm(t *testing.T) {
	e, err := NewEngine("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	p, err := e.Load(context.Background(), Spec{Name: "trim", Path: wasmtest.Plugin(t, "trim")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	for _, c := range p.tier.compiled.CustomSections() {
		t.Errorf("custom section %q kept (%d bytes)", c.Name(), len(c.Data()))
	}
}
