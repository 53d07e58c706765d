package wasm

// Benchmarks of containment (docs/BENCHMARKS.md, docs/RATIONALE.md "How is
// a plugin stopped?"). Run them with
//
//	nice go test -run '^$' -bench 'Limits|LoopRecovery|Emit2GiB' -benchtime 5x ./internal/wasm/

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasmtest"
)

// exampleChain loads trim, upper and grep (dropping WARN lines), the
// chain of the measurement, with spec's limits.
func exampleChain(b *testing.B, spec Spec) []*Plugin {
	b.Helper()
	e, err := NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), nil)
	if err != nil {
		b.Fatal(err)
	}
	var chain []*Plugin
	for _, name := range []string{"trim", "upper", "grep"} {
		s := spec
		s.Name, s.Path = name, wasmtest.Plugin(b, name)
		if name == "grep" {
			s.Config = []byte(`{"ignore_case":true,"invert":true,"pattern":"WARN"}`)
		}
		p, err := e.Load(context.Background(), s)
		if err != nil {
			b.Fatal(err)
		}
		chain = append(chain, p)
	}
	b.Cleanup(func() {
		for _, p := range chain {
			_ = p.Close(context.Background())
		}
		_ = e.Close(context.Background())
	})
	return chain
}

// BenchmarkLimits is the example chain over 16 MiB with the default limits
// and with every limit off, in turn in each iteration (each first every
// other time) so that both meet the same machine load: on-MB/s, off-MB/s
// and their ratio, on/off (time with limits over time without; the
// issue's bar is 1.25).
func BenchmarkLimits(b *testing.B) {
	in := wasmtest.LogText(16 << 20)
	off := Spec{CallTimeout: NoLimit, MaxOutput: ^uint64(0), LogRate: NoLimit, MaxLogMessage: NoLimit, MaxTable: 1<<32 - 2}
	on := exampleChain(b, Spec{})
	offChain := exampleChain(b, off)
	for _, p := range offChain {
		p.budget = nil // no memory budget
	}
	var tOn, tOff time.Duration
	type run struct {
		chain []*Plugin
		t     *time.Duration
	}
	order := []run{{on, &tOn}, {offChain, &tOff}}
	for b.Loop() {
		order[0], order[1] = order[1], order[0] // Neither always goes first.
		for _, c := range order {
			start := time.Now()
			if _, err := Run(context.Background(), c.chain, "in.txt", bytes.NewReader(in), io.Discard, Limits{}); err != nil {
				b.Fatal(err)
			}
			*c.t += time.Since(start)
		}
	}
	mb := float64(len(in)) * float64(b.N) / 1e6
	b.ReportMetric(mb/tOn.Seconds(), "on-MB/s")
	b.ReportMetric(mb/tOff.Seconds(), "off-MB/s")
	b.ReportMetric(tOn.Seconds()/tOff.Seconds(), "on/off")
}

// BenchmarkLoopRecovery is a plugin looping in plugin_chunk (the faulty
// test plugin's "loop" line) under a 100 ms call timeout: stop-ms is how
// long after the limit the file has failed and its worker is free, and
// next-ms how long the next file then takes, a fresh instance included.
func BenchmarkLoopRecovery(b *testing.B) {
	const limit = 100 * time.Millisecond
	p := benchPlugin(b, "faulty", wasmtest.Build(b, "testdata/faulty"), "")
	p.spec.CallTimeout = limit
	var stop, next time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := Run(context.Background(), []*Plugin{p}, "loop.txt", strings.NewReader("loop\n"), io.Discard, Limits{}); err == nil {
			b.Fatal("the loop passed")
		}
		failed := time.Now()
		stop += failed.Sub(start) - limit
		if _, err := Run(context.Background(), []*Plugin{p}, "next.txt", strings.NewReader("ok\n"), io.Discard, Limits{}); err != nil {
			b.Fatal(err)
		}
		next += time.Since(failed)
	}
	b.ReportMetric(float64(stop.Microseconds())/1e3/float64(b.N), "stop-ms")
	b.ReportMetric(float64(next.Microseconds())/1e3/float64(b.N), "next-ms")
}

// BenchmarkEmit2GiB is one call emitting 2 GiB for a one-line input,
// written to io.Discard: rss-MiB is the host's peak resident memory
// during the call above what it was before (sampled every 5 ms).
func BenchmarkEmit2GiB(b *testing.B) {
	p := benchPlugin(b, "emit_2gib", wasmtest.Hostile(b, "emit_2gib"), "")
	var peak atomic.Int64
	for b.Loop() {
		before := rss(b)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
					if r := rss(b) - before; r > peak.Load() {
						peak.Store(r)
					}
				}
			}
		}()
		_, err := Run(context.Background(), []*Plugin{p}, "in.txt", strings.NewReader("!\n"), io.Discard, Limits{})
		close(done)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(2 << 30)
	b.ReportMetric(float64(peak.Load())/(1<<20), "rss-MiB")
}

// rss is the process's resident set size in bytes (Linux).
func rss(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
