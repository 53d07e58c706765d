package wasm

// Benchmarks of the plugin boundary (docs/BENCHMARKS.md). Names follow
// the benchstat convention, with key=value parts; run them with
//
//	go test -run '^$' -bench . -count 10 ./internal/wasm/ | tee new.txt
//	benchstat old.txt new.txt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// benchPlugin loads a plugin for a benchmark, compiled through the cache
// that the package's tests share.
func benchPlugin(b *testing.B, name, path, config string) *Plugin {
	b.Helper()
	e, err := NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), nil)
	if err != nil {
		b.Fatal(err)
	}
	spec := Spec{Name: name, Path: path}
	if config != "" {
		spec.Config = []byte(config)
	}
	p, err := e.Load(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = p.Close(context.Background())
		_ = e.Close(context.Background())
	})
	return p
}

func benchCat(b *testing.B) *Plugin {
	return benchPlugin(b, "cat", wasmtest.Build(b, "testdata/cat"), "")
}

// BenchmarkCall is one call of an empty export (plugin_abi_version): the
// floor of crossing into a plugin.
func BenchmarkCall(b *testing.B) {
	p := benchCat(b)
	inst, err := p.acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer p.release(inst, false)
	fn := inst.mod.ExportedFunction("plugin_abi_version")
	ctx := inst.bind(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		if err := inst.invoke(ctx, export{"plugin_abi_version", fn}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkCall is the host's whole path for one tiny chunk through a
// pass-through plugin: copy into the plugin's buffer, plugin_chunk, the
// SDK's line split (output is batched in the plugin, so no emit here).
func BenchmarkChunkCall(b *testing.B) {
	p := benchCat(b)
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
}

// BenchmarkCheckout takes an instance from the pool and puts it back.
func BenchmarkCheckout(b *testing.B) {
	p := benchCat(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inst, err := p.acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.release(inst, false)
	}
}

// BenchmarkRunEmpty is the fixed cost of a file: Run of an empty input
// (checkout, plugin_begin, plugin_end, release) through 1 and 3 plugins.
func BenchmarkRunEmpty(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("plugins=%d", n), func(b *testing.B) {
			chain := make([]*Plugin, n)
			for i := range chain {
				chain[i] = benchCat(b)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Run(context.Background(), chain, "empty.txt", bytes.NewReader(nil), io.Discard, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRun is throughput: 4 MiB of text (and 4 KiB, a small file)
// through chains of pass-through plugins and of the example plugins. It
// also reports the largest plugin instance's linear memory afterwards
// (guest-MiB): Wasm memory only grows, so that is what a pooled instance
// keeps.
func BenchmarkRun(b *testing.B) {
	chains := []struct {
		name    string
		plugins []string
	}{
		{"cat", []string{"cat"}},
		{"cat-cat-cat", []string{"cat", "cat", "cat"}},
		{"trim", []string{"trim"}},
		{"upper", []string{"upper"}},
		{"redact", []string{"redact"}},
		{"trim-upper-redact", []string{"trim", "upper", "redact"}},
	}
	for _, size := range []int{4 << 10, 4 << 20} {
		in := wasmtest.LogText(size)
		for _, c := range chains {
			b.Run(fmt.Sprintf("chain=%s/size=%s", c.name, sizeName(size)), func(b *testing.B) {
				chain := make([]*Plugin, len(c.plugins))
				for i, name := range c.plugins {
					if name == "cat" {
						chain[i] = benchCat(b)
					} else {
						chain[i] = benchPlugin(b, name, wasmtest.Plugin(b, name), "")
					}
				}
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Run(context.Background(), chain, "in.txt", bytes.NewReader(in), io.Discard, Limits{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(guestMemory(chain))/(1<<20), "guest-MiB")
			})
		}
	}
}

// guestMemory returns the size of the largest idle instance's memory.
func guestMemory(chain []*Plugin) uint32 {
	var most uint32
	for _, p := range chain {
		p.mu.Lock()
		for _, inst := range p.idle {
			most = max(most, inst.mem.Size())
		}
		p.mu.Unlock()
	}
	return most
}

// BenchmarkLines is the SDK's per-line cost inside a plugin: 4 MiB of lines
// of one length through the pass-through plugin, reported per line.
func BenchmarkLines(b *testing.B) {
	const size = 4 << 20
	for _, n := range []int{16, 80, 1000} {
		b.Run(fmt.Sprintf("len=%d", n), func(b *testing.B) {
			p := benchCat(b)
			line := strings.Repeat("x", n-1) + "\n"
			in := []byte(strings.Repeat(line, size/n))
			lines := len(in) / n
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Run(context.Background(), []*Plugin{p}, "in.txt", bytes.NewReader(in), io.Discard, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
