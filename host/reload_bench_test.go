package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/wasmtest"
)

// reloadProject writes a config whose one pipeline chains n plugins (all
// builds of upper under their own names) with a timeout of t seconds, so
// that changing t makes a reload load every plugin again (from the
// compilation cache, as after an edit of their settings).
func reloadConfig(b *testing.B, dir string, n, t int) {
	b.Helper()
	upper := wasmtest.Plugin(b, "upper")
	var names []string
	var plugins strings.Builder
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		names = append(names, strconv.Quote(name))
		fmt.Fprintf(&plugins, "[plugins.%s]\npath = %s\ntimeout = \"%ds\"\n", name, strconv.Quote(upper), t)
	}
	cfg := fmt.Sprintf("cache_dir = %s\n[[watch]]\ndir = %s\n[run]\nsettle = \"0s\"\nsync = false\n[dashboard]\nenabled = false\n[[pipeline]]\nname = \"text\"\nplugins = [%s]\n%s",
		strconv.Quote(filepath.Join(os.TempDir(), "wasmtest-cache")), strconv.Quote(filepath.Join(dir, "watch")), strings.Join(names, ", "), plugins.String())
	tmp := filepath.Join(dir, ".config.tmp")
	if err := os.WriteFile(tmp, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "config.toml")); err != nil {
		b.Fatal(err)
	}
}

func reloadService(b *testing.B, n int, watch bool) (*host.Service, string) {
	b.Helper()
	dir := b.TempDir()
	reloadConfig(b, dir, n, 60)
	cfg, err := host.LoadConfig(filepath.Join(dir, "config.toml"))
	if err != nil {
		b.Fatal(err)
	}
	h, err := host.New(context.Background(), cfg, host.Options{Instances: cfg.Workers()})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := host.NewService(h, host.ServiceOptions{NoConfigWatch: !watch})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; svc.Close(); h.Close() })
	for svc.Ready() != nil {
		time.Sleep(time.Millisecond)
	}
	return svc, dir
}

func dropFile(b *testing.B, dir, name string) {
	tmp := filepath.Join(dir, ".drop-"+name)
	if err := os.WriteFile(tmp, []byte("x\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "watch", "unprocessed", name)); err != nil {
		b.Fatal(err)
	}
}

func waitProcessed(svc *host.Service, n int64) {
	for svc.Tracker().Snapshot().Totals.Processed < n {
		time.Sleep(200 * time.Microsecond)
	}
}

// BenchmarkReload is the time from a saved config.toml to its pipeline
// taking files, with 1 and 10 plugins that all change: "call" starts at
// Service.Reload (SIGHUP, the dashboard), "saved" at the file's rename,
// with the host noticing it by itself (its quiet period included). "dip"
// reports files/s while 10 plugins reload against files/s without.
func BenchmarkReload(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("call/plugins=%d", n), func(b *testing.B) {
			svc, dir := reloadService(b, n, false)
			var files int64
			for i := 0; b.Loop(); i++ {
				reloadConfig(b, dir, n, 61+i%2)
				if err := svc.Reload(context.Background()); err != nil {
					b.Fatal(err)
				}
				files++
				dropFile(b, dir, fmt.Sprintf("f%d", files))
				waitProcessed(svc, files)
			}
		})
		b.Run(fmt.Sprintf("saved/plugins=%d", n), func(b *testing.B) {
			svc, dir := reloadService(b, n, true)
			var files int64
			for i := 0; b.Loop(); i++ {
				gen := svc.ReloadStatus().Generation
				reloadConfig(b, dir, n, 61+i%2)
				for svc.ReloadStatus().Generation == gen {
					time.Sleep(time.Millisecond)
				}
				files++
				dropFile(b, dir, fmt.Sprintf("f%d", files))
				waitProcessed(svc, files)
			}
		})
	}
	b.Run("dip/plugins=10", func(b *testing.B) {
		svc, dir := reloadService(b, 10, false)
		var dropped atomic.Int64
		stop := make(chan struct{})
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				for dropped.Load()-svc.Tracker().Snapshot().Totals.Processed > 64 {
					time.Sleep(100 * time.Microsecond) // keep the queue short
				}
				dropFile(b, dir, fmt.Sprintf("d%d", i))
				dropped.Add(1)
			}
		}()
		defer close(stop)
		rate := func(d time.Duration, during func()) float64 {
			before, t0 := svc.Tracker().Snapshot().Totals.Processed, time.Now()
			if during != nil {
				during()
			} else {
				time.Sleep(d)
			}
			return float64(svc.Tracker().Snapshot().Totals.Processed-before) / time.Since(t0).Seconds()
		}
		var base, dip float64
		for i := 0; b.Loop(); i++ {
			base += rate(300*time.Millisecond, nil)
			dip += rate(0, func() {
				reloadConfig(b, dir, 10, 61+i%2)
				if err := svc.Reload(context.Background()); err != nil {
					b.Fatal(err)
				}
			})
		}
		b.ReportMetric(base/float64(b.N), "files/s-steady")
		b.ReportMetric(dip/float64(b.N), "files/s-reloading")
		b.ReportMetric(dip/base, "ratio")
	})
}
