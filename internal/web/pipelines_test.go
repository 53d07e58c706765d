package web

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/web/webtest"
)

// The page says which files each pipeline takes: by name, content kind
// and MIME type, and how it names its results.
func TestPagePipelines(t *testing.T) {
	b := newFakeBackend(t)
	b.pipelines = []host.PipelineConfig{
		{Name: "csv", Match: []string{"*.csv"}, Content: "text", Plugins: []string{"csv2jsonl"}, Output: "{stem}.jsonl"},
		{Name: "images", MIME: []string{"image/*"}, Plugins: []string{}},
		{Name: "rest", Plugins: []string{"upper"}},
	}
	ts := newTestServer(t, b, Options{})
	resp := ts.do(t, "GET", "/", "")
	wantStatus(t, resp, 200)
	page := readBody(t, resp)
	rows := regexp.MustCompile(`(?s)<tbody id="pipeline-rows">(.*?)</tbody>`).FindStringSubmatch(page)
	if rows == nil {
		t.Fatal("no pipeline rows")
	}
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(strings.ReplaceAll(rows[1], "</td>", " "), "")
	text = strings.Join(strings.Fields(text), " ")
	for _, want := range []string{"csv *.csv · text files csv2jsonl (as {stem}.jsonl)", "images image/*", "rest every file upper"} {
		if !strings.Contains(text, want) {
			t.Errorf("pipeline rows %q lack %q", text, want)
		}
	}
}

// laterBackend serves other pipelines to its first two callers (the
// metrics at New and the page's server-side rendering), so that rows
// showing the real ones can only come from the page's script.
type laterBackend struct {
	*fakeBackend
	mu    sync.Mutex
	calls int
	first []host.PipelineConfig
}

func (b *laterBackend) Pipelines() []host.PipelineConfig {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.calls <= 2 {
		return b.first
	}
	return b.fakeBackend.Pipelines()
}

// The live page's script renders the same words as the server.
func TestBrowserPipelines(t *testing.T) {
	ctx := webtest.Browser(t)
	fb := newFakeBackend(t)
	fb.pipelines = []host.PipelineConfig{
		{Name: "csv", Match: []string{"*.csv"}, Content: "text", Plugins: []string{"csv2jsonl"}, Output: "{stem}.jsonl"},
		{Name: "images", MIME: []string{"image/*"}, Plugins: []string{}},
		{Name: "rest", Plugins: []string{"upper"}},
	}
	b := &laterBackend{fakeBackend: fb, first: []host.PipelineConfig{{Name: "server-side", Plugins: []string{}}}}
	s := New(b, Options{Addr: "127.0.0.1:0"})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	webtest.Do(t, ctx, chromedp.Navigate(s.URL()))
	webtest.WaitFor(t, ctx, webtest.Live)
	want := "csv | *.csv · text files | csv2jsonl (as {stem}.jsonl) | images | image/* |  | rest | every file | upper"
	// The first three cells of each row: name, what it takes, its plugins.
	webtest.WaitFor(t, ctx, `[...document.querySelectorAll('#pipeline-rows tr')].flatMap((tr) => [...tr.cells].slice(0, 3).map((td) => td.textContent.trim())).join(' | ') === `+strconv.Quote(want))
}
