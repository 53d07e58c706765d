package wasm

import (
	"context"
	"io"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// BenchmarkChunkCallLang is BenchmarkChunkCall for a pass-through plugin in
// each language: the Go SDK's (which splits lines and batches output), the
// C SDK's (the same work in C) and the WebAssembly text one (one emit per
// chunk, no SDK): what a boundary crossing costs with each.
func BenchmarkChunkCallLang(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"go", wasmtest.Build(b, "testdata/cat")},
		{"c", wasmtest.BuildCFile(b, "testdata/cat.c")},
		{"wat", wasmtest.BuildWat(b, "cat")},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := benchPlugin(b, "cat-"+c.name, c.path, "")
			s := &stage{p: p, next: io.Discard, in: lines{lim: DefaultLimits}, stats: &StageStats{}}
			if err := s.start(context.Background(), "bench.txt"); err != nil {
				b.Fatal(err)
			}
			defer s.release()
			chunk := []byte("x\n")
			b.ReportAllocs()
			for b.Loop() {
				if err := s.chunk(chunk); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := s.finish(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
