package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/filehost/host/internal/tracker"
)

//go:embed assets
var assets embed.FS

// pages holds index.html, delete.html and error.html. html/template escapes every
// value for its context: a file name is text, never markup.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"bytes":      formatBytes,
	"dur":        formatDuration,
	"clock":      func(t time.Time) string { return t.Local().Format("15:04:05") },
	"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"since":      func(now, t time.Time) string { return formatDuration(now.Sub(t)) },
	"took":       func(now time.Time, f tracker.File) string { return formatDuration(f.Duration(now)) },
	"pct":        percent,
	"short":      func(s string) string { return s[:min(len(s), 12)] },
	"join":       strings.Join,
	"chain":      func(p []string) string { return strings.Join(p, " → ") },
	"instance":   func(live, idle int) string { return fmt.Sprintf("%d busy · %d idle", live-idle, idle) },
	"progress":   progressText,
	"rangeName":  rangeName,
	"plus":       func(a, b int) int { return a + b },
	"list":       func(v ...string) []string { return v },
	"actionData": func(f tracker.File, csrf string) actionData { return actionData{f, csrf} },
}).ParseFS(assets, "assets/*.html"))

// actionData is what the failed-actions template needs.
type actionData struct {
	File tracker.File
	CSRF string
}

// pageData is what index.html is rendered from.
type pageData struct {
	dashboard
	Chart  chart
	Browse browse
}

// browse is the files browser: one page of a search.
type browse struct {
	Q, State, Pipeline string
	Offset, Limit      int
	Files              []tracker.File
	Total              int
	Prev, Next         string // links to the neighbouring pages; "" at an end
	Error              string
	Idle               bool // no search asked for
}

// browseLimit is the files browser's page size.
const browseLimit = 25

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	n, err := rangeParam(r.URL.Query().Get("range"))
	if err != nil {
		n = defaultRange
	}
	d := s.dashboard(n) // The script loads the whole hour itself.
	data := pageData{dashboard: d, Chart: newChart(d.Throughput, n, d.Rate), Browse: s.browse(r)}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "index.html", data); err != nil {
		s.fail(w, r, fmt.Errorf("render dashboard: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// browse runs the search in the page's query (q, state, pipeline,
// offset), for the page rendered without JavaScript.
func (s *Server) browse(r *http.Request) browse {
	v := r.URL.Query()
	if !v.Has("q") && !v.Has("state") && !v.Has("pipeline") && !v.Has("offset") {
		return browse{Idle: true} // The panels above show the latest files.
	}
	if !v.Has("limit") {
		v.Set("limit", strconv.Itoa(browseLimit))
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = v.Encode()
	q, offset, limit, err := fileQuery(r2)
	b := browse{Q: q.Name, State: string(q.State), Pipeline: q.Pipeline, Offset: offset, Limit: limit}
	if err != nil {
		_, b.Error = classify(err)
		return b
	}
	b.Files, b.Total = s.tracker.Query(q, offset, limit)
	slim(b.Files)
	link := func(off int) string {
		u := url.Values{}
		for k, val := range map[string]string{"q": q.Name, "state": string(q.State), "pipeline": q.Pipeline} {
			if val != "" {
				u.Set(k, val)
			}
		}
		if off > 0 {
			u.Set("offset", strconv.Itoa(off))
		}
		return "/?" + u.Encode() + "#files"
	}
	if offset > 0 {
		b.Prev = link(max(offset-limit, 0))
	}
	if offset+limit < b.Total {
		b.Next = link(offset + limit)
	}
	return b
}

// handleDeletePage asks for confirmation before a failed file is deleted,
// for browsers without JavaScript (the script asks with a dialog).
func (s *Server) handleDeletePage(w http.ResponseWriter, r *http.Request) {
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, ok := s.tracker.Get(id)
	if !ok || f.State != tracker.Failed || f.Retried {
		s.fail(w, r, errorf(kindNotFound, "file %d: not a failed file (or no longer in history)", id))
		return
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "delete.html", struct {
		File tracker.File
		CSRF string
	}{f, s.csrf}); err != nil {
		s.fail(w, r, fmt.Errorf("render delete page: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// asset is an embedded file with its ETag.
type asset struct {
	body  []byte
	etag  string
	ctype string
}

var assetFiles = func() map[string]asset {
	m := map[string]asset{}
	for name, ctype := range map[string]string{
		"app.js":      "text/javascript; charset=utf-8",
		"style.css":   "text/css; charset=utf-8",
		"favicon.svg": "image/svg+xml",
	} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		m[name] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
	}
	return m
}()

func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r, r.PathValue("name"))
}

// handleFavicon answers browsers that ask for /favicon.ico whatever the
// page links to.
func (s *Server) handleFavicon(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r, "favicon.svg")
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := assetFiles[name]
	if !ok {
		s.fail(w, r, errorf(kindNotFound, "no asset %q", name))
		return
	}
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Cache-Control", "no-cache") // Revalidate: cheap with the ETag, and never stale after an upgrade.
	w.Header().Set("Content-Type", a.ctype)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// chart is the throughput chart as the page first shows it; app.js draws
// the same from then on.
type chart struct {
	Range                int    // seconds shown
	Ranges               []int  // the choices
	FilesArea, BytesArea string // SVG path data in a 900×100 box
	FilesMax, BytesMax   string // top of each scale
	FilesNow, BytesNow   string // sliding-window rates
}

const chartW, chartH = 900, 100

// newChart draws the last n seconds of t: at most one column per unit of
// width (an hour is averaged four seconds to a column), each column as
// wide as its share, and scaled to the largest value shown.
func newChart(t throughput, n int, now tracker.Rate) chart {
	files := series(t.Files, n, 1)
	mb := series(t.Bytes, n, 1e6)
	fmax, bmax := niceMax(files), niceMax(mb)
	return chart{
		Range:     n,
		Ranges:    chartRanges,
		FilesArea: area(files, fmax),
		BytesArea: area(mb, bmax),
		FilesMax:  formatRate(fmax, "files/s"),
		BytesMax:  formatRate(bmax, "MB/s"),
		FilesNow:  formatRate(now.Files, "files/s"),
		BytesNow:  formatRate(now.Bytes/1e6, "MB/s"),
	}
}

// series takes the last n values, divided by unit, averaged in groups so
// that there are at most chartW.
func series(v []int64, n int, unit float64) []float64 {
	if len(v) > n {
		v = v[len(v)-n:]
	}
	group := max(1, (len(v)+chartW-1)/chartW)
	out := make([]float64, 0, len(v)/group+1)
	for i := 0; i < len(v); i += group {
		sum := 0.0
		end := min(i+group, len(v))
		for _, x := range v[i:end] {
			sum += float64(x)
		}
		out = append(out, sum/float64(end-i)/unit)
	}
	return out
}

// area is a closed path of steps under the series, which spans the width.
func area(v []float64, top float64) string {
	if len(v) == 0 {
		return ""
	}
	step := float64(chartW) / float64(len(v))
	b := make([]byte, 0, 16+len(v)*28)
	b = append(b, "M0 "...)
	b = strconv.AppendInt(b, chartH, 10)
	for i, val := range v {
		y := chartH - val/top*chartH
		for _, x := range [2]float64{float64(i) * step, float64(i+1) * step} {
			b = append(b, 'L')
			b = strconv.AppendFloat(b, x, 'f', 1, 64)
			b = append(b, ' ')
			b = strconv.AppendFloat(b, y, 'f', 1, 64)
		}
	}
	b = append(b, 'L')
	b = strconv.AppendInt(b, chartW, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, chartH, 10)
	b = append(b, 'Z')
	return string(b)
}

// niceMax is the top of a scale: 1, 2 or 5 times a power of ten, at least
// the largest value and at least 1.
func niceMax(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	if m <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 5, 10} {
		if m <= f*p {
			return f * p
		}
	}
	return 10 * p
}

func formatRate(v float64, unit string) string {
	switch {
	case v == 0:
		return "0 " + unit
	case v < 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
}

// rangeName labels a chart range.
func rangeName(n int) string {
	switch n {
	case 60:
		return "1 min"
	case 3600:
		return "1 h"
	}
	return strconv.Itoa(n/60) + " min"
}

// formatBytes writes n in binary units: "512 B", "1.5 KiB", "20 MiB".
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= 1024
		if v < 1024 || unit == "TiB" {
			if v < 10 {
				return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
			}
			return strconv.FormatFloat(v, 'f', 0, 64) + " " + unit
		}
	}
	return "" // unreachable
}

// formatDuration is short and human: "850 µs", "12 ms", "3.4 s", "2m05s",
// "3h12m", "2d4h".
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		return strconv.FormatInt(int64(d.Seconds()), 10) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// progressText says how far a file being processed is: the share read,
// or, once all is read, that the chain is finishing it (a small file is
// read at once, so 100% would say nothing).
func progressText(done, size int64) string {
	if size > 0 && done >= size {
		return "all " + formatBytes(size) + " read · finishing"
	}
	return fmt.Sprintf("%d%% · %s of %s read", percent(done, size), formatBytes(done), formatBytes(size))
}

func percent(done, size int64) int {
	if size <= 0 {
		return 0
	}
	return int(min(100, done*100/size))
}
