package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/tracker"
)

func TestReportAndOriginal(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	id := b.failed(t, "bad.csv", "line 3: <b>quote</b>")
	ok := b.processed(t, "good.txt", "x")

	resp := ts.do(t, "GET", fmt.Sprintf("/api/files/%d/report", id), "")
	wantStatus(t, resp, 200)
	if body := readBody(t, resp); !strings.Contains(body, "line 3") || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("report %q (%s)", body, resp.Header.Get("Content-Type"))
	}
	resp = ts.do(t, "GET", fmt.Sprintf("/api/files/%d/report?view=1", id), "")
	wantStatus(t, resp, 200)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("viewed report: CSP %q, type %q", csp, resp.Header.Get("Content-Type"))
	}
	resp = ts.do(t, "GET", fmt.Sprintf("/api/files/%d/original", id), "")
	wantStatus(t, resp, 200)
	if body := readBody(t, resp); body != "original of bad.csv" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("original %q, %s", body, resp.Header.Get("Content-Disposition"))
	}
	wantStatus(t, ts.do(t, "GET", fmt.Sprintf("/api/files/%d/report", ok), ""), 404)
	wantStatus(t, ts.do(t, "GET", fmt.Sprintf("/api/files/%d/original", ok), ""), 404)
	wantStatus(t, ts.do(t, "GET", "/api/files/999/original", ""), 404)
}

func TestDelete(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	id := b.failed(t, "doomed.bin", "boom")
	ok := b.processed(t, "good.txt", "x")
	path := fmt.Sprintf("/api/files/%d/delete", id)

	// The confirmation page, for browsers without JavaScript.
	resp := ts.do(t, "GET", fmt.Sprintf("/files/%d/delete", id), "")
	wantStatus(t, resp, 200)
	page := readBody(t, resp)
	for _, want := range []string{"doomed.bin", `action="` + path + `"`, `name="csrf" value="` + ts.csrf + `"`, "cannot be undone"} {
		if !strings.Contains(page, want) {
			t.Errorf("confirmation page lacks %q", want)
		}
	}
	wantStatus(t, ts.do(t, "GET", fmt.Sprintf("/files/%d/delete", ok), ""), 404)

	wantStatus(t, ts.do(t, "POST", path, ""), 403)                                                          // no CSRF token
	wantStatus(t, ts.do(t, "POST", path, "", "X-CSRF-Token", ts.csrf, "Sec-Fetch-Site", "cross-site"), 403) // another site
	wantStatus(t, ts.do(t, "GET", path, ""), 405)
	if _, err := os.Stat(filepath.Join(b.folder("failed"), "doomed.bin")); err != nil {
		t.Fatalf("a refused delete removed the file: %v", err)
	}
	resp = ts.do(t, "POST", path, "csrf="+ts.csrf, "Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Origin", ts.url)
	wantStatus(t, resp, 303)
	if loc := resp.Header.Get("Location"); loc != "/#failed" {
		t.Errorf("Location %q", loc)
	}
	if got := entries(t, b.folder("failed")); len(got) != 0 {
		t.Errorf("failed/ still holds %v", got)
	}
	if _, ok := b.tr.Get(id); ok {
		t.Error("the deleted file is still listed")
	}
	wantStatus(t, ts.do(t, "POST", path, "", "X-CSRF-Token", ts.csrf), 404)
	wantStatus(t, ts.do(t, "POST", fmt.Sprintf("/api/files/%d/delete", ok), "", "X-CSRF-Token", ts.csrf), 404)
}

func TestFilesSearch(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	for i := range 30 {
		b.processed(t, fmt.Sprintf("report-%02d.txt", i), "x")
	}
	b.processed(t, "notes.md", "x")
	b.failed(t, "Report-bad.txt", "boom")
	list := decode[fileList](t, ts.do(t, "GET", "/api/files?q=REPORT&limit=10&offset=10", ""))
	if list.Total != 31 || len(list.Files) != 10 || list.Files[0].Name != "report-20.txt" {
		t.Errorf("q=REPORT page 2: total %d, first %+v", list.Total, list.Files[:1])
	}
	list = decode[fileList](t, ts.do(t, "GET", "/api/files?q=report&state=failed", ""))
	if list.Total != 1 || list.Files[0].Name != "Report-bad.txt" {
		t.Errorf("q=report&state=failed: %+v", list)
	}
	if list := decode[fileList](t, ts.do(t, "GET", "/api/files?pipeline=nope", "")); list.Total != 0 {
		t.Errorf("pipeline=nope: %d files", list.Total)
	}
	wantStatus(t, ts.do(t, "GET", "/api/files?state=lost", ""), 400)

	// The page renders the same search without JavaScript, with paging.
	resp := ts.do(t, "GET", "/?q=report&offset=25", "")
	wantStatus(t, resp, 200)
	page := readBody(t, resp)
	for _, want := range []string{`value="report"`, "26–31 of 31", `id="files-prev"`, "report-00.txt", "Report-bad.txt"} {
		if !strings.Contains(page, want) {
			t.Errorf("searched page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="files-next"`) {
		t.Error("last page links to a next one")
	}
}

func TestThroughputRanges(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	for _, n := range []int{60, 900, 3600} {
		tp := decode[throughput](t, ts.do(t, "GET", fmt.Sprintf("/api/throughput?range=%d", n), ""))
		if len(tp.Files) != n {
			t.Errorf("range %d: %d points", n, len(tp.Files))
		}
	}
	wantStatus(t, ts.do(t, "GET", "/api/throughput?range=5", ""), 400)
	resp := ts.do(t, "GET", "/?range=60", "")
	if page := readBody(t, resp); !strings.Contains(page, `data-range="60" aria-current="true"`) || !strings.Contains(page, "−1 min") {
		t.Error("range=60 is not the page's chart")
	}
}

func TestChartSeries(t *testing.T) {
	// An hour is averaged four seconds to a column; a minute takes the
	// whole width.
	hour := make([]int64, 3600)
	hour[3599] = 400
	if got := series(hour, 3600, 1); len(got) != 900 || got[899] != 100 {
		t.Errorf("hour: %d columns, last %v", len(got), got[len(got)-1])
	}
	if got := series(hour, 60, 1); len(got) != 60 || got[59] != 400 {
		t.Errorf("minute: %d columns, last %v", len(got), got[len(got)-1])
	}
	d := area([]float64{0, 1}, 1)
	if d != "M0 100L0.0 100.0L450.0 100.0L450.0 0.0L900.0 0.0L900 100Z" {
		t.Errorf("area = %s", d)
	}
}

func TestFavicon(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	for _, path := range []string{"/favicon.ico", "/assets/favicon.svg"} {
		resp := ts.do(t, "GET", path, "")
		wantStatus(t, resp, 200)
		if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
	}
}

func TestIgnoredAndPipelines(t *testing.T) {
	b := newFakeBackend(t)
	b.ignored = []host.Ignored{{Folder: b.dir, Name: "<sub>", Why: "directory", Since: time.Now()}}
	ts := newTestServer(t, b, Options{})
	b.processed(t, "a.txt", "x")
	b.failed(t, "b.txt", "boom")
	ig := decode[[]host.Ignored](t, ts.do(t, "GET", "/api/ignored", ""))
	if len(ig) != 1 || ig[0].Why != "directory" {
		t.Errorf("ignored = %+v", ig)
	}
	rows := decode[[]pipelineRow](t, ts.do(t, "GET", "/api/pipelines", ""))
	if len(rows) != 2 || rows[0].Name != "text" || rows[0].Files != 2 || rows[0].Failed != 1 || rows[0].P50 == 0 || rows[1].Files != 0 {
		t.Errorf("pipelines = %+v", rows)
	}
	page := readBody(t, ts.do(t, "GET", "/", ""))
	for _, want := range []string{"&lt;sub&gt;", "directory", `id="n-ignored">1<`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestUploadFolder(t *testing.T) {
	b := newFakeBackend(t)
	other := b.addFolder(t)
	ts := newTestServer(t, b, Options{})
	code, body := ts.upload(t, nil, part{field: "folder", content: other}, part{"file", "there.txt", "x"})
	if code != 201 {
		t.Fatalf("status %d: %v", code, body)
	}
	if _, err := os.Stat(filepath.Join(other, "unprocessed", "there.txt")); err != nil {
		t.Errorf("not in the chosen folder: %v", err)
	}
	if code, _ := ts.upload(t, nil, part{"file", "here.txt", "x"}); code != 201 {
		t.Fatalf("default folder: %d", code)
	}
	if got := entries(t, b.UploadDir()); !slices.Equal(got, []string{"here.txt"}) {
		t.Errorf("first folder holds %v", got)
	}
	if code, _ := ts.upload(t, nil, part{field: "folder", content: t.TempDir()}, part{"file", "x.txt", "x"}); code != 400 {
		t.Errorf("a folder not watched: %d", code)
	}
	if code, _ := ts.upload(t, nil, part{"file", "y.txt", "x"}, part{field: "folder", content: other}); code != 400 {
		t.Errorf("folder after the files: %d", code)
	}
	page := readBody(t, ts.do(t, "GET", "/", ""))
	if !strings.Contains(page, `<select name="folder" id="upload-folder">`) || !strings.Contains(page, `<option value="`+other+`">`) {
		t.Error("the page offers no folder choice")
	}
}

// rawUpload sends a multipart body whose part header is written as is.
func (ts *testServer) rawUpload(t *testing.T, header string) int {
	t.Helper()
	body := "--XX\r\n" + header + "\r\nContent-Type: text/plain\r\n\r\ndata\r\n--XX--\r\n"
	return ts.do(t, "POST", "/api/upload", body, "Content-Type", "multipart/form-data; boundary=XX", "X-CSRF-Token", ts.csrf).StatusCode
}

// Malformed part headers are the client's fault: 400, never 500 (issue
// 10, hole 9).
func TestUploadMalformedHeaders(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	for name, header := range map[string]string{
		"NUL in the file name":   "Content-Disposition: form-data; name=\"file\"; filename=\"a\x00b.txt\"",
		"control byte in name":   "Content-Disposition: form-data; name=\"file\"; filename=\"a\x01b.txt\"",
		"NUL in the header name": "Content-Dis\x00position: form-data; name=\"file\"; filename=\"a.txt\"",
		"no colon":               "Content-Disposition form-data",
		"bad parameters":         "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt",
	} {
		if code := ts.rawUpload(t, header); code != 400 {
			t.Errorf("%s: status %d, want 400", name, code)
		}
	}
	if got := entries(t, b.UploadDir()); len(got) != 0 {
		t.Errorf("stored %v", got)
	}
}

// stalledUpload opens a connection and sends an upload's headers and the
// start of its body, then nothing.
func stalledUpload(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /api/upload HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=XX\r\n"+
		"X-CSRF-Token: %s\r\nContent-Length: 100000\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\r\nsome",
		s.Addr(), s.csrf)
	return c
}

// A stalled upload is cut off, with 408, and its connection released
// (issue 10, hole 9: slow uploads once exhausted the descriptors).
func TestUploadIdleTimeout(t *testing.T) {
	b := newFakeBackend(t)
	s := openServer(t, b, Options{UploadIdle: 200 * time.Millisecond})
	c := stalledUpload(t, s)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) // fails the test rather than hang it
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled upload: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	resp.Body.Close()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection still open after the timeout: %v", err)
	}
	if got := entries(t, b.UploadDir()); len(got) != 0 {
		t.Errorf("a stalled upload left %v", got)
	}
}

// Past Options.MaxUploads at once, uploads are refused with 503 rather
// than each holding a descriptor and a temporary file.
func TestUploadConcurrencyCap(t *testing.T) {
	b := newFakeBackend(t)
	s := openServer(t, b, Options{MaxUploads: 2})
	stalledUpload(t, s)
	stalledUpload(t, s)
	// Both are in the handler once the server counts them.
	deadline := time.Now().Add(20 * time.Second)
	for len(s.uploads) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled uploads never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts := &testServer{Server: s, b: b, url: "http://" + s.Addr()}
	code, body := ts.upload(t, nil, part{"file", "third.txt", "x"})
	if code != 503 || body["code"] != "unavailable" {
		t.Errorf("third upload: %d %v, want 503", code, body)
	}
}

// Connections are bounded: past Options.MaxConns a new one waits, and is
// served once another closes. Without a bound, slow clients took every
// descriptor (issue 10, hole 9).
func TestMaxConns(t *testing.T) {
	b := newFakeBackend(t)
	s := openServer(t, b, Options{MaxConns: 2})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", s.Addr())
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil { // served: now idle, held open
			t.Fatal(err)
		}
		held = append(held, c)
	}
	client := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := client.Get(s.URL() + "healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were held")
	}
	held[0].Close()
	client.Timeout = 20 * time.Second
	resp, err := client.Get(s.URL() + "healthz")
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	resp.Body.Close()
	held[1].Close()
}

func TestConnLimit(t *testing.T) {
	// The defaults docs/API.md states.
	s := New(newFakeBackend(t), Options{})
	defer s.Close()
	if s.opts.MaxUploads != 8 || s.opts.UploadIdle != 30*time.Second {
		t.Errorf("defaults: %d uploads, idle %v; docs/API.md says 8 and 30 s", s.opts.MaxUploads, s.opts.UploadIdle)
	}
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{16, minConns},         // tiny limit: still usable
		{1024, 256},            // half kept for processing, the rest halved for uploads' files
		{4096, 1536},           // 1024 kept for processing
		{1 << 20, maxConnsCap}, // bounded whatever the limit
	} {
		if got := connsFor(tc.nofile); got != tc.want {
			t.Errorf("connsFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
}

// The view shows failed bytes in the totals and restored records as
// such.
func TestViewTotals(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	b.tr.Restore([]tracker.File{{Folder: b.dir, Name: "old.csv", State: tracker.Failed, Error: "before the restart", Output: filepath.Join(b.folder("failed"), "old.csv"), Finished: time.Now().Add(-time.Hour)}})
	b.failed(t, "new.csv", "boom")
	d := decode[dashboard](t, ts.do(t, "GET", "/api/dashboard", ""))
	if d.Totals.InFailed != 2 || d.Totals.Failed != 1 || d.Totals.BytesIn != 4 || len(d.Failed) != 2 || !d.Failed[1].Rebuilt {
		t.Errorf("totals %+v, failed %+v", d.Totals, d.Failed)
	}
}

// A client that stops reading a download releases its connection after
// writeTimeout rather than holding it for ever (issue 10, hole 9).
func TestSlowDownloadReleased(t *testing.T) {
	b := newFakeBackend(t)
	s := openServer(t, b, Options{writeTimeout: 300 * time.Millisecond})
	id := b.processed(t, "big.bin", "x")
	f, _ := b.tr.Get(id)
	if err := os.Truncate(f.Output, 256<<20); err != nil { // larger than any socket buffer
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(c, "GET /api/files/%d/result HTTP/1.1\r\nHost: %s\r\n\r\n", id, s.Addr())
	held := func() int64 { return s.ln.(*limitedListener).open.Load() }
	deadline := time.Now().Add(30 * time.Second)
	for held() != 1 { // the download begins
		if time.Now().After(deadline) {
			t.Fatal("the download never began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for held() != 0 { // the server gives up on the connection and closes it
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still held by a client that reads nothing", held())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
