//go:build !wasip1

package sdk

// Benchmarks of the SDK's per-line cost on the native platform
// (docs/BENCHMARKS.md). The same code runs inside plugins, compiled to
// Wasm, where internal/wasm's BenchmarkLines measures it.

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

const benchSize = 4 << 20

func benchLines(n int) []byte {
	return []byte(strings.Repeat(strings.Repeat("x", n-1)+"\n", benchSize/n))
}

// BenchmarkRun drives a pass-through handler with Run, which reads one
// line at a time: the cost of a plugin's unit tests, not of the host.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{16, 80, 1000} {
		b.Run(fmt.Sprintf("len=%d", n), func(b *testing.B) {
			Map(func(line []byte) []byte { return line })
			in := benchLines(n)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Run(bytes.NewReader(in), io.Discard, "in.txt", ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(in)/n), "ns/line")
		})
	}
}

// BenchmarkChunk is what a plugin does per plugin_chunk call: split a
// 64 KiB chunk into lines, call the handler, batch the output. handler
// says which: a pass-through Map, a Filter dropping every line, a Lines
// handler emitting each line twice.
func BenchmarkChunk(b *testing.B) {
	handlers := []struct {
		name     string
		register func()
	}{
		{"map", func() { Map(func(line []byte) []byte { return line }) }},
		{"filter", func() { Filter(func([]byte) bool { return false }) }},
		{"lines-x2", func() {
			Lines(func(line []byte, emit func([]byte)) error { emit(line); emit(line); return nil })
		}},
	}
	for _, h := range handlers {
		for _, n := range []int{16, 80, 1000} {
			b.Run(fmt.Sprintf("handler=%s/len=%d", h.name, n), func(b *testing.B) {
				h.register()
				if err := p.begin("in.txt"); err != nil {
					b.Fatal(err)
				}
				line := strings.Repeat("x", n-1) + "\n"
				chunk := []byte(strings.Repeat(line, (64<<10)/n))
				b.SetBytes(int64(len(chunk)))
				b.ReportAllocs()
				for b.Loop() {
					if err := p.chunk(chunk); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if err := p.end(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(chunk)/n), "ns/line")
			})
		}
	}
}
