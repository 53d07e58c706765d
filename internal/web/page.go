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
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/filehost/host/internal/tracker"
)

//go:embed assets
var assets embed.FS

// pages holds index.html and error.html. html/template escapes every
// value for its context: a file name is text, never markup.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"bytes":    formatBytes,
	"dur":      formatDuration,
	"clock":    func(t time.Time) string { return t.Local().Format("15:04:05") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"since":    func(now, t time.Time) string { return formatDuration(now.Sub(t)) },
	"took":     func(now time.Time, f tracker.File) string { return formatDuration(f.Duration(now)) },
	"pct":      percent,
	"short":    func(s string) string { return s[:min(len(s), 12)] },
	"join":     strings.Join,
	"chain":    func(p []string) string { return strings.Join(p, " → ") },
	"instance": func(live, idle int) string { return fmt.Sprintf("%d busy · %d idle", live-idle, idle) },
}).ParseFS(assets, "assets/*.html"))

// pageData is what index.html is rendered from.
type pageData struct {
	dashboard
	Chart chart
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	d := s.dashboard()
	data := pageData{dashboard: d, Chart: newChart(d.Throughput)}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "index.html", data); err != nil {
		s.fail(w, r, fmt.Errorf("render dashboard: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// asset is an embedded file with its ETag.
type asset struct {
	body []byte
	etag string
}

var assetFiles = func() map[string]asset {
	m := map[string]asset{}
	for _, name := range []string{"app.js", "style.css"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		m[name] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return m
}()

func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a, ok := assetFiles[name]
	if !ok {
		s.fail(w, r, errorf(kindNotFound, "no asset %q", name))
		return
	}
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Cache-Control", "no-cache") // Revalidate: cheap with the ETag, and never stale after an upgrade.
	if path.Ext(name) == ".js" {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// chart is the throughput chart as the page first shows it; app.js draws
// the same from then on.
type chart struct {
	FilesArea, BytesArea string // SVG path data in a 900×100 box
	FilesMax, BytesMax   string // top of each scale
	FilesNow, BytesNow   string // mean of the last 10 whole seconds
}

const chartW, chartH = 900, 100

func newChart(t throughput) chart {
	mb := make([]float64, len(t.Bytes))
	files := make([]float64, len(t.Files))
	for i := range t.Bytes {
		mb[i] = float64(t.Bytes[i]) / 1e6
		files[i] = float64(t.Files[i])
	}
	fmax, bmax := niceMax(files), niceMax(mb)
	return chart{
		FilesArea: area(files, fmax),
		BytesArea: area(mb, bmax),
		FilesMax:  formatRate(fmax, "files/s"),
		BytesMax:  formatRate(bmax, "MB/s"),
		FilesNow:  formatRate(recentMean(files), "files/s"),
		BytesNow:  formatRate(recentMean(mb), "MB/s"),
	}
}

// area is a closed path under the series, one unit per second.
func area(v []float64, top float64) string {
	if len(v) == 0 {
		return ""
	}
	var b strings.Builder
	off := chartW - len(v)
	fmt.Fprintf(&b, "M%d %d", off, chartH)
	for i, x := range v {
		y := chartH - x/top*chartH
		fmt.Fprintf(&b, "L%d %s", off+i, strconv.FormatFloat(y, 'f', 1, 64))
	}
	fmt.Fprintf(&b, "L%d %dZ", off+len(v)-1, chartH)
	return b.String()
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

// recentMean averages the 10 seconds before the current, unfinished one.
func recentMean(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	w := v[max(0, len(v)-11) : len(v)-1]
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	return sum / float64(len(w))
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

func percent(done, size int64) int {
	if size <= 0 {
		return 0
	}
	return int(min(100, done*100/size))
}
