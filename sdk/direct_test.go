//go:build !wasip1

package sdk

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// Map and Filter handlers take chunkDirect, which builds the output in
// place in the chunk; its output must be what the general path, the same
// handler written with Lines, gives, whether results keep their line,
// change it in place, shrink it (as trim does), grow it (which sends the
// rest of the chunk to pl.out) or a mix of these.
func TestChunkDirectMatchesGeneral(t *testing.T) {
	maps := map[string]func([]byte) []byte{
		"same": func(line []byte) []byte { return line },
		"bang": func(line []byte) []byte { return append(append([]byte(nil), line...), '!') },
		"grow": func(line []byte) []byte { return append(line, "!!"...) }, // appends to line itself
		"trim": bytes.TrimSpace,
		"in place": func(line []byte) []byte {
			for i, c := range line {
				if c == 'x' {
					line[i] = 'X'
				}
			}
			return line
		},
		"mixed": func(line []byte) []byte {
			switch len(line) % 3 {
			case 0:
				return append([]byte("<<"), line...)
			case 1:
				return bytes.TrimSpace(line)
			}
			return []byte("x")
		},
	}
	filters := map[string]func([]byte) bool{
		"even": func(line []byte) bool { return len(line)%2 == 0 },
		"all":  func([]byte) bool { return true },
		"none": func([]byte) bool { return false },
	}
	direct, general := map[string]func(){}, map[string]func(){}
	for name, fn := range maps {
		direct["map "+name] = func() { Map(fn) }
		general["map "+name] = func() {
			Lines(func(line []byte, emit func([]byte)) error { emit(fn(line)); return nil })
		}
	}
	for name, keep := range filters {
		direct["filter "+name] = func() { Filter(keep) }
		general["filter "+name] = func() {
			Lines(func(line []byte, emit func([]byte)) error {
				if keep(line) {
					emit(line)
				}
				return nil
			})
		}
	}
	inputs := []string{"", "a", "a\n", "a\r\nb\n\nc", "\r\n\r\n", "x\ry\n", "last\r", "\n", "ab\r\ncd\ne"}
	// More lines than chunkDirect finds with one call.
	inputs = append(inputs, strings.Repeat("a\n \r\n", lineBatch), strings.Repeat(" xy\n\n", lineBatch)+"tail", strings.Repeat("\n", lineBatch+1))
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b strings.Builder
		for range r.IntN(20) {
			b.WriteString([]string{"", " ", "\t "}[r.IntN(3)] + strings.Repeat("xy", r.IntN(4)) + []string{"", "z", "\r", " "}[r.IntN(4)])
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
		// A copy, as the host writes each chunk afresh: a handler may
		// change the buffer in place.
		if err := p.chunk(bytes.Clone(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.end(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
