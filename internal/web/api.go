package web

import (
	"errors"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
)

// How many records of each list the dashboard shows; the JSON API pages
// through the rest.
const (
	queueShown      = 25
	processingShown = 200
	recentShown     = 50
	failedShown     = 50
	tickPoints      = 3 // throughput seconds sent with each tick
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("GET /assets/{name}", s.handleAsset)
	mux.HandleFunc("GET /api/status", s.handleStatus)
	mux.HandleFunc("GET /api/dashboard", s.handleDashboard)
	mux.HandleFunc("GET /api/files", s.handleFiles)
	mux.HandleFunc("GET /api/files/{id}", s.handleFile)
	mux.HandleFunc("GET /api/files/{id}/result", s.handleResult)
	mux.HandleFunc("POST /api/files/{id}/retry", s.handleRetry)
	mux.HandleFunc("GET /api/plugins", s.handlePlugins)
	mux.HandleFunc("GET /api/throughput", s.handleThroughput)
	mux.HandleFunc("POST /api/upload", s.handleUpload)
	mux.HandleFunc("GET /api/events", s.handleEvents)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	return s.guard(mux)
}

// status is the head of the dashboard: what /api/status returns.
type status struct {
	Version   string         `json:"version"`
	Started   time.Time      `json:"started"`
	Now       time.Time      `json:"now"`
	Uptime    float64        `json:"uptime_s"`
	Ready     bool           `json:"ready"`
	NotReady  string         `json:"not_ready,omitempty"`
	Seq       uint64         `json:"seq"`
	Totals    tracker.Totals `json:"totals"`
	Last      *tracker.File  `json:"last"`
	Pipelines []pipeline     `json:"pipelines"`
	MaxUpload int64          `json:"max_upload"`
	// CSRF is the token a browser's POSTs carry in X-CSRF-Token. It is
	// new each time the server starts.
	CSRF string `json:"csrf"`
}

type pipeline struct {
	Name    string   `json:"name"`
	Match   []string `json:"match"`
	Content string   `json:"content"` // "text", "binary" or "any"
	MIME    []string `json:"mime"`
	Plugins []string `json:"plugins"`
	Output  string   `json:"output,omitempty"`
}

// pluginRow merges what the tracker measured per file with the plugin's
// own counters and pool.
type pluginRow struct {
	Name     string        `json:"name"`
	Loaded   bool          `json:"loaded"`
	Path     string        `json:"path,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	LoadTime time.Duration `json:"load_time_ns"`
	// What the plugin declares about itself (docs/ABI.md, "Metadata").
	Meta *wasm.Meta `json:"meta,omitempty"`
	// From finished files, as the tracker saw them.
	Files    int64         `json:"files"`
	Errors   int64         `json:"errors"`
	BytesIn  int64         `json:"bytes_in"`
	BytesOut int64         `json:"bytes_out"`
	P50      time.Duration `json:"p50_ns"`
	P95      time.Duration `json:"p95_ns"`
	// From the plugin itself.
	Calls    int64         `json:"calls"`
	CallTime time.Duration `json:"call_ns"`
	Live     int           `json:"instances_live"`
	Idle     int           `json:"instances_idle"`
	Recycled int64         `json:"recycled"`
}

// throughput is one count per second, oldest first, from Start (Unix
// seconds).
type throughput struct {
	Start int64   `json:"start"`
	Step  int     `json:"step_s"`
	Files []int64 `json:"files"`
	Bytes []int64 `json:"bytes"`
}

// dashboard is everything the page shows: what it is rendered from and
// what /api/dashboard returns for the script to redraw it.
type dashboard struct {
	status
	Build      string         `json:"build"`
	Queue      []tracker.File `json:"queue"`
	Processing []tracker.File `json:"processing"`
	Recent     []tracker.File `json:"recent"`
	Failed     []tracker.File `json:"failed"`
	FailedAll  int            `json:"failed_kept"` // failed records still in history
	Plugins    []pluginRow    `json:"plugins"`
	Throughput throughput     `json:"throughput"`
}

// tick is the "status" event sent every second to open pages.
type tick struct {
	Now      time.Time      `json:"now"`
	Uptime   float64        `json:"uptime_s"`
	Ready    bool           `json:"ready"`
	NotReady string         `json:"not_ready,omitempty"`
	Seq      uint64         `json:"seq"`
	Totals   tracker.Totals `json:"totals"`
	Last     *tracker.File  `json:"last"`
	Queue    []tracker.File `json:"queue"`
	Plugins  []pluginRow    `json:"plugins"`
	Points   throughput     `json:"points"`
}

func (s *Server) status() status {
	now := time.Now()
	snap := s.tracker.Snapshot()
	st := status{
		Version:   s.opts.Version,
		Started:   s.b.Started(),
		Now:       now,
		Uptime:    now.Sub(s.b.Started()).Seconds(),
		Seq:       snap.Seq,
		Totals:    snap.Totals,
		Last:      snap.Last,
		MaxUpload: s.opts.MaxUpload,
		CSRF:      s.csrf,
	}
	st.Ready, st.NotReady = s.ready()
	for _, p := range s.b.Pipelines() {
		content := p.Content
		if content == "" {
			content = "any"
		}
		st.Pipelines = append(st.Pipelines, pipeline{Name: p.Name, Match: nonNil(p.Match), Content: content,
			MIME: nonNil(p.MIME), Plugins: nonNil(p.Plugins), Output: p.Output})
	}
	if st.Pipelines == nil {
		st.Pipelines = []pipeline{}
	}
	return st
}

func (s *Server) ready() (bool, string) {
	if err := s.b.Ready(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func (s *Server) dashboard() dashboard {
	d := dashboard{status: s.status(), Build: assetsVersion}
	d.Queue, _ = s.tracker.Files(tracker.Queued, 0, queueShown)
	d.Processing, _ = s.tracker.Files(tracker.Processing, 0, processingShown)
	d.Recent, _ = s.tracker.Files(tracker.Processed, 0, recentShown)
	d.Failed, d.FailedAll = s.tracker.Files(tracker.Failed, 0, failedShown)
	d.Plugins = s.plugins()
	d.Throughput = s.throughput(0)
	return d
}

func (s *Server) tick() tick {
	now := time.Now()
	snap := s.tracker.Snapshot()
	t := tick{
		Now:    now,
		Uptime: now.Sub(s.b.Started()).Seconds(),
		Seq:    snap.Seq,
		Totals: snap.Totals,
		Last:   snap.Last,
	}
	t.Ready, t.NotReady = s.ready()
	t.Queue, _ = s.tracker.Files(tracker.Queued, 0, queueShown)
	t.Plugins = s.plugins()
	t.Points = s.throughput(tickPoints)
	return t
}

// plugins lists loaded plugins and any plugin the tracker has figures
// for, sorted by name.
func (s *Server) plugins() []pluginRow {
	rows := map[string]*pluginRow{}
	for _, p := range s.b.Plugins() {
		st := p.Stats()
		live, idle := p.Instances()
		rows[p.Name()] = &pluginRow{
			Name: p.Name(), Loaded: true, Path: p.Path(), SHA256: p.SHA256(), LoadTime: p.LoadTime(), Meta: p.Meta(),
			Calls: st.Calls.Load(), CallTime: time.Duration(st.Nanos.Load()),
			Live: live, Idle: idle, Recycled: st.Recycled.Load(),
		}
	}
	for _, f := range s.tracker.Plugins() {
		r := rows[f.Name]
		if r == nil {
			r = &pluginRow{Name: f.Name}
			rows[f.Name] = r
		}
		r.Files, r.Errors, r.BytesIn, r.BytesOut, r.P50, r.P95 = f.Files, f.Errors, f.BytesIn, f.BytesOut, f.P50, f.P95
	}
	out := make([]pluginRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// throughput returns the last n seconds (all 15 minutes if n is 0).
func (s *Server) throughput(n int) throughput {
	pts := s.tracker.Throughput()
	if n > 0 && n < len(pts) {
		pts = pts[len(pts)-n:]
	}
	t := throughput{Step: 1, Files: make([]int64, len(pts)), Bytes: make([]int64, len(pts))}
	if len(pts) > 0 {
		t.Start = pts[0].Time.Unix()
	}
	for i, p := range pts {
		t.Files[i], t.Bytes[i] = p.Files, p.Bytes
	}
	return t
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.dashboard())
}

func (s *Server) handlePlugins(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.plugins())
}

func (s *Server) handleThroughput(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.throughput(0))
}

// fileList is a page of records.
type fileList struct {
	Files  []tracker.File `json:"files"`
	Total  int            `json:"total"`
	Offset int            `json:"offset"`
	Limit  int            `json:"limit"`
}

const (
	defaultLimit = 50
	maxLimit     = 1000
)

func (s *Server) handleFiles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := tracker.State(q.Get("state"))
	switch state {
	case "", tracker.Queued, tracker.Processing, tracker.Processed, tracker.Failed:
	default:
		s.fail(w, r, errorf(kindInvalid, "state must be queued, processing, processed or failed, not %q", state))
		return
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<31-1)
	if err != nil {
		s.fail(w, r, errorf(kindInvalid, "offset: %v", err))
		return
	}
	limit, err := intParam(q.Get("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		s.fail(w, r, errorf(kindInvalid, "limit: %v", err))
		return
	}
	files, total := s.tracker.Files(state, offset, limit)
	writeJSON(w, http.StatusOK, fileList{Files: files, Total: total, Offset: offset, Limit: limit})
}

func intParam(v string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("not a number")
	}
	if n < lo || n > hi {
		return 0, errorf(kindInvalid, "must be between %d and %d", lo, hi)
	}
	return n, nil
}

func fileID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, errorf(kindInvalid, "bad file id %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, ok := s.tracker.Get(id)
	if !ok {
		s.fail(w, r, errorf(kindNotFound, "file %d: not known (or no longer in history)", id))
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// handleResult sends a processed file's result: as a download, or with
// ?view=1 as plain text in a sandbox, so a result that is HTML cannot run
// in the dashboard's origin.
func (s *Server) handleResult(w http.ResponseWriter, r *http.Request) {
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	path, err := s.b.Result(id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.fail(w, r, err) // Gone since: not found; else internal.
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := filepath.Base(path)
	h := w.Header()
	if r.URL.Query().Get("view") != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	} else {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	h.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.csrfExempt(r) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !s.csrfOK(r.PostFormValue("csrf")) {
			s.fail(w, r, errCSRF)
			return
		}
	}
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.b.Retry(id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.logger.Info("retry requested from the dashboard", "id", id)
	if wantsHTML(r) {
		http.Redirect(w, r, "/#failed", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "retried": true})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.b.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
