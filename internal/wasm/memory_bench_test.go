package wasm

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// BenchmarkPluginMemory is where a loaded Go plugin's memory goes, warm
// (compiled code from the cache), per plugin, over 4 different plugins:
//
//	nice go test -run '^$' -bench PluginMemory -benchtime 1x ./internal/wasm/
//
// rss-MiB is the process's resident memory added; heap-MiB the Go heap
// in use added (the runtime's module and engine structures); guest-MiB the
// linear memory of the plugins' idle instances; code-MiB the rest of the
// RSS, mostly the compiled machine code mapped from the cache.
func BenchmarkPluginMemory(b *testing.B) {
	names := []string{"trim", "upper", "lower", "snake_case"}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = wasmtest.Plugin(b, n)
	}
	cache := filepath.Join(os.TempDir(), "wasmtest-cache")
	for _, phase := range []string{"loaded", "after-file"} {
		b.Run("state="+phase, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				e, err := NewEngine(cache, nil)
				if err != nil {
					b.Fatal(err)
				}
				rss0, heap0 := memNow()
				b.StartTimer()
				chain := make([]*Plugin, len(names))
				for i := range names {
					if chain[i], err = e.Load(context.Background(), Spec{Name: names[i], Path: paths[i]}); err != nil {
						b.Fatal(err)
					}
				}
				if phase == "after-file" {
					in := wasmtest.LogText(4 << 20)
					if _, err := Run(context.Background(), chain, "f.log", bytes.NewReader(in), io.Discard, Limits{Workers: 1}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				rss1, heap1 := memNow()
				var guest uint64
				for _, p := range chain {
					p.mu.Lock()
					for _, inst := range p.idle {
						guest += uint64(inst.mem.Size())
					}
					p.mu.Unlock()
				}
				n := float64(len(names)) * (1 << 20)
				rss, heap := float64(rss1-rss0)/n, float64(heap1-heap0)/n
				b.ReportMetric(rss, "rss-MiB/plugin")
				b.ReportMetric(heap, "heap-MiB/plugin")
				b.ReportMetric(float64(guest)/n, "guest-MiB/plugin")
				b.ReportMetric(rss-heap-float64(guest)/n, "code-MiB/plugin")
				for _, p := range chain {
					_ = p.Close(context.Background())
				}
				_ = e.Close(context.Background())
				b.StartTimer()
			}
		})
	}
}

// memNow returns the resident set and the Go heap in use, after a full
// collection that returns freed memory to the system.
func memNow() (rss, heap uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return rss, ms.HeapInuse
}
