package host_test

// Benchmarks of a file through the host, in process (docs/BENCHMARKS.md):
// Host.Process is the plugin chain alone; Host.ProcessFile adds the folder
// protocol (claim, commit, remove) with fsync; Service is watch mode.
// cmd/bench measures the same through the real binary.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/wasmtest"
)

var benchChain = []string{"trim", "upper", "redact"}

// benchHost loads a host whose pipeline "text" is the 3-plugin chain, with
// its watch folder in a temporary directory, which it returns; settle is
// 0s as files are dropped by rename, and the pool covers every worker.
func benchHost(b *testing.B, sync bool) (*host.Host, string) {
	b.Helper()
	dir := b.TempDir()
	cfg := fmt.Sprintf("cache_dir = %s\n\n[[watch]]\ndir = %s\n\n[[pipeline]]\nname = \"text\"\nplugins = [%q, %q, %q]\n\n[run]\nsettle = \"0s\"\nsync = %t\n\n[dashboard]\nenabled = false\n\n",
		strconv.Quote(filepath.Join(os.TempDir(), "wasmtest-cache")), strconv.Quote(filepath.Join(dir, "watch")),
		benchChain[0], benchChain[1], benchChain[2], sync)
	for _, name := range benchChain {
		cfg += fmt.Sprintf("[plugins.%s]\npath = %s\n\n", name, strconv.Quote(wasmtest.Plugin(b, name)))
	}
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := host.LoadConfig(file)
	if err != nil {
		b.Fatal(err)
	}
	h, err := host.New(context.Background(), c, host.Options{Instances: c.Workers()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h, filepath.Join(dir, "watch")
}

// BenchmarkProcess is Host.Process through the chain trim, upper, redact,
// for a small file and a large one.
func BenchmarkProcess(b *testing.B) {
	h, _ := benchHost(b, false)
	for _, size := range []int{4 << 10, 4 << 20} {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			in := wasmtest.LogText(size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Process(context.Background(), "text", "in.txt", bytes.NewReader(in), io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProcessFile is one 4 KiB file through the folder protocol and
// the chain, as host --input does it. That mode always fsyncs (run.sync
// applies to watch mode only), so next to BenchmarkProcess this is the
// cost of the protocol's one file and three folder fsyncs.
func BenchmarkProcessFile(b *testing.B) {
	h, watch := benchHost(b, true)
	in := wasmtest.LogText(4 << 10)
	unprocessed := filepath.Join(watch, "unprocessed")
	if err := os.MkdirAll(unprocessed, 0o755); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		path := filepath.Join(unprocessed, fmt.Sprintf("f%08d.txt", i))
		if err := os.WriteFile(path, in, 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		out, _, err := h.ProcessFile(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.Remove(out); err != nil { // keep processed/ small
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkService is watch mode in process: bursts of 1,000 files of
// 4 KiB renamed into unprocessed/, each waited for until all are in
// processed/. It reports files/s; with -cpuprofile it shows where watch
// mode spends its time (the plugins' code shows as runtime._ExternalCode).
func BenchmarkService(b *testing.B) {
	const burst = 1000
	for _, sync := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%t", sync), func(b *testing.B) {
			h, watch := benchHost(b, sync)
			svc, err := host.NewService(h, host.ServiceOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			go func() { stopped <- svc.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-stopped; err != nil {
					b.Error(err)
				}
			}()
			for svc.Ready() != nil {
				time.Sleep(time.Millisecond)
			}
			stage := b.TempDir()
			in := wasmtest.LogText(4 << 10)
			unprocessed := filepath.Join(watch, "unprocessed")
			processed := filepath.Join(watch, "processed")
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				names := make([]string, burst)
				for i := range names {
					names[i] = fmt.Sprintf("f%06d.txt", i)
					if err := os.WriteFile(filepath.Join(stage, names[i]), in, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				for _, name := range names {
					if err := os.Rename(filepath.Join(stage, name), filepath.Join(unprocessed, name)); err != nil {
						b.Fatal(err)
					}
				}
				for countFiles(b, processed) < burst {
					time.Sleep(2 * time.Millisecond)
				}
				b.StopTimer()
				// Emptied, not made again: a new processed/ would cost
				// each burst a reopen of the folder (docs/FOLDERS.md).
				ents, err := os.ReadDir(processed)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range ents {
					if err := os.Remove(filepath.Join(processed, e.Name())); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(burst*b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

func countFiles(b *testing.B, dir string) int {
	names, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range names {
		if e.Name()[0] != '.' {
			n++
		}
	}
	return n
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
