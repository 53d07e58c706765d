package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

const dashConfig = `
[run]
settle = "0s"
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
`

// startDashboard starts the real host with its dashboard and returns the
// dashboard's URL and a function that stops the host cleanly.
func startDashboard(t *testing.T, dir string) (url string, stop func()) {
	t.Helper()
	cmd, log := startWatchEnv(t, dir, nil, "--dashboard-addr", "127.0.0.1:0")
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v\n%s", err, log.String())
		}
	}
	t.Cleanup(stop)
	waitUntil(t, "the dashboard's address in the log", 30*time.Second, func() bool {
		if m := urlRE.FindStringSubmatch(log.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	return url, stop
}

// apiTotal is the total of an /api/files query.
func apiTotal(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Total int `json:"total"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	return list.Total
}

// After a restart the failed files, with their reports, and the recent
// results are on the page and in the API again, and can be acted on; at
// phone width the page fits (issue 12: "nothing is forgotten on
// restart").
func TestDashboardRestart(t *testing.T) {
	dir := project(t, dashConfig)
	in := filepath.Join(dir, "watch_dir", "unprocessed")
	failed := filepath.Join(dir, "watch_dir", "failed")
	url, stop := startDashboard(t, dir)
	stage := t.TempDir() // settle is 0: files must arrive whole, by rename
	for _, name := range []string{"one.bad", "two.bad", "three.bad", "ok-1.txt", "ok-2.txt"} {
		os.WriteFile(filepath.Join(stage, name), []byte("fail\n"), 0o644)
		os.Rename(filepath.Join(stage, name), filepath.Join(in, name))
	}
	waitUntil(t, "three failures with reports", 30*time.Second, func() bool { return len(entries(t, failed)) == 6 })
	waitUntil(t, "two results", 30*time.Second, func() bool {
		return len(entries(t, filepath.Join(dir, "watch_dir", "processed"))) == 2
	})
	stop()

	url, _ = startDashboard(t, dir)
	if n := apiTotal(t, url+"api/files?state=failed"); n != 3 {
		t.Errorf("after the restart /api/files?state=failed has %d files, want 3", n)
	}
	if n := apiTotal(t, url+"api/files?state=processed"); n != 2 {
		t.Errorf("after the restart /api/files?state=processed has %d files, want 2", n)
	}
	ctx := webtest.Browser(t)
	webtest.Do(t, ctx, webtest.Viewport(webtest.Phone, 800), chromedp.Navigate(url))
	webtest.WaitFor(t, ctx, webtest.Live)
	names := `[...document.querySelectorAll('#failed-rows td.name')].map(e => e.textContent).sort().join(' ')`
	webtest.WaitFor(t, ctx, names+` === 'one.bad three.bad two.bad'`)
	if got := webtest.Eval[string](t, ctx, `document.querySelector('#failed-rows td.error').textContent`); !strings.Contains(got, "faulty") {
		t.Errorf("restored error %q: want the report's plugin and message", got)
	}
	webtest.WaitFor(t, ctx, `document.getElementById('count-failed').textContent === '3'`)
	webtest.WaitFor(t, ctx, `document.querySelectorAll('#recent-rows td.name').length === 2`)
	if over := webtest.Eval[int](t, ctx, webtest.Overflow); over != 0 {
		t.Errorf("at %d px the page is %d px too wide", webtest.Phone, over)
	}
	webtest.Screenshot(t, ctx, "restart-360")

	// The restored files can be acted on: the report, a retry (it fails
	// again), a delete.
	row := func(name string) string {
		return `[...document.querySelectorAll('#failed-rows tr')].find(tr => tr.querySelector('td.name')?.textContent === ` + jsString(name) + `)`
	}
	report := webtest.Eval[string](t, ctx, `fetch(`+row("one.bad")+`.querySelector('a.report').href).then(r => r.text())`)
	if !strings.Contains(report, `"file": "one.bad"`) {
		t.Errorf("report of a restored file: %q", report)
	}
	webtest.Eval[any](t, ctx, row("two.bad")+`.querySelector('button').click()`)
	waitUntil(t, "the retried file to fail again", 30*time.Second, func() bool {
		return apiTotal(t, url+"api/files?state=failed&q=two.bad") == 2 // the restored record, sent back, and the new failure
	})
	webtest.Eval[any](t, ctx, `window.confirm = () => true`)
	webtest.Eval[any](t, ctx, row("three.bad")+`.querySelector('a.delete').click()`)
	waitUntil(t, "three.bad deleted", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(failed, "three.bad"))
		_, rerr := os.Stat(filepath.Join(failed, "three.bad.error.json"))
		return os.IsNotExist(err) && os.IsNotExist(rerr)
	})
	webtest.WaitFor(t, ctx, row("three.bad")+` === undefined`)
	if resp, err := http.Get(url + "favicon.ico"); err != nil || resp.StatusCode != 200 {
		t.Errorf("favicon: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// A 2,000-file burst through the real host, sampled in a real browser:
// each sample agrees with itself (issue 12: "one consistent picture").
func TestDashboardBurst(t *testing.T) {
	dir := project(t, dashConfig)
	url, _ := startDashboard(t, dir)
	ctx := webtest.Browser(t)
	webtest.Do(t, ctx, webtest.Viewport(webtest.Desktop, 900), chromedp.Navigate(url))
	webtest.WaitFor(t, ctx, webtest.Live)

	// Written beside the folder, then moved in: each arrives whole.
	in := filepath.Join(dir, "watch_dir", "unprocessed")
	stage := t.TempDir()
	const files = 2000
	for i := range files {
		name := fmt.Sprintf("burst-%04d.txt", i)
		os.WriteFile(filepath.Join(stage, name), []byte("line one\nline two\n"), 0o644)
	}
	go func() {
		for i := range files {
			name := fmt.Sprintf("burst-%04d.txt", i)
			os.Rename(filepath.Join(stage, name), filepath.Join(in, name))
		}
	}()
	type sample struct {
		Badge, Card, Rows, Processed, Processing, ProcRows int
		Last, Newest                                       string
		Empty                                              bool
	}
	samples := 0
	for samples < 15 {
		sm := webtest.Eval[sample](t, ctx, `({
			badge: +document.getElementById('n-queue').textContent,
			card: +document.getElementById('count-queued').textContent,
			rows: document.querySelectorAll('#queue-rows tr[data-id]').length,
			empty: document.querySelector('#queue-rows tr.empty') !== null,
			processed: +document.getElementById('count-processed').textContent,
			processing: +document.getElementById('count-processing').textContent,
			procrows: document.querySelectorAll('#processing-rows tr[data-id]').length,
			last: document.querySelector('#last-body .name')?.textContent || '',
			newest: document.querySelector('#recent-rows td.name')?.textContent || '',
		})`)
		if sm.Processed >= files {
			break
		}
		samples++
		if sm.Badge != sm.Card || (sm.Badge > 0 && (sm.Empty || sm.Rows != min(sm.Badge, 10))) {
			t.Errorf("sample %d: queue badge %d, card %d, %d rows (empty %v)", samples, sm.Badge, sm.Card, sm.Rows, sm.Empty)
		}
		if sm.Processing != sm.ProcRows {
			t.Errorf("sample %d: %d processing, %d rows", samples, sm.Processing, sm.ProcRows)
		}
		if sm.Last != sm.Newest {
			t.Errorf("sample %d: last processed %q, newest recent %q", samples, sm.Last, sm.Newest)
		}
		time.Sleep(200 * time.Millisecond) // samples, not a synchronisation
	}
	if samples < 3 {
		t.Errorf("only %d samples during the burst", samples)
	}
	t.Logf("%d samples during the burst", samples)
	waitUntil(t, "the burst processed", 120*time.Second, func() bool {
		return apiTotal(t, url+"api/files?state=processed") == files
	})
	webtest.WaitFor(t, ctx, `document.getElementById('count-processed').textContent === '2000'`)
	// Not checked here: that the queue ends empty. Stale "queued" records
	// (the watcher's OnSeen racing a worker, issue 10) can remain; their
	// fix is in the watch service, and the page shows what it is given.
}
