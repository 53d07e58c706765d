package web

import (
	"errors"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/web/webtest"
)

// POST /api/reload follows the rules of the other POSTs (CSRF, origin,
// token), answers with the outcome, and the outcome shows in /api/status
// and /metrics.
func TestReloadAPI(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	wantStatus(t, ts.do(t, "POST", "/api/reload", ""), 403)
	wantStatus(t, ts.do(t, "POST", "/api/reload", "", "X-CSRF-Token", "guess"), 403)
	wantStatus(t, ts.do(t, "POST", "/api/reload", "", "X-CSRF-Token", ts.csrf, "Origin", "http://evil.example"), 403)
	if b.reloads != 0 {
		t.Fatalf("refused requests reloaded %d times", b.reloads)
	}
	resp := ts.do(t, "POST", "/api/reload", "", "X-CSRF-Token", ts.csrf)
	wantStatus(t, resp, 200)
	if v := decode[map[string]any](t, resp); v["reloaded"] != true {
		t.Errorf("body = %v", v)
	}
	b.mu.Lock()
	b.reload = errors.New("config.toml:3: pipeline[1].plugins: unknown plugin \"uper\"; did you mean `upper`?")
	b.mu.Unlock()
	resp = ts.do(t, "POST", "/api/reload", "", "X-CSRF-Token", ts.csrf)
	wantStatus(t, resp, 422)
	if v := decode[map[string]any](t, resp); !strings.Contains(v["error"].(string), "config.toml:3") || v["code"] != "invalid_config" {
		t.Errorf("body = %v", v)
	}
	b.mu.Lock()
	b.reload = host.ErrReloadBusy
	b.mu.Unlock()
	wantStatus(t, ts.do(t, "POST", "/api/reload", "", "X-CSRF-Token", ts.csrf), 409)

	st := decode[status](t, ts.do(t, "GET", "/api/status", ""))
	if st.Config.Generation != 2 || st.Config.Reloads != 1 || st.Config.Failed != 2 || st.Config.LastOK || st.Config.LastError == "" {
		t.Errorf("status config = %+v", st.Config)
	}
	metrics := readBody(t, ts.do(t, "GET", "/metrics", ""))
	for _, want := range []string{"filehost_config_generation 2", "filehost_config_reloads_total 1", "filehost_config_reload_failures_total 2"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	tok := newTestServer(t, newFakeBackend(t), Options{Token: "s3cret-token-value"})
	wantStatus(t, tok.do(t, "POST", "/api/reload", "", "X-CSRF-Token", tok.csrf), 401)
	wantStatus(t, tok.do(t, "POST", "/api/reload", "", "Authorization", "Bearer s3cret-token-value"), 200)
}

// The Reload button reloads, and the Configuration panel shows the
// generation and a failed reload's error.
func TestBrowserReload(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := New(b, Options{Addr: "127.0.0.1:0"})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	webtest.Do(t, ctx, chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS("#reload")))
	webtest.WaitFor(t, ctx, `document.getElementById('config-gen').textContent === '2'`)
	b.mu.Lock()
	b.reload = errors.New("config.toml:7: run.settle: a bare number")
	b.mu.Unlock()
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS("#reload")))
	webtest.WaitFor(t, ctx, `!document.getElementById('config-error').hidden && document.getElementById('config-error-text').textContent.includes('config.toml:7')`)
	webtest.WaitFor(t, ctx, `document.getElementById('config-gen').textContent === '2'`)
}
