package wasm

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
)

// The runtime keeps a plugin's decoded module for as long as the plugin is
// loaded, to make instances from; shrink makes two parts of it smaller
// (BenchmarkPluginMemory) without asking anything of the plugin's build.

// mergeGap is the longest run of zero bytes between two data segments that
// mergeData fills in to merge them: a segment costs the runtime about 60
// bytes of bookkeeping (and one copy per instance), a filled-in gap its
// length.
const mergeGap = 64

// shrink returns bin rewritten to cost the runtime less memory for as long
// as the plugin is loaded, or bin itself when there is nothing to gain or
// bin is not a module it can read (the runtime then reports why). The
// rewritten module behaves the same:
//   - Custom sections other than the name section (function names in
//     stack traces), DWARF (.debug_*, source lines in stack traces) and
//     branch hints are left out: the runtime keeps every custom section as
//     a slice of the bytes it compiled, which keeps all of them (2-3 MB for
//     a Go plugin, whose go:buildid and producers sections no one reads)
//     on the heap.
//   - Runs of adjacent data segments are merged (mergeData).
func shrink(bin []byte) []byte {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return bin
	}
	type section struct {
		id         byte
		start, end int // the whole section, header included
		body       []byte
	}
	var sections []section
	dropped := false
	dataCount := false
	memSize := uint64(0) // the initial size of the module's own memory
	data := -1           // the data section's index in sections
	r := &reader{b: bin, off: 8}
	for r.off < len(bin) {
		at := r.off
		id := r.byte()
		size := int(r.u32())
		if r.err != nil || size > len(bin)-r.off {
			return bin
		}
		body := bin[r.off : r.off+size]
		r.off += size
		switch id {
		case 0:
			nr := &reader{b: body}
			name := nr.name()
			if nr.err != nil {
				return bin // malformed: the runtime says so
			}
			if name != "name" && name != "metadata.code.branch_hint" && !strings.HasPrefix(name, ".debug_") {
				dropped = true
				continue
			}
		case 5:
			m := &reader{b: body}
			if m.u32() == 1 && m.byte() <= 1 { // one memory, not shared nor 64-bit
				memSize = uint64(m.u32()) * pageSize
			}
			if m.err != nil {
				memSize = 0
			}
		case 11:
			data = len(sections)
		case 12:
			dataCount = true
		}
		sections = append(sections, section{id, at, r.off, body})
	}
	var merged []byte
	if data >= 0 && !dataCount {
		merged = mergeData(sections[data].body, memSize)
	}
	if !dropped && merged == nil {
		return bin
	}
	out := make([]byte, 0, len(bin)+len(merged))
	out = append(out, bin[:8]...)
	for i, s := range sections {
		if i == data && merged != nil {
			out = append(out, 11)
			out = binary.AppendUvarint(out, uint64(len(merged)))
			out = append(out, merged...)
			continue
		}
		out = append(out, bin[s.start:s.end]...)
	}
	return out
}

// mergeData returns the contents of a data section with runs of adjacent
// segments merged into one, or nil when it cannot be sure that the merge
// changes nothing. Go's linker writes a segment for every run of non-zero
// bytes: ~24,000-30,000 segments in a 2-3 MB plugin, which the runtime
// decodes into one struct each, 2.5 MiB of Go heap per loaded plugin
// against the ~1 MiB of data they hold. The merged segments initialise
// memory to the same bytes: segments are merged only when every one is an
// active segment of the module's own memory (memSize bytes at first) at a
// constant offset, no two overlap (so the order they are written in does
// not matter, and a gap's bytes are the fresh memory's zeros) and all fit
// in memSize (so neither module can fail to instantiate). The caller
// checks that the module has no data count section: without one, no
// instruction can name a segment by index.
func mergeData(data []byte, memSize uint64) []byte {
	type segment struct {
		offset uint32
		bytes  []byte
	}
	d := &reader{b: data}
	n := d.u32()
	if d.err != nil || uint64(n) > uint64(len(data)) {
		return nil
	}
	segs := make([]segment, 0, n)
	for range n {
		// Only the MVP's form: flags 0, (i32.const OFFSET) end, bytes.
		if d.byte() != 0 || d.byte() != 0x41 {
			return nil
		}
		off := uint32(d.s32())
		if d.byte() != 0x0b {
			return nil
		}
		size := int(d.u32())
		if d.err != nil || size > len(data)-d.off || uint64(off)+uint64(size) > memSize {
			return nil
		}
		segs = append(segs, segment{off, data[d.off : d.off+size]})
		d.off += size
	}
	if d.err != nil || d.off != len(data) {
		return nil
	}
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.offset, b.offset) })
	for i := 1; i < len(segs); i++ {
		if uint64(segs[i].offset) < uint64(segs[i-1].offset)+uint64(len(segs[i-1].bytes)) {
			return nil
		}
	}
	// Runs of segments to merge, segs[from:to], and the bytes each spans.
	type run struct {
		from, to int
		size     uint64
	}
	var runs []run
	total := binary.MaxVarintLen32
	for i := 0; i < len(segs); {
		j, end := i+1, uint64(segs[i].offset)+uint64(len(segs[i].bytes))
		for j < len(segs) && uint64(segs[j].offset)-end <= mergeGap {
			end = uint64(segs[j].offset) + uint64(len(segs[j].bytes))
			j++
		}
		r := run{i, j, end - uint64(segs[i].offset)}
		runs = append(runs, r)
		total += 3 + 2*binary.MaxVarintLen32 + int(r.size)
		i = j
	}
	if len(runs) == len(segs) {
		return nil
	}
	// Written in place into one zeroed buffer: the gaps stay zero.
	out := make([]byte, 0, total)
	out = binary.AppendUvarint(out, uint64(len(runs)))
	for _, r := range runs {
		first := segs[r.from].offset
		out = append(out, 0, 0x41)
		out = appendS32(out, int32(first))
		out = append(out, 0x0b)
		out = binary.AppendUvarint(out, r.size)
		at := len(out)
		out = out[:at+int(r.size)]
		for _, s := range segs[r.from:r.to] {
			copy(out[at+int(s.offset-first):], s.bytes)
		}
	}
	return out
}

var errIntTooLarge = errors.New("integer too large")

// s32 reads a signed LEB128 32-bit integer (i32.const's immediate).
func (r *reader) s32() int32 {
	var v int64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift < 57 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			if v != int64(int32(v)) {
				r.err = errIntTooLarge
			}
			return int32(v)
		}
	}
	if r.err == nil {
		r.err = errIntTooLarge
	}
	return 0
}

// appendS32 appends v as a signed LEB128 number.
func appendS32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
