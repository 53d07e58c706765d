package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filehost/host/internal/tracker"
)

func stringsReader(s string) io.Reader {
	if s == "" {
		return nil
	}
	return strings.NewReader(s)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode[T any](t testing.TB, resp *http.Response) T {
	t.Helper()
	var v T
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func wantStatus(t testing.TB, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, readBody(t, resp))
	}
}

func TestStatus(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	last := b.processed(t, "a.txt", "hello")
	b.failed(t, "b.txt", "bad line 3")
	b.tr.Queue(b.dir, "c.txt", 5)

	resp := ts.do(t, "GET", "/api/status", "")
	wantStatus(t, resp, 200)
	st := decode[map[string]any](t, resp)
	for _, key := range []string{"version", "started", "now", "uptime_s", "ready", "seq", "totals", "last", "pipelines", "max_upload", "csrf"} {
		if _, ok := st[key]; !ok {
			t.Errorf("status has no %q: %v", key, st)
		}
	}
	if st["version"] != "v1.2.3-test" || st["ready"] != true || st["csrf"] != ts.csrf {
		t.Errorf("status = %v", st)
	}
	totals := st["totals"].(map[string]any)
	if totals["processed"] != 1.0 || totals["failed"] != 1.0 || totals["queued"] != 1.0 {
		t.Errorf("totals = %v", totals)
	}
	if id := st["last"].(map[string]any)["id"]; id != float64(last) {
		t.Errorf("last id = %v, want %d", id, last)
	}
	if up := st["uptime_s"].(float64); up < 89*60 {
		t.Errorf("uptime %v, want about 90 minutes", up)
	}
	pipes := st["pipelines"].([]any)
	if len(pipes) != 2 || pipes[1].(map[string]any)["match"] == nil {
		t.Errorf("pipelines = %v", pipes)
	}
	// What a pipeline takes, by name and content, and how it names results.
	p0, p1 := pipes[0].(map[string]any), pipes[1].(map[string]any)
	if p0["content"] != "text" || p0["output"] != "{stem}.out" || p1["content"] != "any" || p1["mime"] == nil {
		t.Errorf("pipelines = %v", pipes)
	}
	if _, ok := p1["output"]; ok {
		t.Errorf("output given without one: %v", p1)
	}

	b.setReady(errors.New("watcher not started"))
	st = decode[map[string]any](t, ts.do(t, "GET", "/api/status", ""))
	if st["ready"] != false || st["not_ready"] != "watcher not started" {
		t.Errorf("not ready: status = %v", st)
	}
}

func TestFilesPaging(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	var processed []uint64
	for i := range 7 {
		processed = append(processed, b.processed(t, fmt.Sprintf("p%d.txt", i), "x"))
	}
	for i := range 3 {
		b.failed(t, fmt.Sprintf("f%d.txt", i), "boom")
	}
	b.tr.Queue(b.dir, "q1.txt", 1)
	b.tr.Queue(b.dir, "q2.txt", 1)

	tests := []struct {
		query     string
		total     int
		wantIDs   []uint64 // nil: only count
		wantCount int
	}{
		{"state=processed", 7, nil, 7},
		{"state=processed&limit=3", 7, []uint64{processed[6], processed[5], processed[4]}, 3},
		{"state=processed&offset=3&limit=3", 7, []uint64{processed[3], processed[2], processed[1]}, 3},
		{"state=processed&offset=6&limit=3", 7, []uint64{processed[0]}, 1},
		{"state=processed&offset=100", 7, nil, 0},
		{"state=failed", 3, nil, 3},
		{"state=queued", 2, nil, 2},
		{"state=processing", 0, nil, 0},
		{"", 12, nil, 12},
		{"limit=5", 12, nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := ts.do(t, "GET", "/api/files?"+tt.query, "")
			wantStatus(t, resp, 200)
			list := decode[fileList](t, resp)
			if list.Total != tt.total || len(list.Files) != tt.wantCount {
				t.Fatalf("total %d, %d files; want %d, %d", list.Total, len(list.Files), tt.total, tt.wantCount)
			}
			for i, id := range tt.wantIDs {
				if list.Files[i].ID != id {
					t.Errorf("files[%d] = %d, want %d", i, list.Files[i].ID, id)
				}
			}
		})
	}

	for _, bad := range []string{"state=done", "limit=0", "limit=1001", "limit=x", "offset=-1", "offset=1e3"} {
		t.Run(bad, func(t *testing.T) {
			resp := ts.do(t, "GET", "/api/files?"+bad, "")
			wantStatus(t, resp, 400)
			if e := decode[errorBody](t, resp); e.Code != "invalid" || e.Error == "" {
				t.Errorf("error = %+v", e)
			}
		})
	}
}

func TestFile(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	id := b.processed(t, "a.txt", "hello")

	resp := ts.do(t, "GET", fmt.Sprintf("/api/files/%d", id), "")
	wantStatus(t, resp, 200)
	f := decode[tracker.File](t, resp)
	if f.ID != id || f.Name != "a.txt" || f.State != tracker.Processed || len(f.Stages) != 1 {
		t.Errorf("file = %+v", f)
	}
	wantStatus(t, ts.do(t, "GET", "/api/files/999", ""), 404)
	wantStatus(t, ts.do(t, "GET", "/api/files/abc", ""), 400)
}

func TestPlugins(t *testing.T) {
	b := newFakeBackend(t).withPlugin(t)
	ts := newTestServer(t, b, Options{})
	b.processed(t, "a.txt", "hello")
	b.failed(t, "b.txt", "boom")

	resp := ts.do(t, "GET", "/api/plugins", "")
	wantStatus(t, resp, 200)
	rows := decode[[]pluginRow](t, resp)
	if len(rows) != 1 {
		t.Fatalf("plugins = %+v", rows)
	}
	p := rows[0]
	if p.Name != "upper" || !p.Loaded || len(p.SHA256) != 64 || p.LoadTime <= 0 || p.Live != 0 || p.Compiling { // no file yet, so no instance (Load closes its first)
		t.Errorf("plugin = %+v", p)
	}
	if p.Files != 2 || p.Errors != 1 || p.BytesIn != 9 || p.P50 <= 0 || p.P95 < p.P50 {
		t.Errorf("figures = %+v", p)
	}
	// The plugin's own metadata (plugin_meta), in the API and on the page.
	if p.Meta == nil || p.Meta.Name != "upper" || p.Meta.Version != "1.0.0" || p.Meta.Description == "" {
		t.Errorf("meta = %+v", p.Meta)
	}
	page := ts.do(t, "GET", "/", "")
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(body), `>upper <span class="muted">1.0.0</span></td>`) ||
		!strings.Contains(string(body), ": "+p.Meta.Description+`">upper`) {
		t.Errorf("the dashboard does not show the plugin's version and description")
	}
}

func TestThroughput(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	b.processed(t, "a.txt", "hello")
	tp := decode[throughput](t, ts.do(t, "GET", "/api/throughput", ""))
	if len(tp.Files) != 900 || len(tp.Bytes) != 900 || tp.Step != 1 {
		t.Fatalf("throughput: %d points", len(tp.Files))
	}
	var files, bytes int64
	for i := range tp.Files {
		files += tp.Files[i]
		bytes += tp.Bytes[i]
	}
	if files != 1 || bytes != 5 {
		t.Errorf("throughput sums to %d files, %d bytes; want 1, 5", files, bytes)
	}
}

func TestResult(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	id := b.processed(t, "a.txt", "<script>alert(1)</script>")

	resp := ts.do(t, "GET", fmt.Sprintf("/api/files/%d/result", id), "")
	wantStatus(t, resp, 200)
	if got := readBody(t, resp); got != "<script>alert(1)</script>!" {
		t.Errorf("body %q", got)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}

	resp = ts.do(t, "GET", fmt.Sprintf("/api/files/%d/result?view=1", id), "")
	wantStatus(t, resp, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("view: Content-Type %q", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("view: CSP %q, want a sandbox", csp)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline;") {
		t.Errorf("view: Content-Disposition %q", cd)
	}

	failed := b.failed(t, "b.txt", "boom")
	wantStatus(t, ts.do(t, "GET", fmt.Sprintf("/api/files/%d/result", failed), ""), 404)
	wantStatus(t, ts.do(t, "GET", "/api/files/999/result", ""), 404)
}

func TestRetry(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	failed := b.failed(t, "b.txt", "boom")
	ok := b.processed(t, "a.txt", "fine")
	path := fmt.Sprintf("/api/files/%d/retry", failed)

	t.Run("no CSRF token", func(t *testing.T) {
		resp := ts.do(t, "POST", path, "")
		wantStatus(t, resp, 403)
		if e := decode[errorBody](t, resp); e.Code != "forbidden" {
			t.Errorf("error = %+v", e)
		}
	})
	t.Run("wrong CSRF token", func(t *testing.T) {
		wantStatus(t, ts.do(t, "POST", path, "", "X-CSRF-Token", "guess"), 403)
	})
	t.Run("cross-site with token", func(t *testing.T) {
		wantStatus(t, ts.do(t, "POST", path, "", "X-CSRF-Token", ts.csrf, "Sec-Fetch-Site", "cross-site"), 403)
	})
	t.Run("other origin with token", func(t *testing.T) {
		wantStatus(t, ts.do(t, "POST", path, "", "X-CSRF-Token", ts.csrf, "Origin", "http://evil.example"), 403)
	})
	if got := b.retries(); len(got) != 0 {
		t.Fatalf("refused requests retried %v", got)
	}
	t.Run("header", func(t *testing.T) {
		resp := ts.do(t, "POST", path, "", "X-CSRF-Token", ts.csrf, "Sec-Fetch-Site", "same-origin", "Origin", ts.url)
		wantStatus(t, resp, 202)
		if v := decode[map[string]any](t, resp); v["retried"] != true {
			t.Errorf("body = %v", v)
		}
	})
	t.Run("form without JavaScript", func(t *testing.T) {
		resp := ts.do(t, "POST", path, "csrf="+ts.csrf,
			"Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html,*/*", "Origin", ts.url)
		wantStatus(t, resp, 303)
		if loc := resp.Header.Get("Location"); loc != "/#failed" {
			t.Errorf("Location %q", loc)
		}
	})
	if got := b.retries(); len(got) != 2 || got[0] != failed {
		t.Errorf("retried %v, want %d twice", got, failed)
	}
	t.Run("not failed", func(t *testing.T) {
		resp := ts.do(t, "POST", fmt.Sprintf("/api/files/%d/retry", ok), "", "X-CSRF-Token", ts.csrf)
		wantStatus(t, resp, 404)
		if e := decode[errorBody](t, resp); !strings.Contains(e.Error, "not a failed file") {
			t.Errorf("error = %+v", e)
		}
	})
	t.Run("GET", func(t *testing.T) {
		wantStatus(t, ts.do(t, "GET", path, ""), 405)
	})
}

func TestHealth(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	resp := ts.do(t, "GET", "/healthz", "")
	wantStatus(t, resp, 200)
	if body := readBody(t, resp); body != "ok\n" {
		t.Errorf("healthz %q", body)
	}
	wantStatus(t, ts.do(t, "GET", "/readyz", ""), 200)

	b.setReady(errors.New("plugins not loaded"))
	resp = ts.do(t, "GET", "/readyz", "")
	wantStatus(t, resp, 503)
	if body := readBody(t, resp); !strings.Contains(body, "plugins not loaded") {
		t.Errorf("readyz %q", body)
	}
	wantStatus(t, ts.do(t, "GET", "/healthz", ""), 200)
}

func TestToken(t *testing.T) {
	b := newFakeBackend(t)
	const token = "s3cret-token"
	ts := newTestServer(t, b, Options{Token: token})
	failed := b.failed(t, "b.txt", "boom")

	refused := []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/api/status"}, {"GET", "/api/files"}, {"GET", "/api/files/1"},
		{"GET", "/api/plugins"}, {"GET", "/api/events"}, {"GET", "/metrics"}, {"GET", "/healthz"},
		{"GET", "/readyz"}, {"GET", "/api/dashboard"}, {"POST", "/api/upload"},
		{"POST", fmt.Sprintf("/api/files/%d/retry", failed)},
	}
	for _, r := range refused {
		t.Run("none "+r.method+" "+r.path, func(t *testing.T) {
			resp := ts.do(t, r.method, r.path, "")
			wantStatus(t, resp, 401)
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate header")
			}
		})
		t.Run("wrong "+r.method+" "+r.path, func(t *testing.T) {
			wantStatus(t, ts.do(t, r.method, r.path, "", "Authorization", "Bearer "+token+"x"), 401)
		})
	}

	t.Run("bearer", func(t *testing.T) {
		wantStatus(t, ts.do(t, "GET", "/api/status", "", "Authorization", "Bearer "+token), 200)
		wantStatus(t, ts.do(t, "GET", "/metrics", "", "Authorization", "bearer "+token), 200)
	})
	t.Run("bearer needs no CSRF token", func(t *testing.T) {
		wantStatus(t, ts.do(t, "POST", fmt.Sprintf("/api/files/%d/retry", failed), "", "Authorization", "Bearer "+token), 202)
	})
	t.Run("query token on GET", func(t *testing.T) {
		wantStatus(t, ts.do(t, "GET", "/api/status?token="+url.QueryEscape(token), ""), 200)
	})
	t.Run("query token not on POST", func(t *testing.T) {
		wantStatus(t, ts.do(t, "POST", fmt.Sprintf("/api/files/%d/retry?token=%s", failed, token), "", "X-CSRF-Token", ts.csrf), 401)
	})
	t.Run("login page", func(t *testing.T) {
		resp := ts.do(t, "GET", "/", "", "Accept", "text/html")
		wantStatus(t, resp, 401)
		if body := readBody(t, resp); !strings.Contains(body, `name="token"`) {
			t.Errorf("401 page has no token form:\n%s", body)
		}
	})
	t.Run("assets are public", func(t *testing.T) {
		wantStatus(t, ts.do(t, "GET", "/assets/style.css", ""), 200)
	})

	var cookie *http.Cookie
	t.Run("visit with token sets a cookie", func(t *testing.T) {
		resp := ts.do(t, "GET", "/?token="+url.QueryEscape(token)+"&x=1", "")
		wantStatus(t, resp, 303)
		if loc := resp.Header.Get("Location"); loc != "/?x=1" {
			t.Errorf("redirect to %q, want the page without the token", loc)
		}
		for _, c := range resp.Cookies() {
			if c.Name == ts.cookie {
				cookie = c
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
			t.Fatalf("cookie %+v", cookie)
		}
		if strings.Contains(cookie.Value, token) {
			t.Error("cookie holds the token itself")
		}
	})
	t.Run("cookie", func(t *testing.T) {
		if cookie == nil {
			t.Skip("no cookie")
		}
		resp := ts.do(t, "GET", "/", "", "Cookie", cookie.Name+"="+cookie.Value)
		wantStatus(t, resp, 200)
		wantStatus(t, ts.do(t, "GET", "/api/status", "", "Cookie", cookie.Name+"=forged"), 401)
	})
	t.Run("wrong token visit", func(t *testing.T) {
		resp := ts.do(t, "GET", "/?token=nope", "")
		wantStatus(t, resp, 401)
		if len(resp.Cookies()) != 0 {
			t.Error("cookie set for a wrong token")
		}
	})
}

func TestNoToken(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	for _, path := range []string{"/", "/api/status", "/api/files", "/api/plugins", "/metrics", "/healthz", "/readyz", "/api/dashboard"} {
		wantStatus(t, ts.do(t, "GET", path, ""), 200)
	}
}

func TestRebinding(t *testing.T) {
	b := newFakeBackend(t)
	s := New(b, Options{Addr: "127.0.0.1:0"})
	t.Cleanup(func() { _ = s.Close() })
	for host, want := range map[string]int{
		"127.0.0.1:5000":       200,
		"localhost:5000":       200,
		"[::1]:5000":           200,
		"app.localhost":        200,
		"evil.example:5000":    403,
		"127.0.0.1.nip.io":     403,
		"attacker.example.com": 403,
	} {
		req := httptest.NewRequest("GET", "/api/status", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: status %d, want %d", host, rec.Code, want)
		}
	}
	// Listening on every interface, names cannot be known: no check.
	s2 := New(b, Options{Addr: ":0"})
	t.Cleanup(func() { _ = s2.Close() })
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Host = "files.example.com"
	rec := httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("any interface: status %d", rec.Code)
	}
}

const hostile = `<img src=x onerror=alert(1)>.txt`

func TestEscaping(t *testing.T) {
	b := newFakeBackend(t).withPlugin(t)
	ts := newTestServer(t, b, Options{})
	b.processed(t, hostile, "x")
	b.failed(t, hostile, `<script>alert("err")</script>`)
	b.processing(hostile, 100, 10)
	b.tr.Queue(b.dir, hostile, 3)

	resp := ts.do(t, "GET", "/", "")
	wantStatus(t, resp, 200)
	page := readBody(t, resp)
	for _, raw := range []string{"<img", "<script>alert"} {
		if strings.Contains(page, raw) {
			t.Errorf("page contains %q unescaped", raw)
		}
	}
	if n := strings.Count(page, "&lt;img src=x onerror=alert(1)&gt;.txt"); n < 5 {
		t.Errorf("escaped name appears %d times, want it in last, queue, progress, recent and failed", n)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}

	resp = ts.do(t, "GET", "/api/files", "")
	if body := readBody(t, resp); strings.Contains(body, "<img") || !strings.Contains(body, `\u003cimg`) {
		t.Errorf("JSON does not escape <: %s", body)
	}

	// An error page repeats what was asked for, escaped.
	resp = ts.do(t, "GET", "/api/files/%3Cb%3E", "", "Accept", "text/html")
	wantStatus(t, resp, 400)
	if body := readBody(t, resp); strings.Contains(body, "<b>") || !strings.Contains(body, "&lt;b&gt;") {
		t.Errorf("error page:\n%s", body)
	}
}

func TestPage(t *testing.T) {
	b := newFakeBackend(t).withPlugin(t)
	ts := newTestServer(t, b, Options{MaxUpload: 5 << 20})
	b.processed(t, "report.txt", "hello")
	b.failed(t, "broken.csv", "line 7: bad quote")
	b.processing("big.log", 1000, 250)
	b.tr.Queue(b.dir, "waiting.txt", 42)

	resp := ts.do(t, "GET", "/", "")
	wantStatus(t, resp, 200)
	page := readBody(t, resp)
	for _, want := range []string{
		"report.txt", "broken.csv", "line 7: bad quote", "big.log", "waiting.txt",
		`<progress max="1000" value="250">`, "25%",
		`id="count-processed">1<`, `id="count-failed">1<`, `id="count-queued">1<`, `id="count-processing">1<`,
		"v1.2.3-test", "1h30m", // uptime
		"upper", "text", "*.txt", "upper → upper", testPlugin.SHA256()[:12],
		`action="/api/files/2/retry"`, `name="csrf" value="` + ts.csrf + `"`,
		"/api/files/1/result?view=1", "5.0 MiB",
		`<path id="area-files" d="M0 100L0.0 `,
		// The failed file's actions.
		`href="/api/files/2/report?view=1"`, `href="/api/files/2/original"`, `href="/files/2/delete"`,
		// The upload form is in the header, before every panel.
		`<header class="top">`, `id="upload-form"`,
		`rel="icon" href="/assets/favicon.svg`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestAssets(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	resp := ts.do(t, "GET", "/assets/app.js", "")
	wantStatus(t, resp, 200)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	etag := resp.Header.Get("ETag")
	wantStatus(t, ts.do(t, "GET", "/assets/app.js", "", "If-None-Match", etag), 304)
	wantStatus(t, ts.do(t, "GET", "/assets/nope.js", ""), 404)
	wantStatus(t, ts.do(t, "GET", "/assets/..%2fserver.go", ""), 404)
	js := string(assetFiles["app.js"].body)
	for _, sink := range []string{".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(js, sink) {
			t.Errorf("app.js uses %s: data must reach the page as text", sink)
		}
	}
}

func TestMetrics(t *testing.T) {
	b := newFakeBackend(t).withPlugin(t)
	ts := newTestServer(t, b, Options{})
	b.processed(t, "a.txt", "hello")
	b.failed(t, "b.txt", "boom")
	b.tr.Queue(b.dir, "c.txt", 1)
	b.tr.Queue(b.dir, "d.txt", 1)

	want := []string{
		`filehost_files_total{outcome="processed",pipeline="text"} 1`,
		`filehost_files_total{outcome="failed",pipeline="text"} 1`,
		`filehost_files_total{outcome="processed",pipeline="all"} 0`,
		`filehost_file_duration_seconds_count{outcome="processed",pipeline="text"} 1`,
		`filehost_bytes_in_total{pipeline="text"} 9`,
		`filehost_plugin_file_duration_seconds_count{plugin="upper"} 2`,
		`filehost_queue_depth 2`,
		`filehost_files_processing 0`,
		`filehost_ready 1`,
		`filehost_build_info{version="v1.2.3-test"} 1`,
		`filehost_plugin_info{plugin="upper",sha256="` + testPlugin.SHA256() + `"} 1`,
		`filehost_plugin_instances{plugin="upper",state="idle"}`,
		`filehost_plugin_calls_total{plugin="upper"}`,
		`filehost_plugin_call_seconds_total{plugin="upper"}`,
		`go_goroutines`,
	}
	// Events reach the metrics through the pump, one file's counters a few
	// at a time: wait until a scrape shows all of them.
	lacking := func(body string) []string {
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		return missing
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := ts.do(t, "GET", "/metrics", "")
		wantStatus(t, resp, 200)
		missing := lacking(readBody(t, resp))
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range missing {
				t.Errorf("metrics lack %q", w)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sseReader reads Server-Sent Events.
type sseReader struct{ r *bufio.Reader }

type sse struct{ event, data string }

func (s sseReader) next() (sse, error) {
	var ev sse
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func openStream(t testing.TB, ts *testServer, query string) (*http.Response, sseReader) {
	t.Helper()
	resp := ts.do(t, "GET", "/api/events"+query, "")
	wantStatus(t, resp, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return resp, sseReader{bufio.NewReader(resp.Body)}
}

func TestEvents(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	_, events := openStream(t, ts, "")

	ev, err := events.next()
	if err != nil || ev.event != "hello" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	var h hello
	if err := json.Unmarshal([]byte(ev.data), &h); err != nil || h.Build != assetsVersion || h.Version != "v1.2.3-test" {
		t.Fatalf("hello %s: %v", ev.data, err)
	}

	// Then a view at once, and another once a file changes.
	first := nextView(t, events)
	if len(first.Points.Files) != tickPoints || first.Totals.Processed != 0 {
		t.Errorf("first view: %+v", first)
	}
	id := b.processed(t, hostile, "x")
	for {
		v := nextView(t, events)
		if len(v.Recent) == 0 {
			continue
		}
		if v.Recent[0].ID != id || v.Recent[0].Name != hostile || v.Last == nil || v.Last.ID != id || v.Totals.Processed != 1 {
			t.Errorf("view after a file: %+v", v)
		}
		if v.Recent[0].Stages != nil {
			t.Error("views carry stages")
		}
		break
	}
}

// nextView reads events up to the next "view", checking that its data
// escapes markup.
func nextView(t *testing.T, events sseReader) view {
	t.Helper()
	for {
		ev, err := events.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.event != "view" {
			continue
		}
		if strings.Contains(ev.data, "<img") {
			t.Error("event data has raw <")
		}
		var v view
		if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Under a burst every view is one moment of the tracker: the queue panel
// lists the oldest queued files whenever the count says files wait, and
// the counts, lists and last file agree (issue 12: "Empty." beside 1,934).
func TestViewsConsistentUnderBurst(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	_, events := openStream(t, ts, "")
	const files = 2000
	ids := make([]uint64, files)
	for i := range ids {
		ids[i] = b.tr.Queue(b.dir, fmt.Sprintf("f%04d.txt", i), 10)
	}
	queued := b.tr.Snapshot().Seq
	// Workers take a token per file; each view lets 400 more go, so the
	// burst spans several views and changes while each is taken.
	tokens := make(chan struct{}, files)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 4 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < files; i = next.Add(1) - 1 {
					<-tokens
					b.tr.Start(ids[i], "text", 10, 1)
					b.tr.Progress(ids[i], 10)
					b.tr.Finish(ids[i], tracker.Result{BytesIn: 10, BytesOut: 10})
				}
			})
		}
		wg.Wait()
	}()
	views := 0
	for {
		v := nextView(t, events)
		if v.Seq < queued {
			continue // from before the files were queued
		}
		views++
		tot := v.Totals
		if tot.Queued > 0 && len(v.Queue) != min(tot.Queued, shown.Queue) {
			t.Fatalf("view %d: %d queued, queue panel shows %d", views, tot.Queued, len(v.Queue))
		}
		for i := 1; i < len(v.Queue); i++ {
			if v.Queue[i].ID < v.Queue[i-1].ID {
				t.Fatalf("queue not oldest first: %v", v.Queue)
			}
		}
		if tot.Processing != len(v.Processing) {
			t.Fatalf("view %d: %d processing, panel shows %d", views, tot.Processing, len(v.Processing))
		}
		if int(tot.Processed)+tot.Queued+tot.Processing != files {
			t.Fatalf("view %d: totals %+v do not add up to %d", views, tot, files)
		}
		if tot.Processed > 0 && (v.Last == nil || len(v.Recent) == 0 || v.Recent[0].ID != v.Last.ID) {
			t.Fatalf("view %d: last %+v is not the newest recent %+v", views, v.Last, v.Recent[:min(1, len(v.Recent))])
		}
		if tot.Processed == files {
			break
		}
		for range min(400, cap(tokens)-len(tokens)) {
			tokens <- struct{}{}
		}
	}
	<-done
	if views < 5 {
		t.Errorf("%d views during the burst", views)
	}
}

func TestEventsEndOnClose(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	resp, events := openStream(t, ts, "")
	if _, err := events.next(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	if err := ts.Server.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after Close")
	}
}

// A stream that does not keep up holds only the latest view: each is
// whole, so a slow page skips to it and costs the host no queue.
func TestSlowStreamKeepsLatest(t *testing.T) {
	h := newHub()
	slow := h.join()
	fast := h.join()
	for i := range 100 {
		h.broadcast([]byte{byte(i)})
		if got := <-fast; got[0] != byte(i) {
			t.Fatalf("fast stream got %d, want %d", got[0], i)
		}
	}
	if h.count() != 2 {
		t.Fatalf("%d streams, want both kept", h.count())
	}
	if got := <-slow; got[0] != 99 {
		t.Errorf("slow stream got message %d, want the latest, 99", got[0])
	}
	select {
	case m := <-slow:
		t.Errorf("slow stream holds a second message %v", m)
	default:
	}
	h.leave(slow)
	h.leave(fast)
}

func TestOpen(t *testing.T) {
	b := newFakeBackend(t)
	s := New(b, Options{Addr: "127.0.0.1:0"})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, port, _ := net.SplitHostPort(s.Addr())
	if port == "0" || port == "" {
		t.Fatalf("Addr %q", s.Addr())
	}
	resp, err := http.Get(s.URL() + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}

	taken := New(b, Options{Addr: s.Addr()})
	defer taken.Close()
	if err := taken.Open(); err == nil {
		t.Error("Open on a taken port succeeded")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(s.URL() + "healthz"); err == nil {
		t.Error("still serving after Close")
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 850 * time.Microsecond: "850 µs", 12 * time.Millisecond: "12 ms", 3400 * time.Millisecond: "3.4 s",
		42 * time.Second: "42 s", 125 * time.Second: "2m05s", 3*time.Hour + 12*time.Minute: "3h12m", 52 * time.Hour: "2d4h",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 20 << 20: "20 MiB", 3 << 40: "3.0 TiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for _, tt := range []struct {
		v    []float64
		want float64
	}{{nil, 1}, {[]float64{0.3}, 1}, {[]float64{3}, 5}, {[]float64{12}, 20}, {[]float64{50}, 50}, {[]float64{51}, 100}} {
		if got := niceMax(tt.v); got != tt.want {
			t.Errorf("niceMax(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
