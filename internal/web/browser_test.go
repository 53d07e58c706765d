package web

// End-to-end tests in headless Chromium (see package webtest), against a
// Server listening on a loopback port with a fake Backend over a real
// tracker. Without /usr/bin/chromium they skip, unless CI=true.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/web/webtest"
)

// openServer serves b on a loopback port, as the host does.
func openServer(t *testing.T, b *fakeBackend, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.Version = "v0-browser"
	s := New(b, opts)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMain(m *testing.M) { webtest.Main(m) }

func TestBrowserLive(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t).withPlugin(t)
	s := openServer(t, b, Options{})
	first := b.processed(t, "before.txt", "x")

	webtest.Do(t, ctx, chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.WaitFor(t, ctx, webtest.Row("recent", first)+`.textContent === 'before.txt'`)
	webtest.Eval[int](t, ctx, `window.__marker = 42`)

	// A file's whole life, pushed without a reload.
	id := b.tr.Queue(b.dir, "live.txt", 1000)
	webtest.WaitFor(t, ctx, webtest.Row("queue", id)+`?.textContent === 'live.txt'`)
	b.tr.Start(id, "text", 1000, 1)
	b.tr.Progress(id, 500)
	webtest.WaitFor(t, ctx, fmt.Sprintf(`document.querySelector('#processing-rows tr[data-id="%d"] progress')?.value === 500`, id))
	webtest.WaitFor(t, ctx, webtest.Row("queue", id)+` === null`)
	b.tr.Finish(id, trackerResult(b, 1000))
	webtest.WaitFor(t, ctx, webtest.Row("recent", id)+`?.textContent === 'live.txt'`)
	webtest.WaitFor(t, ctx, webtest.Row("processing", id)+` === null`)
	webtest.WaitFor(t, ctx, `document.getElementById('count-processed').textContent === '2'`)
	webtest.WaitFor(t, ctx, `document.querySelector('#last-body .name').textContent === 'live.txt'`)
	webtest.WaitFor(t, ctx, `document.getElementById('rate-files').textContent !== ''`)
	if got := webtest.Eval[int](t, ctx, `window.__marker`); got != 42 {
		t.Errorf("the page reloaded (marker %d)", got)
	}
}

func TestBrowserUpload(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{})
	src := filepath.Join(t.TempDir(), "from browser.txt")
	if err := os.WriteFile(src, []byte("uploaded through the page\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("script", func(t *testing.T) {
		webtest.Do(t, ctx, chromedp.Navigate(s.URL()))
		webtest.WaitFor(t, ctx, webtest.Live)
		webtest.Do(t, ctx,
			chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{src}),
			chromedp.Click(chromedp.CSS("#upload-form button")),
		)
		webtest.WaitFor(t, ctx, `document.getElementById('upload-status').textContent.startsWith('Uploaded from browser.txt')`)
		if got, err := b.uploaded("from browser.txt"); err != nil || got != "uploaded through the page\n" {
			t.Fatalf("upload folder: %q, %v", got, err)
		}
	})

	t.Run("no script", func(t *testing.T) {
		webtest.Do(t, ctx, webtest.NoScript(true), chromedp.Navigate(s.URL()))
		t.Cleanup(func() { webtest.Do(t, ctx, webtest.NoScript(false)) })
		webtest.Do(t, ctx,
			chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{src}),
			chromedp.Click(chromedp.CSS("#upload-form button")),
		)
		// The form posts, then follows the redirect: the page navigates, so
		// poll from here rather than inside it.
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, err := b.uploaded("from browser-1.txt")
			if err == nil && got == "uploaded through the page\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("upload folder: %q, %v", got, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for {
			tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			url, err := chromedp.Run(tctx, chromedp.Evaluate[string](`location.pathname + location.hash`))
			cancel()
			if err == nil && url == "/#queue" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the upload the page is at %q (%v), want /#queue", url, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestBrowserRetry(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{})
	id := b.failed(t, "broken.csv", "line 3: unterminated quote")

	webtest.Do(t, ctx, chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed-rows tr[data-id="%d"] button`, id))))
	webtest.WaitFor(t, ctx, fmt.Sprintf(`document.querySelector('#failed-rows tr[data-id="%d"]').textContent.includes('sent back')`, id))
	if got := b.retries(); !slices.Equal(got, []uint64{id}) {
		t.Errorf("Backend.Retry called with %v, want [%d]", got, id)
	}
}

const xssName = `<img src=x onerror=window.__xss=1>.txt`

func TestBrowserHostileName(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{})
	rendered := b.processed(t, xssName, "x")
	failed := b.failed(t, xssName, `<img src=x onerror=window.__xss=2>`)
	names := fmt.Sprintf(`[...document.querySelectorAll('td.name, #last-body .name')].filter(e => !e.closest('#files') && e.textContent === %s).length`, strconv.Quote(xssName))
	noImages := `document.querySelectorAll('main img').length === 0`

	t.Run("server-rendered", func(t *testing.T) {
		webtest.Do(t, ctx, webtest.NoScript(true), chromedp.Navigate(s.URL()))
		t.Cleanup(func() { webtest.Do(t, ctx, webtest.NoScript(false)) })
		if n := webtest.Eval[int](t, ctx, names); n != 3 { // recent, failed, last
			t.Errorf("name shown as text %d times, want 3", n)
		}
		if !webtest.Eval[bool](t, ctx, noImages) {
			t.Error("the name became an <img>")
		}
	})

	t.Run("live", func(t *testing.T) {
		webtest.Do(t, ctx, chromedp.Navigate(s.URL()))
		webtest.WaitFor(t, ctx, webtest.Live)
		id := b.processed(t, xssName, "y")
		webtest.WaitFor(t, ctx, webtest.Row("recent", id)+`?.textContent === `+strconv.Quote(xssName))
		webtest.WaitFor(t, ctx, webtest.Row("recent", rendered)+` !== null`)
		if got := webtest.Eval[string](t, ctx, fmt.Sprintf(`document.querySelector('#failed-rows tr[data-id="%d"] td.error').textContent`, failed)); got != "upper <img src=x onerror=window.__xss=2>" {
			t.Errorf("error shown as %q", got)
		}
		if n := webtest.Eval[int](t, ctx, names); n != 4 { // two in recent, failed, last
			t.Errorf("name shown as text %d times, want 4", n)
		}
		if !webtest.Eval[bool](t, ctx, noImages) {
			t.Error("the name became an <img>")
		}
		if got := webtest.Eval[string](t, ctx, `typeof window.__xss`); got != "undefined" {
			t.Errorf("script ran: window.__xss is %s", got)
		}
	})
}

func TestBrowserToken(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{Token: "let-me-in"})
	b.processed(t, "secret.txt", "x")

	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.Run(tctx, chromedp.NavigateResponse(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 401 {
		t.Errorf("page without token: status %d, want 401", resp.Status)
	}
	if got := webtest.Eval[int](t, ctx, `fetch('/api/status').then(r => r.status)`); got != 401 {
		t.Errorf("API without token: status %d, want 401", got)
	}
	if webtest.Eval[bool](t, ctx, `document.body.innerText.includes('secret.txt')`) {
		t.Error("the refusal shows data")
	}

	webtest.Do(t, ctx, chromedp.Navigate(s.URL()+"?token=let-me-in"))
	webtest.WaitFor(t, ctx, webtest.Live)
	if got := webtest.Eval[string](t, ctx, `location.search`); got != "" {
		t.Errorf("token left in the address bar: %q", got)
	}
	webtest.WaitFor(t, ctx, `document.querySelector('#recent-rows td.name')?.textContent === 'secret.txt'`)
	if got := webtest.Eval[int](t, ctx, `fetch('/api/status').then(r => r.status)`); got != 200 {
		t.Errorf("API with the cookie: status %d", got)
	}
}

func TestBrowserReconnect(t *testing.T) {
	ctx := webtest.Browser(t)
	b1 := newFakeBackend(t)
	s1 := openServer(t, b1, Options{})
	addr := s1.Addr()
	b1.processed(t, "old.txt", "x")

	webtest.Do(t, ctx, chromedp.Navigate(s1.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.Eval[int](t, ctx, `window.__marker = 7`)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	webtest.WaitFor(t, ctx, `document.getElementById('conn').textContent !== 'live'`)
	// While the host is down nothing says "ready", and the clocks stop.
	if got := webtest.Eval[string](t, ctx, `document.getElementById('ready').className + ' ' + document.getElementById('ready').textContent`); got != "pill idle status unknown" {
		t.Errorf("ready pill while down: %q", got)
	}
	clocks := `document.getElementById('asof').textContent + ' ' + document.getElementById('uptime').textContent`
	before := webtest.Eval[string](t, ctx, clocks)
	time.Sleep(2200 * time.Millisecond) // two ticks of the page's clock
	if after := webtest.Eval[string](t, ctx, clocks); after != before {
		t.Errorf("as of and uptime went on while down: %q then %q", before, after)
	}

	// The host restarts on the same address, with a fresh tracker.
	b2 := newFakeBackend(t)
	id := b2.processed(t, "new.txt", "x")
	var s2 *Server
	for i := 0; ; i++ {
		s2 = New(b2, Options{Addr: addr, Version: "v0-browser"})
		err := s2.Open()
		if err == nil {
			break
		}
		_ = s2.Close()
		var opErr *net.OpError
		if !errors.As(err, &opErr) || i > 50 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { _ = s2.Close() })

	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.WaitFor(t, ctx, webtest.Row("recent", id)+`?.textContent === 'new.txt'`)
	webtest.WaitFor(t, ctx, `![...document.querySelectorAll('#recent-rows td.name')].some(e => e.textContent === 'old.txt')`)
	if got := webtest.Eval[int](t, ctx, `window.__marker`); got != 7 {
		t.Errorf("the page reloaded (marker %d)", got)
	}
}

// fill gives b a busy host's state: long names, long errors, every list
// full, ignored names and a second folder.
func fill(t *testing.T, b *fakeBackend) {
	t.Helper()
	b.addFolder(t)
	long := strings.Repeat("averyveryverylongfilenamewithoutanyspaces", 3) + ".csv"
	for i := range 20 {
		b.processed(t, fmt.Sprintf("quarterly-report-2026-region-%02d-final.csv", i), "x")
	}
	b.processed(t, long, "x")
	for i := range 4 {
		b.failed(t, fmt.Sprintf("broken-%d-%s", i, long[:40]), "line 12: unterminated quoted field starting at byte 4711; the rest of the record was skipped")
	}
	for i := range 3 {
		b.processing(fmt.Sprintf("big-%d.log", i), 1<<30, 1<<28)
	}
	b.processing("small.txt", 10, 10)
	for i := range 40 {
		b.tr.Queue(b.dir, fmt.Sprintf("waiting-%02d-%s", i, long[:30]), 1000)
	}
	b.ignored = []host.Ignored{
		{Folder: b.dir, Name: "subfolder", Why: "directory", Since: time.Now()},
		{Folder: b.dir, Name: "link-to-" + long, Why: "symlink", Since: time.Now()},
		{Folder: b.dir, Name: "draft.part", Why: "temporary name (.part, .tmp, .crdownload, .swp or ~)", Since: time.Now()},
	}
}

// At phone width nothing scrolls sideways, names keep a readable width,
// and every action of a failed row is on screen; at desktop width too.
func TestBrowserPhone(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t).withPlugin(t)
	fill(t, b)
	s := openServer(t, b, Options{})
	for _, width := range []int64{webtest.Phone, 400, webtest.Desktop} {
		t.Run(strconv.Itoa(int(width)), func(t *testing.T) {
			webtest.Do(t, ctx, webtest.Viewport(width, 800), chromedp.Navigate(s.URL()))
			webtest.WaitFor(t, ctx, webtest.Live)
			webtest.WaitFor(t, ctx, `document.querySelectorAll('#queue-rows tr[data-id]').length === 10`)
			if over := webtest.Eval[int](t, ctx, webtest.Overflow); over != 0 {
				t.Errorf("the page is %d px wider than the window", over)
			}
			// Every action of every failed row fits in the window.
			off := webtest.Eval[[]string](t, ctx, `[...document.querySelectorAll('#failed-rows .actions a, #failed-rows .actions button, #upload-form button')]
				.filter(e => { const r = e.getBoundingClientRect(); return r.right > window.innerWidth || r.width === 0 })
				.map(e => e.textContent)`)
			if len(off) > 0 {
				t.Errorf("actions off screen: %v", off)
			}
			// Names wrap, but not one character per line.
			narrow := webtest.Eval[[]string](t, ctx, `[...document.querySelectorAll('td.name')]
				.filter(e => e.offsetParent !== null && e.getBoundingClientRect().width < 90)
				.map(e => e.textContent.slice(0, 20) + ' ' + Math.round(e.getBoundingClientRect().width) + 'px')`)
			if len(narrow) > 0 {
				t.Errorf("name cells too narrow: %v", narrow)
			}
			// The upload form is on screen without scrolling.
			if bottom := webtest.Eval[float64](t, ctx, `document.querySelector('#upload-form button').getBoundingClientRect().bottom`); bottom > 800 {
				t.Errorf("upload button at %.0f px, below the first screen", bottom)
			}
			webtest.Screenshot(t, ctx, fmt.Sprintf("dashboard-%d", width))
			for _, sel := range []string{"header", ".cards", "#throughput", "#processing", "#queue", "#failed", "#recent", "#files", "#pipelines", "#plugins", "#ignored"} {
				webtest.ScreenshotOf(t, ctx, fmt.Sprintf("dashboard-%d-%s", width, strings.Trim(sel, "#.")), sel)
			}
		})
	}
}

// Each action of a failed file, in the browser: its report, its
// original, retry, and delete after a confirmation; at phone width, where
// they are hardest to reach.
func TestBrowserFailedActions(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{})
	keep := b.failed(t, "keep.csv", "line 2: bad")
	doomed := b.failed(t, "doomed.csv", "line 9: worse")
	retried := b.failed(t, "again.csv", "timeout")

	webtest.Do(t, ctx, webtest.Viewport(webtest.Phone, 800), chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	row := func(id uint64) string {
		return fmt.Sprintf(`document.querySelector('#failed-rows tr[data-id="%d"]')`, id)
	}

	// The links fetch what they name.
	report := webtest.Eval[string](t, ctx, `fetch(`+row(keep)+`.querySelector('a.report').href).then(r => r.text())`)
	if !strings.Contains(report, "line 2: bad") {
		t.Errorf("report link gave %q", report)
	}
	orig := webtest.Eval[string](t, ctx, `fetch(`+row(keep)+`.querySelector('a.original').href).then(r => r.text())`)
	if orig != "original of keep.csv" {
		t.Errorf("original link gave %q", orig)
	}

	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed-rows tr[data-id="%d"] button`, retried))))
	webtest.WaitFor(t, ctx, row(retried)+`.textContent.includes('sent back')`)
	if got := b.retries(); !slices.Equal(got, []uint64{retried}) {
		t.Errorf("retried %v", got)
	}

	// Delete asks first: refused, nothing happens; confirmed, it goes.
	webtest.Eval[any](t, ctx, `window.confirm = () => (window.__asked = (window.__asked || 0) + 1, false)`)
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed-rows tr[data-id="%d"] a.delete`, doomed))))
	if n := webtest.Eval[int](t, ctx, `window.__asked`); n != 1 {
		t.Fatalf("asked %d times", n)
	}
	if _, ok := b.tr.Get(doomed); !ok {
		t.Fatal("deleted without confirmation")
	}
	webtest.Eval[any](t, ctx, `window.confirm = () => true`)
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed-rows tr[data-id="%d"] a.delete`, doomed))))
	webtest.WaitFor(t, ctx, row(doomed)+` === null`)
	if _, err := os.Stat(filepath.Join(b.folder("failed"), "doomed.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed/doomed.csv: %v", err)
	}
	webtest.WaitFor(t, ctx, `document.getElementById('count-failed').textContent === '2'`)
	if over := webtest.Eval[int](t, ctx, webtest.Overflow); over != 0 {
		t.Errorf("%d px of sideways scroll", over)
	}

	// Without JavaScript, delete goes through a confirmation page.
	webtest.Do(t, ctx, webtest.NoScript(true), chromedp.Navigate(s.URL()))
	t.Cleanup(func() { webtest.Do(t, ctx, webtest.NoScript(false)) })
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#failed-rows tr[data-id="%d"] a.delete`, keep))))
	waitNavigated(t, ctx, `document.title.startsWith('Delete keep.csv')`)
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(`button.danger`)))
	waitNavigated(t, ctx, `location.pathname === '/' && !document.body.textContent.includes('keep.csv')`)
	if _, ok := b.tr.Get(keep); ok {
		t.Error("the confirmed delete left the record")
	}
}

// waitNavigated polls cond across a navigation, when the page it would
// run in comes and goes.
func waitNavigated(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(webtest.Timeout)
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v\npage: %s", cond, err, webtest.PageText(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Search by name, state and pipeline, page through the results, and
// switch the chart's range.
func TestBrowserSearch(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{})
	for i := range 30 {
		b.processed(t, fmt.Sprintf("invoice-%02d.pdf", i), "x")
	}
	b.processed(t, "notes.txt", "x")
	bad := b.failed(t, "invoice-bad.pdf", "boom")

	webtest.Do(t, ctx, webtest.Viewport(webtest.Desktop, 900), chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#search-q"), "INVOICE"),
		chromedp.Click(chromedp.CSS("#search button")),
	)
	webtest.WaitFor(t, ctx, `document.getElementById('files-count').textContent === '1–25 of 31'`)
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS("#files-next")))
	webtest.WaitFor(t, ctx, `document.getElementById('files-count').textContent === '26–31 of 31'`)
	if names := webtest.Eval[[]string](t, ctx, `[...document.querySelectorAll('#files-rows td.name')].map(e => e.textContent)`); slices.Contains(names, "notes.txt") || len(names) != 6 {
		t.Errorf("page 2: %v", names)
	}
	webtest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#search-state"), "failed"), chromedp.Click(chromedp.CSS("#search button")))
	webtest.WaitFor(t, ctx, `document.getElementById('files-count').textContent === '1–1 of 1'`)
	webtest.WaitFor(t, ctx, fmt.Sprintf(`document.querySelector('#files-rows tr[data-id="%d"] a.report') !== null`, bad))

	// The chart's ranges.
	webtest.Do(t, ctx, chromedp.Click(chromedp.CSS(`#ranges a[data-range="60"]`)))
	webtest.WaitFor(t, ctx, `document.querySelector('.axis-start').textContent === '−1 min'`)
	if cur := webtest.Eval[string](t, ctx, `document.querySelector('#ranges a[aria-current]').dataset.range`); cur != "60" {
		t.Errorf("current range %s", cur)
	}
}

// With several folders the upload goes where the form says, and a file
// dropped on the page is uploaded too.
func TestBrowserUploadFolderAndDrop(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	other := b.addFolder(t)
	s := openServer(t, b, Options{})
	src := filepath.Join(t.TempDir(), "chosen.txt")
	if err := os.WriteFile(src, []byte("to the second folder\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	webtest.Do(t, ctx, webtest.Viewport(webtest.Phone, 700), chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	webtest.Do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#upload-folder"), other),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{src}),
		chromedp.Click(chromedp.CSS("#upload-form button")),
	)
	webtest.WaitFor(t, ctx, `document.getElementById('upload-status').textContent.startsWith('Uploaded chosen.txt')`)
	if got, err := os.ReadFile(filepath.Join(other, "unprocessed", "chosen.txt")); err != nil || string(got) != "to the second folder\n" {
		t.Errorf("second folder: %q, %v", got, err)
	}

	webtest.Eval[any](t, ctx, `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(['dropped on the page\n'], 'dropped.txt', { type: 'text/plain' }));
		document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
		document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
	})()`)
	webtest.WaitFor(t, ctx, `document.getElementById('upload-status').textContent.startsWith('Uploaded dropped.txt')`)
	if got, err := os.ReadFile(filepath.Join(other, "unprocessed", "dropped.txt")); err != nil || string(got) != "dropped on the page\n" {
		t.Errorf("dropped file: %q, %v", got, err)
	}
	if !webtest.Eval[bool](t, ctx, `document.getElementById('drop').hidden`) {
		t.Error("the drop overlay stays")
	}
}

// During a burst every sample of the page agrees with itself: the queue
// panel lists files whenever its badge counts some, the cards match the
// badges, the last file is the newest recent one, and "now" is not 0
// while files finish (issue 12: "Empty." beside 1,934, 0 files/s at 380).
func TestBrowserBurst(t *testing.T) {
	ctx := webtest.Browser(t)
	b := newFakeBackend(t)
	s := openServer(t, b, Options{})
	webtest.Do(t, ctx, webtest.Viewport(webtest.Desktop, 900), chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)

	const files = 2000
	ids := make([]uint64, files)
	for i := range ids {
		ids[i] = b.tr.Queue(b.dir, fmt.Sprintf("burst-%04d.txt", i), 100)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // about 400 files a second, in small steps
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < files; i++ {
			if i%4 == 0 {
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
			b.tr.Start(ids[i], "text", 100, 1)
			b.tr.Finish(ids[i], tracker.Result{BytesIn: 100, BytesOut: 100})
		}
	}()
	defer func() { close(stop); <-done }()

	type sample struct {
		Badge, Card, Rows, Processed int
		Last, Newest, Rate           string
		Empty                        bool
	}
	seen := 0
	for range 15 {
		time.Sleep(300 * time.Millisecond) // samples, not a synchronisation
		sm := webtest.Eval[sample](t, ctx, `({
			badge: +document.getElementById('n-queue').textContent,
			card: +document.getElementById('count-queued').textContent,
			rows: document.querySelectorAll('#queue-rows tr[data-id]').length,
			processed: +document.getElementById('count-processed').textContent,
			empty: document.querySelector('#queue-rows tr.empty') !== null,
			last: document.querySelector('#last-body .name')?.textContent || '',
			newest: document.querySelector('#recent-rows td.name')?.textContent || '',
			rate: document.getElementById('rate-files').textContent,
		})`)
		if sm.Badge != sm.Card {
			t.Errorf("queue badge %d, card %d", sm.Badge, sm.Card)
		}
		if sm.Badge > 0 && (sm.Empty || sm.Rows != min(sm.Badge, shown.Queue)) {
			t.Errorf("badge %d, %d rows (empty %v)", sm.Badge, sm.Rows, sm.Empty)
		}
		if sm.Last != sm.Newest {
			t.Errorf("last processed %q, newest recent %q", sm.Last, sm.Newest)
		}
		if sm.Processed > 100 && sm.Processed < files-100 {
			seen++
			if strings.HasPrefix(sm.Rate, "0 ") {
				t.Errorf("%d processed, rate %q", sm.Processed, sm.Rate)
			}
		}
	}
	if seen < 3 {
		t.Errorf("only %d samples during the burst", seen)
	}
}
