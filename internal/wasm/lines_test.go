package wasm

import (
	"bytes"
	"strings"
	"testing"
)

// lines passes a write of whole lines of half a chunk or more on as it is,
// with no copy, and gathers smaller ones (a plugin that keeps few lines)
// into chunks; either way every chunk is whole lines of at most ChunkSize.
func TestLinesPassThrough(t *testing.T) {
	const size = 1 << 10
	var sent [][]byte
	var copied []bool
	var in []byte
	c := lines{lim: Limits{ChunkSize: size, MaxLine: size}, send: func(b []byte) error {
		sent = append(sent, append([]byte(nil), b...))
		copied = append(copied, len(in) == 0 || &b[0] != &in[0])
		return nil
	}}
	write := func(s string) {
		t.Helper()
		in = []byte(s)
		if _, err := c.Write(in); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("abcdefg\n", size/2/8) // half a chunk, whole lines
	write(big)
	if len(sent) != 1 || copied[0] || string(sent[0]) != big {
		t.Fatalf("half a chunk of whole lines: sent %d chunks, copied %v", len(sent), copied)
	}
	for range 3 {
		write("kept\n") // small: gathered
	}
	if len(sent) != 1 {
		t.Fatalf("small writes were sent at once: %d chunks", len(sent))
	}
	write(big) // pending is not empty: gathered behind it, in order
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for i, b := range sent {
		if len(b) > size || b[len(b)-1] != '\n' {
			t.Errorf("chunk %d: %d bytes, ends %q", i, len(b), b[len(b)-1:])
		}
		all = append(all, b...)
	}
	if want := big + strings.Repeat("kept\n", 3) + big; !bytes.Equal(all, []byte(want)) {
		t.Errorf("sent %q\nwant %q", all, want)
	}
	write(big[:len(big)-1]) // no terminator: gathered until the flush
	if len(sent) != 2 {
		t.Errorf("a write ending mid-line was sent at once")
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 3 || !copied[2] || string(sent[2]) != big[:len(big)-1] {
		t.Errorf("the flush sent %d chunks", len(sent))
	}
}
