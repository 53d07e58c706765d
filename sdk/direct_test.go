//go:build !wasip1

package sdk

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// Map and Filter handlers take chunkDirect; its output must be what the
// general path, the same handler written with Lines, gives.
func TestChunkDirectMatchesGeneral(t *testing.T) {
	bang := func(line []byte) []byte { return append(append([]byte(nil), line...), '!') }
	even := func(line []byte) bool { return len(line)%2 == 0 }
	direct := map[string]func(){
		"map":    func() { Map(bang) },
		"filter": func() { Filter(even) },
	}
	general := map[string]func(){
		"map": func() {
			Lines(func(line []byte, emit func([]byte)) error { emit(bang(line)); return nil })
		},
		"filter": func() {
			Lines(func(line []byte, emit func([]byte)) error {
				if even(line) {
					emit(line)
				}
				return nil
			})
		},
	}
	inputs := []string{"", "a", "a\n", "a\r\nb\n\nc", "\r\n\r\n", "x\ry\n", "last\r", "\n", "ab\r\ncd\ne"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b strings.Builder
		for range r.IntN(20) {
			b.WriteString(strings.Repeat("xy", r.IntN(4)) + []string{"", "z", "\r"}[r.IntN(3)])
			b.WriteString([]string{"\n", "\r\n"}[r.IntN(2)])
		}
		if r.IntN(2) == 0 {
			b.WriteString("tail")
		}
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		chunks := wholeLineChunks([]byte(in), r)
		for name := range direct {
			want := drive(t, general[name], chunks)
			if got := drive(t, direct[name], chunks); got != want {
				t.Errorf("%s of %q: got %q, want %q", name, in, got, want)
			}
		}
	}
}

// wholeLineChunks cuts data into chunks of whole lines, as the host does.
func wholeLineChunks(data []byte, r *rand.Rand) [][]byte {
	var chunks [][]byte
	for len(data) > 0 {
		end := 0
		for n := 1 + r.IntN(3); n > 0 && end < len(data); n-- {
			if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
				end += i + 1
			} else {
				end = len(data)
			}
		}
		chunks, data = append(chunks, data[:end]), data[end:]
	}
	return chunks
}

// drive registers a handler and runs chunks through it as one file.
func drive(t *testing.T, register func(), chunks [][]byte) string {
	t.Helper()
	register()
	var out bytes.Buffer
	prev := setSink(&runSink{w: &out})
	defer setSink(prev)
	if err := p.doConfigure(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.begin("in.txt"); err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if err := p.chunk(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.end(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
