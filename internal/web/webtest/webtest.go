// Package webtest drives the dashboard in a real headless Chromium, for
// end-to-end tests: this package's own, and tests against the host binary.
//
// It needs Debian's chromium at /usr/bin/chromium. Without it, Browser
// skips the test, unless the environment has CI=true, where it fails.
//
//	func TestMain(m *testing.M) { webtest.Main(m) }
//
//	func TestDashboard(t *testing.T) {
//		ctx := webtest.Browser(t)
//		webtest.Do(t, ctx, chromedp.Navigate(url))
//		webtest.WaitFor(t, ctx, webtest.Live)
//		webtest.WaitFor(t, ctx, webtest.Row("recent", id)+`?.textContent === 'a.txt'`)
//	}
//
// The page's hooks: #conn reads "live" once the stream is up and the
// snapshot loaded; rows are tr[data-id=ID] in #queue-rows,
// #processing-rows, #recent-rows and #failed-rows, with the name in
// td.name; counts are in #count-queued, #count-processing,
// #count-processed and #count-failed; #upload-file and #upload-form
// upload; a failed row's button retries, its a.delete link deletes (after
// window.confirm), a.report and a.original open its report and original;
// #search (with #search-q, #search-state, #search-pipeline) fills
// #files-rows; #ready reads "ready" only while connected and ready.
package webtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where the browser is expected.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds each step and each wait.
var Timeout = 20 * time.Second

// Live is true once the page is connected and has loaded its snapshot.
const Live = `document.getElementById('conn').textContent === 'live'`

// Row is an expression for the name cell of file id in a list: "queue",
// "processing", "recent" or "failed". It is null when the row is absent.
func Row(list string, id uint64) string {
	return fmt.Sprintf(`document.querySelector('#%s-rows tr[data-id="%d"] td.name')`, list, id)
}

var browser struct {
	once sync.Once
	ctx  context.Context // the browser's first tab: every test's derives from it
	stop func()
	err  error
}

// Main runs the tests, then closes the shared browser.
func Main(m *testing.M) {
	code := m.Run()
	Close()
	os.Exit(code)
}

// Close stops the shared browser, if one was started.
func Close() {
	if browser.stop != nil {
		browser.stop()
	}
}

// Browser returns a new tab of a headless Chromium shared by the test
// binary (starting one takes seconds), in a browser context of its own:
// no cookies or storage carry over between tests. The tab closes with the
// test.
func Browser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("no browser: %v (apt-get install chromium; with CI=true this fails)", err)
		}
		t.Fatalf("CI=true and no browser: %v", err)
	}
	browser.once.Do(start)
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // Opens the tab.
		t.Fatal(err)
	}
	return ctx
}

func start() {
	dir, err := os.MkdirTemp("", "webtest-chromium-")
	if err != nil {
		browser.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	browser.ctx = ctx
	browser.stop = func() {
		cancel()
		cancelAlloc()
		_ = os.RemoveAll(dir)
	}
	// Starts the browser. No timeout on this context: it would stop the
	// browser with it.
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start %s: %w", ChromiumPath, err)
	}
}

// Do runs steps within Timeout, failing the test with the page's text.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%v\npage: %s", err, PageText(ctx))
	}
}

// Eval evaluates a JavaScript expression in the page, awaiting a promise.
func Eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// WaitFor polls a JavaScript condition in the page until it holds.
func WaitFor(t testing.TB, ctx context.Context, cond string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout+5*time.Second)
	defer cancel()
	poll := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(Timeout))
	if _, err := chromedp.Run(tctx, poll); err != nil {
		t.Fatalf("waiting for %s: %v\npage: %s", cond, err, PageText(ctx))
	}
}

// PageText is the start of the page's visible text, for failure messages.
func PageText(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
	if err != nil {
		return err.Error()
	}
	return s
}

// Phone and Desktop are the viewport widths the dashboard is tested at:
// the narrowest phone it promises to fit, and a laptop.
const (
	Phone   = 360
	Desktop = 1280
)

// Viewport sets the tab's size; a width under 800 also emulates a
// phone's touch screen.
func Viewport(width, height int64) chromedp.Action[chromedp.Void] {
	if width < 800 {
		return chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(width, height)
}

// Overflow is how many CSS pixels the page is wider than the window: 0
// when nothing scrolls sideways.
const Overflow = `Math.max(0, document.documentElement.scrollWidth - window.innerWidth)`

// Screenshot saves the whole page as a PNG in $SCREENSHOTS (a folder),
// named name.png, for a person to look at; without $SCREENSHOTS it does
// nothing.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ScreenshotOf saves one element (a CSS selector) as Screenshot does.
func ScreenshotOf(t testing.TB, ctx context.Context, name, sel string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// NoScript turns JavaScript off (or back on) in the tab, to check what
// the server renders by itself.
func NoScript(disabled bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: disabled})
		return err
	})
}
