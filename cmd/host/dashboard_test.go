package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/filehost/host/internal/web/webtest"
)

var urlRE = regexp.MustCompile(`"msg":"dashboard","url":"([^"]+)"`)

// The real host, its dashboard in a real browser: a file dropped into
// unprocessed/ shows up as processed without a reload, a hostile name
// shows as text, and without the token the dashboard is refused.
func TestDashboardEndToEnd(t *testing.T) {
	dir := project(t, `
[run]
settle = "50ms"
sync = false
[dashboard]
enabled = true
[[pipeline]]
name = "bad"
match = ["*.bad"]
plugins = ["faulty"]
[[pipeline]]
name = "text"
plugins = ["upper"]
`)
	cmd, log := startWatchEnv(t, dir, []string{"HOST_DASHBOARD_TOKEN=s3cret"}, "--dashboard-addr", "127.0.0.1:0")
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v\n%s", err, log.String())
		}
	}()
	var url string
	waitUntil(t, "the dashboard's address in the log", 30*time.Second, func() bool {
		if m := urlRE.FindStringSubmatch(log.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})

	for _, path := range []string{"", "api/status", "metrics"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /%s without the token: %s", path, resp.Status)
		}
	}

	ctx := webtest.Browser(t)
	webtest.Do(t, ctx, chromedp.Navigate(url+"?token=s3cret"))
	webtest.WaitFor(t, ctx, webtest.Live)

	in := filepath.Join(dir, "watch_dir", "unprocessed")
	hostile := `<img src=x onerror=window.__xss=1>.txt`
	os.WriteFile(filepath.Join(in, "dropped.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(in, hostile), []byte("evil\n"), 0o644)
	for _, name := range []string{"dropped.txt", hostile} {
		webtest.WaitFor(t, ctx, `[...document.querySelectorAll('#recent-rows td.name')].some(td => td.textContent === `+jsString(name)+`)`)
	}
	if xss := webtest.Eval[bool](t, ctx, `window.__xss !== undefined`); xss {
		t.Error("the hostile file name ran a script")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "watch_dir", "processed", "dropped.txt")); string(got) != "HELLO\n" {
		t.Errorf("processed/dropped.txt = %q", got)
	}

	// Upload through the page's form.
	src := filepath.Join(t.TempDir(), "uploaded.txt")
	os.WriteFile(src, []byte("from the browser\n"), 0o644)
	webtest.Do(t, ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{src}),
		chromedp.Click(chromedp.CSS("#upload-form button")),
	)
	waitUntil(t, "the uploaded file processed", 30*time.Second, func() bool {
		got, _ := os.ReadFile(filepath.Join(dir, "watch_dir", "processed", "uploaded.txt"))
		return string(got) == "FROM THE BROWSER\n"
	})

	// A failed file, retried from the page: it goes back and fails again.
	os.WriteFile(filepath.Join(in, "doomed.bad"), []byte("fail\n"), 0o644)
	row := `[...document.querySelectorAll('#failed-rows tr')].find(tr => tr.querySelector('td.name')?.textContent === "doomed.bad")`
	webtest.WaitFor(t, ctx, row+` !== undefined`)
	webtest.Eval[any](t, ctx, row+`.querySelector("button").click()`)
	waitUntil(t, "the retried file to fail again", 30*time.Second, func() bool {
		resp, err := http.DefaultClient.Do(bearer(url+"api/status", "s3cret"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			Totals struct {
				Failed int `json:"failed"`
			} `json:"totals"`
		}
		json.NewDecoder(resp.Body).Decode(&st)
		return st.Totals.Failed == 2
	})
}

func bearer(url, token string) *http.Request {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

func jsString(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}
