package web

// BenchmarkBurst is issue 12's measure: with 100,000 files in history, a
// 5,000-file burst at about 1,000 files a second while n dashboards
// stream events, it reports the page's render time during the burst, the
// event stream's bytes per second per dashboard, and the process's peak
// RSS. Run each case in a process of its own, so that peaks do not carry
// over:
//
//	go test -run '^$' -bench 'Burst/streams=0$' -benchtime 1x ./internal/web/
//	go test -run '^$' -bench 'Burst/streams=200$' -benchtime 1x ./internal/web/
//
// The dashboards are raw TCP clients in this process that read and count
// the stream (a goroutine and a 4 KiB buffer each), so the RSS includes
// them; the figure to read is the difference between the two cases.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filehost/host/internal/tracker"
)

// rssBytes reads the process's resident set size.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// rawStreams opens n event streams to addr, each counting what it reads.
func rawStreams(b *testing.B, addr string, n int, counted *atomic.Int64) (stop func()) {
	var conns []net.Conn
	var wg sync.WaitGroup
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "GET /api/events HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		conns = append(conns, c)
		wg.Go(func() {
			buf := make([]byte, 4096)
			for {
				k, err := c.Read(buf)
				counted.Add(int64(k))
				if err != nil {
					return
				}
			}
		})
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}
}

func BenchmarkBurst(b *testing.B) {
	for _, n := range []int{0, 200} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			fb := newFakeBackend(b)
			fb.tr = tracker.New(100000)
			res := tracker.Result{Output: "/nowhere", BytesIn: 1000, BytesOut: 1000, Stages: []tracker.Stage{{Plugin: "upper", BytesIn: 1000, BytesOut: 1000, Duration: time.Millisecond}}}
			for i := range 100000 {
				id := fb.tr.Queue(fb.dir, fmt.Sprintf("history-%06d.txt", i), 1000)
				fb.tr.Start(id, "text", 1000, 1)
				fb.tr.Finish(id, res)
			}
			s := New(fb, Options{Addr: "127.0.0.1:0", Version: "bench"})
			if err := s.Open(); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			addr := s.Addr()
			var streamed atomic.Int64
			stop := rawStreams(b, addr, n, &streamed)
			defer stop()
			for s.hub.count() < n {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(2 * time.Second) // connected and settled
			base := rssBytes()

			var renders, renderNanos atomic.Int64
			var peak atomic.Int64
			for b.Loop() {
				const files = 5000
				ids := make([]uint64, files)
				for i := range ids {
					ids[i] = fb.tr.Queue(fb.dir, fmt.Sprintf("burst-%04d.txt", i), 1000)
				}
				done := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() { // the page, rendered again and again by one client
					client := &http.Client{}
					for {
						select {
						case <-done:
							return
						default:
						}
						start := time.Now()
						resp, err := client.Get("http://" + addr + "/")
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = bufio.NewReader(resp.Body).WriteTo(discard{})
						resp.Body.Close()
						renders.Add(1)
						renderNanos.Add(int64(time.Since(start)))
					}
				})
				wg.Go(func() {
					for {
						select {
						case <-done:
							return
						case <-time.After(50 * time.Millisecond):
							peak.Store(max(peak.Load(), rssBytes()))
						}
					}
				})
				before := streamed.Load()
				start := time.Now()
				tick := time.NewTicker(time.Millisecond)
				for _, id := range ids { // at most 1,000 files a second
					<-tick.C
					fb.tr.Start(id, "text", 1000, 1)
					fb.tr.Progress(id, 500)
					fb.tr.Finish(id, res)
				}
				tick.Stop()
				elapsed := time.Since(start)
				close(done)
				wg.Wait()
				if n > 0 {
					b.ReportMetric(float64(streamed.Load()-before)/elapsed.Seconds()/float64(n), "SSE-B/s/dashboard")
				}
				b.ReportMetric(float64(files)/elapsed.Seconds(), "files/s")
			}
			if renders.Load() > 0 {
				b.ReportMetric(float64(renderNanos.Load())/float64(renders.Load())/1e6, "ms/render")
			}
			b.ReportMetric(float64(base)/(1<<20), "MiB-RSS-before")
			b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-RSS-peak")
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
