package web

// Benchmarks for the dashboard's cost to the host:
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/web/
//
// BenchmarkProcessing is the measure: files through a real plugin
// with the tracker, as watch mode does, with 0 and 50 dashboards
// streaming events, in turns within one run. BenchmarkPublish is the worst case: nothing but
// tracker events, as fast as they can be made. BenchmarkDashboardPage
// renders the page over 100,000 files of history.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
)

// streamers keeps n event streams open against url, reconnecting like
// EventSource when dropped, until stop is called.
func streamers(b *testing.B, s *Server, url string, n int) (stop func() (reconnects int64)) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	var reconnects atomic.Int64
	for range n {
		wg.Go(func() {
			for first := true; ctx.Err() == nil; first = false {
				if !first {
					reconnects.Add(1)
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/events", nil)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	for s.hub.count() < n {
		time.Sleep(time.Millisecond)
	}
	return func() int64 {
		cancel()
		wg.Wait()
		return reconnects.Load()
	}
}

// benchSetup serves b's server for the benchmark and opens n streams.
func benchSetup(b *testing.B, fb *fakeBackend, n int) (stop func() int64) {
	s := New(fb, Options{Version: "bench"})
	ts := httptest.NewServer(s.Handler())
	b.Cleanup(func() {
		_ = s.Close()
		ts.Close()
	})
	if n == 0 {
		return func() int64 { return 0 }
	}
	return streamers(b, s, ts.URL, n)
}

func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name    string
		server  bool
		streams int
	}{{"no-server", false, 0}, {"streams=0", true, 0}, {"streams=50", true, 50}} {
		b.Run(tc.name, func(b *testing.B) {
			fb := newFakeBackend(b)
			stop := func() int64 { return 0 }
			if tc.server {
				stop = benchSetup(b, fb, tc.streams)
			}
			res := tracker.Result{BytesIn: 100, BytesOut: 100, Stages: []tracker.Stage{{Plugin: "upper", BytesIn: 100, BytesOut: 100, Duration: time.Millisecond}}}
			b.ResetTimer()
			for b.Loop() {
				id := fb.tr.Queue(fb.dir, "file.txt", 100)
				fb.tr.Start(id, "text", 100, 1)
				fb.tr.Progress(id, 50)
				fb.tr.Finish(id, res)
			}
			b.StopTimer()
			b.ReportMetric(float64(stop()), "reconnects")
		})
	}
}

// BenchmarkProcessing streams a 16 KiB file through the real "upper"
// plugin per op, with the tracker calls of watch mode and a worker per
// CPU, on two hosts side by side: one with no dashboard open, one with 50
// streaming events. They take turns in rounds of a few hundred files, with
// a pause between turns for the last batch to go out, so background load
// on the machine weighs on both alike. It reports each one's files/s and
// how much slower the one with dashboards is.
func BenchmarkProcessing(b *testing.B) {
	line := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
	input := bytes.Repeat(line, 16<<10/len(line))
	type host struct {
		fb      *fakeBackend
		stop    func() int64
		files   int
		elapsed time.Duration
	}
	var hosts [2]*host
	done := func(hs [2]*host) int { return hs[0].files + hs[1].files }
	for i, n := range []int{0, 50} {
		fb := newFakeBackend(b).withPlugin(b)
		hosts[i] = &host{fb: fb, stop: benchSetup(b, fb, n)}
	}
	chain := []*wasm.Plugin{testPlugin}
	process := func(fb *fakeBackend) error {
		size := int64(len(input))
		id := fb.tr.Queue(fb.dir, "file.txt", size)
		fb.tr.Start(id, "text", size, 1)
		fb.tr.Progress(id, size/2)
		stats, err := wasm.Run(context.Background(), chain, "file.txt", bytes.NewReader(input), io.Discard, wasm.Limits{})
		if err != nil {
			return err
		}
		fb.tr.Finish(id, tracker.Result{BytesIn: size, BytesOut: stats[0].BytesOut,
			Stages: []tracker.Stage{{Plugin: "upper", BytesIn: stats[0].BytesIn, BytesOut: stats[0].BytesOut, Duration: stats[0].Duration}}})
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	const round = 1000
	b.ResetTimer()
	for turn := 0; done(hosts) < b.N; turn++ {
		order := []*host{hosts[0], hosts[1]}
		if turn%2 == 1 { // Neither always goes first.
			order[0], order[1] = order[1], order[0]
		}
		for _, h := range order {
			n := min(round, b.N-done(hosts))
			if n <= 0 {
				break
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for range workers {
				wg.Go(func() {
					for next.Add(1) <= int64(n) {
						if err := process(h.fb); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			h.elapsed += time.Since(start)
			h.files += n
			b.StopTimer()
			time.Sleep(viewEvery + 50*time.Millisecond) // Let the last batch go out on its own time.
			b.StartTimer()
		}
	}
	b.StopTimer()
	rate := func(h *host) float64 { return float64(h.files) / h.elapsed.Seconds() }
	b.ReportMetric(rate(hosts[0]), "files/s-0")
	b.ReportMetric(rate(hosts[1]), "files/s-50")
	b.ReportMetric((rate(hosts[0])/rate(hosts[1])-1)*100, "%slower")
	b.ReportMetric(float64(hosts[0].stop()+hosts[1].stop()), "reconnects")
}

// BenchmarkDashboardPage renders the page, and its JSON, with 100,000
// finished files in history.
func BenchmarkDashboardPage(b *testing.B) {
	fb := newFakeBackend(b).withPlugin(b)
	fb.tr = tracker.New(100000)
	res := tracker.Result{Output: "/nowhere", BytesIn: 1000, BytesOut: 1000, Stages: []tracker.Stage{{Plugin: "upper", BytesIn: 1000, BytesOut: 1000, Duration: time.Millisecond}}}
	for i := range 100000 {
		id := fb.tr.Queue(fb.dir, fmt.Sprintf("file-%06d.txt", i), 1000)
		fb.tr.Start(id, "text", 1000, 1)
		r := res
		if i%100 == 0 {
			r.Err = fmt.Errorf("line %d: bad record", i)
			r.Plugin = "upper"
		}
		fb.tr.Finish(id, r)
	}
	for i := range 100 {
		fb.tr.Queue(fb.dir, fmt.Sprintf("waiting-%d.txt", i), 10)
	}
	s := New(fb, Options{Version: "bench"})
	b.Cleanup(func() { _ = s.Close() })
	for _, path := range []string{"/", "/api/dashboard", "/api/files?state=failed&offset=500&limit=50"} {
		b.Run(path, func(b *testing.B) {
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.Host = "127.0.0.1:5000"
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
