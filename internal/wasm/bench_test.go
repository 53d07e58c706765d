package wasm

// Benchmarks of the plugin boundary (docs/BENCHMARKS.md). Names follow
// the benchstat convention, with key=value parts; run them with
//
//	go test -run '^$' -bench . -count 10 ./internal/wasm/ | tee new.txt
//	benchstat old.txt new.txt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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

// BenchmarkLargeChain is the big-file case of docs/BENCHMARKS.md: a log
// through trim, upper and grep (drop WARN), by the host with one instance
// per plugin (workers=1), with stateless plugins on every core
// (workers=N), and by a single-threaded native Go program doing the same
// work per line, the fair ceiling; compare their MB/s in one run:
//
//	LARGE=256 nice go test -run '^$' -bench LargeChain -benchtime 1x ./internal/wasm/
//
// LARGE is the size in MiB (default 16).
func BenchmarkLargeChain(b *testing.B) {
	size := 16 << 20
	if s := os.Getenv("LARGE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("LARGE=%q: %v", s, err)
		}
		size = n << 20
	}
	in := wasmtest.LogText(size)
	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		cpu := cpuTime()
		for b.Loop() {
			if err := nativeChain(bytes.NewReader(in), io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	chain := []*Plugin{
		benchPlugin(b, "trim", wasmtest.Plugin(b, "trim"), ""),
		benchPlugin(b, "upper", wasmtest.Plugin(b, "upper"), ""),
		benchPlugin(b, "grep", wasmtest.Plugin(b, "grep"), `{"pattern":"WARN","invert":true}`),
	}
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("host/workers=%d", workers), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			cpu := cpuTime()
			for b.Loop() {
				if _, err := Run(context.Background(), chain, "big.log", bytes.NewReader(in), io.Discard, Limits{Workers: workers}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// reportCPU reports the process's CPU time (user and system) per op since
// from, and the cores it kept busy on average: on a shared machine the
// wall-clock MB/s depends on what else runs, the CPU cost much less.
func reportCPU(b *testing.B, from time.Duration) {
	cpu := cpuTime() - from
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
}

// nativeChain is trim, upper and grep -v WARN in plain Go, one line at a
// time on one goroutine, with the plugins' libraries (bytes, regexp).
func nativeChain(r io.Reader, w io.Writer) error {
	re := regexp.MustCompile("WARN")
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	out := bufio.NewWriterSize(w, 64<<10)
	for sc.Scan() {
		line := bytes.ToUpper(bytes.TrimSpace(sc.Bytes()))
		if re.Match(line) {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return out.Flush()
}
