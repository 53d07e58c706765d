package web

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
)

// How many records of each list the page shows; the files browser and
// the JSON API page through the rest.
var shown = tracker.Limits{Queue: 10, Processing: 50, Recent: 15, Failed: 15}

// ignoredShown bounds the ignored names a view carries.
const ignoredShown = 50

// tickPoints is how many seconds of throughput each view carries: the
// page lays them over the series it loaded.
const tickPoints = 3

// Chart ranges, in seconds: the last minute, 15 minutes, an hour.
var chartRanges = []int{60, 900, 3600}

const defaultRange = 900

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("GET /files/{id}/delete", s.handleDeletePage)
	mux.HandleFunc("GET /assets/{name}", s.handleAsset)
	mux.HandleFunc("GET /favicon.ico", s.handleFavicon)
	mux.HandleFunc("GET /api/status", s.handleStatus)
	mux.HandleFunc("GET /api/dashboard", s.handleDashboard)
	mux.HandleFunc("GET /api/files", s.handleFiles)
	mux.HandleFunc("GET /api/files/{id}", s.handleFile)
	mux.HandleFunc("GET /api/files/{id}/result", s.handleResult)
	mux.HandleFunc("GET /api/files/{id}/original", s.handleOriginal)
	mux.HandleFunc("GET /api/files/{id}/report", s.handleReport)
	mux.HandleFunc("POST /api/files/{id}/retry", s.handleRetry)
	mux.HandleFunc("POST /api/reload", s.handleReload)
	mux.HandleFunc("POST /api/files/{id}/delete", s.handleDelete)
	mux.HandleFunc("GET /api/ignored", s.handleIgnored)
	mux.HandleFunc("GET /api/plugins", s.handlePlugins)
	mux.HandleFunc("GET /api/pipelines", s.handlePipelines)
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
	Version   string            `json:"version"`
	Started   time.Time         `json:"started"`
	Now       time.Time         `json:"now"`
	Uptime    float64           `json:"uptime_s"`
	Ready     bool              `json:"ready"`
	NotReady  string            `json:"not_ready,omitempty"`
	Seq       uint64            `json:"seq"`
	Totals    tracker.Totals    `json:"totals"`
	Last      *tracker.File     `json:"last"`
	Pipelines []pipelineRow     `json:"pipelines"`
	Folders   []string          `json:"folders"` // watched folders, uploads go to one
	MaxUpload int64             `json:"max_upload"`
	Config    host.ReloadStatus `json:"config"` // the configuration generation and the last reload
	// CSRF is the token a browser's POSTs carry in X-CSRF-Token. It is
	// new each time the server starts.
	CSRF string `json:"csrf"`
}

// pipelineRow is a configured pipeline, what it takes, and its figures
// since start.
type pipelineRow struct {
	Name     string        `json:"name"`
	Match    []string      `json:"match"`
	Content  string        `json:"content"` // "text", "binary" or "any"
	MIME     []string      `json:"mime"`
	Plugins  []string      `json:"plugins"`
	Output   string        `json:"output,omitempty"`
	Files    int64         `json:"files"`
	Failed   int64         `json:"failed"`
	BytesIn  int64         `json:"bytes_in"`
	BytesOut int64         `json:"bytes_out"`
	P50      time.Duration `json:"p50_ns"`
	P95      time.Duration `json:"p95_ns"`
}

// pluginRow merges what the tracker measured per file with the plugin's
// own counters and pool.
type pluginRow struct {
	Name     string        `json:"name"`
	Loaded   bool          `json:"loaded"`
	Path     string        `json:"path,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	LoadTime time.Duration `json:"load_time_ns"`
	// Compiling: its files run in an interpreter until then (cold start).
	Compiling bool `json:"compiling"`
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
// seconds): files finished (processed or failed) and bytes read.
type throughput struct {
	Start int64   `json:"start"`
	Step  int     `json:"step_s"`
	Files []int64 `json:"files"`
	Bytes []int64 `json:"bytes"`
}

// view is the state of every panel at one moment: the "view" event
// sent to open pages, and the live part of /api/dashboard. Everything in
// it comes from one tracker.View, so the panels agree.
type view struct {
	Now        time.Time      `json:"now"`
	Uptime     float64        `json:"uptime_s"`
	Ready      bool           `json:"ready"`
	NotReady   string         `json:"not_ready,omitempty"`
	Seq        uint64         `json:"seq"`
	Totals     tracker.Totals `json:"totals"`
	Last       *tracker.File  `json:"last"`
	Queue      []tracker.File `json:"queue"`      // the oldest queued
	Processing []tracker.File `json:"processing"` // oldest first
	Recent     []tracker.File `json:"recent"`     // newest first
	Failed     []tracker.File `json:"failed"`     // newest first
	Plugins    []pluginRow    `json:"plugins"`
	Pipelines  []pipelineRow  `json:"pipelines"`
	Rate       tracker.Rate   `json:"rate"`   // sliding window
	Points     throughput     `json:"points"` // the last few seconds
	Ignored    []host.Ignored `json:"ignored"`
	IgnoredAll int            `json:"ignored_total"`
	// Config is the configuration generation in use and the last reload.
	Config host.ReloadStatus `json:"config"`
}

// dashboard is everything the page shows: what it is rendered from and
// what /api/dashboard returns for the script to draw it.
type dashboard struct {
	view
	Version    string     `json:"version"`
	Started    time.Time  `json:"started"`
	Build      string     `json:"build"`
	Folders    []string   `json:"folders"`
	MaxUpload  int64      `json:"max_upload"`
	CSRF       string     `json:"csrf"`
	Throughput throughput `json:"throughput"` // the last hour
}

func (s *Server) view() view {
	tv := s.tracker.View(shown)
	v := view{
		Now: tv.Now, Uptime: tv.Now.Sub(s.b.Started()).Seconds(),
		Seq: tv.Seq, Totals: tv.Totals, Last: slim1(tv.Last),
		Queue: slim(tv.Queue), Processing: slim(tv.Processing), Recent: slim(tv.Recent), Failed: slim(tv.Failed),
		Plugins:   s.pluginRows(tv.Plugins),
		Pipelines: s.pipelineRows(tv.Pipelines),
		Rate:      tv.Rate,
		Points:    toThroughput(s.tracker.Throughput(tickPoints)),
	}
	v.Ready, v.NotReady = s.ready()
	v.Config = s.b.ReloadStatus()
	ig := s.b.Ignored()
	v.IgnoredAll = len(ig)
	v.Ignored = ig[:min(len(ig), ignoredShown)]
	if v.Ignored == nil {
		v.Ignored = []host.Ignored{}
	}
	return v
}

// slim drops the per-plugin stages, which the page does not show
// (GET /api/files/{id} has them).
func slim(files []tracker.File) []tracker.File {
	for i := range files {
		files[i].Stages = nil
	}
	return files
}

func slim1(f *tracker.File) *tracker.File {
	if f != nil {
		f.Stages = nil
	}
	return f
}

// dashboard returns what the page shows, with the last points seconds
// of throughput (0: the hour).
func (s *Server) dashboard(points int) dashboard {
	return dashboard{
		view:       s.view(),
		Version:    s.opts.Version,
		Started:    s.b.Started(),
		Build:      assetsVersion,
		Folders:    nonNil(s.b.Folders()),
		MaxUpload:  s.opts.MaxUpload,
		CSRF:       s.csrf,
		Throughput: toThroughput(s.tracker.Throughput(points)),
	}
}

func (s *Server) status() status {
	v := s.view()
	return status{
		Version: s.opts.Version, Started: s.b.Started(), Now: v.Now, Uptime: v.Uptime,
		Ready: v.Ready, NotReady: v.NotReady, Seq: v.Seq, Totals: v.Totals, Last: v.Last,
		Pipelines: v.Pipelines, Folders: nonNil(s.b.Folders()), MaxUpload: s.opts.MaxUpload, CSRF: s.csrf,
		Config: v.Config,
	}
}

func (s *Server) ready() (bool, string) {
	if err := s.b.Ready(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// pluginRows lists loaded plugins and any plugin the tracker has figures
// for, sorted by name.
func (s *Server) pluginRows(figures []tracker.PluginFigures) []pluginRow {
	rows := map[string]*pluginRow{}
	for _, p := range s.b.Plugins() {
		st := p.Stats()
		live, idle := p.Instances()
		rows[p.Name()] = &pluginRow{
			Name: p.Name(), Loaded: true, Path: p.Path(), SHA256: p.SHA256(), LoadTime: p.LoadTime(), Meta: p.Meta(),
			Compiling: p.Compiling(),
			Calls:     st.Calls.Load(), CallTime: time.Duration(st.Nanos.Load()),
			Live: live, Idle: idle, Recycled: st.Recycled.Load(),
		}
	}
	for _, f := range figures {
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

// pipelineRows lists the configured pipelines in config order with their
// figures, then any pipeline the tracker knows that the config no longer
// has.
func (s *Server) pipelineRows(figures []tracker.PipelineFigures) []pipelineRow {
	byName := map[string]tracker.PipelineFigures{}
	for _, f := range figures {
		byName[f.Name] = f
	}
	out := []pipelineRow{}
	add := func(p host.PipelineConfig) {
		f := byName[p.Name]
		delete(byName, p.Name)
		content := p.Content
		if content == "" {
			content = "any"
		}
		out = append(out, pipelineRow{Name: p.Name, Match: nonNil(p.Match), Content: content, MIME: nonNil(p.MIME),
			Plugins: nonNil(p.Plugins), Output: p.Output,
			Files: f.Files, Failed: f.Failed, BytesIn: f.BytesIn, BytesOut: f.BytesOut, P50: f.P50, P95: f.P95})
	}
	for _, p := range s.b.Pipelines() {
		add(p)
	}
	for _, f := range figures {
		if _, ok := byName[f.Name]; ok {
			add(host.PipelineConfig{Name: f.Name})
		}
	}
	return out
}

func toThroughput(pts []tracker.Point) throughput {
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
	writeJSON(w, http.StatusOK, s.dashboard(0))
}

func (s *Server) handlePlugins(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.pluginRows(s.tracker.Plugins()))
}

func (s *Server) handlePipelines(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.pipelineRows(s.tracker.Pipelines()))
}

func (s *Server) handleIgnored(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNilIgnored(s.b.Ignored()))
}

func nonNilIgnored(ig []host.Ignored) []host.Ignored {
	if ig == nil {
		return []host.Ignored{}
	}
	return ig
}

// handleThroughput returns the last ?range= seconds (60, 900 or 3600;
// default 900).
func (s *Server) handleThroughput(w http.ResponseWriter, r *http.Request) {
	n, err := rangeParam(r.URL.Query().Get("range"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toThroughput(s.tracker.Throughput(n)))
}

func rangeParam(v string) (int, error) {
	if v == "" {
		return defaultRange, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || !slices.Contains(chartRanges, n) {
		return 0, errorf(kindInvalid, "range must be 60, 900 or 3600 seconds, not %q", v)
	}
	return n, nil
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
	q, offset, limit, err := fileQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	files, total := s.tracker.Query(q, offset, limit)
	writeJSON(w, http.StatusOK, fileList{Files: files, Total: total, Offset: offset, Limit: limit})
}

// fileQuery reads the files browser's parameters: state, q (part of the
// name), pipeline, folder, offset and limit.
func fileQuery(r *http.Request) (tracker.Filter, int, int, error) {
	v := r.URL.Query()
	q := tracker.Filter{State: tracker.State(v.Get("state")), Name: v.Get("q"), Pipeline: v.Get("pipeline"), Folder: v.Get("folder")}
	switch q.State {
	case "", tracker.Queued, tracker.Processing, tracker.Processed, tracker.Failed:
	default:
		return q, 0, 0, errorf(kindInvalid, "state must be queued, processing, processed or failed, not %q", q.State)
	}
	if len(q.Name) > 1024 {
		return q, 0, 0, errorf(kindInvalid, "q: longer than 1024 bytes")
	}
	offset, err := intParam(v.Get("offset"), 0, 0, 1<<31-1)
	if err != nil {
		return q, 0, 0, errorf(kindInvalid, "offset: %v", err)
	}
	limit, err := intParam(v.Get("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		return q, 0, 0, errorf(kindInvalid, "limit: %v", err)
	}
	return q, offset, limit, nil
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
	s.serveFile(w, r, s.b.OpenResult)
}

// handleOriginal sends a failed file's original, as handleResult does.
func (s *Server) handleOriginal(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, s.b.OpenFailed)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, open func(uint64) (*os.File, fs.FileInfo, error)) {
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, fi, err := open(id)
	if err != nil {
		s.fail(w, r, err) // Gone or not a plain file: not found; else internal.
		return
	}
	defer f.Close()
	name := filepath.Base(f.Name())
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
	http.ServeContent(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.opts.writeTimeout}, r, name, fi.ModTime(), f)
}

// deadlineWriter gives each write of a download writeTimeout: a client
// that stops reading releases its connection instead of holding it.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) // Unsupported under httptest.ResponseRecorder.
	return d.ResponseWriter.Write(p)
}

// handleReport sends a failed file's error report, as JSON, or with
// ?view=1 as plain text in a sandbox.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data, err := s.b.Report(id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	if r.URL.Query().Get("view") != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	} else {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

// mutating checks what every POST on a file needs: same origin, and the
// CSRF token in a header or form field (or a bearer token).
func (s *Server) mutating(r *http.Request, w http.ResponseWriter) error {
	if err := s.checkOrigin(r); err != nil {
		return err
	}
	if !s.csrfExempt(r) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !s.csrfOK(r.PostFormValue("csrf")) {
			return errCSRF
		}
	}
	return nil
}

// handleDelete removes a failed file and its report from failed/ (the
// page asks for confirmation first).
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	s.onFailed(w, r, s.b.DeleteFailed, "failed file deleted from the dashboard", http.StatusOK, "deleted")
}

func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	s.onFailed(w, r, s.b.Retry, "retry requested from the dashboard", http.StatusAccepted, "retried")
}

// onFailed runs act on the failed file the request names, logs msg, and
// answers a form with the failed list and a script with status and
// {"id": ID, done: true}.
func (s *Server) onFailed(w http.ResponseWriter, r *http.Request, act func(uint64) error, msg string, status int, done string) {
	if err := s.mutating(r, w); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := fileID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := act(id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.logger.Info(msg, "id", id)
	if wantsHTML(r) {
		http.Redirect(w, r, "/#failed", http.StatusSeeOther)
		return
	}
	writeJSON(w, status, map[string]any{"id": id, done: true})
}

// handleReload reloads the configuration (the dashboard's Reload button,
// or a script), answering once the reload has taken effect or failed.
func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if err := s.mutating(r, w); err != nil {
		s.fail(w, r, err)
		return
	}
	err := s.b.Reload(r.Context())
	st := s.b.ReloadStatus()
	s.logger.Info("reload requested from the dashboard", "ok", err == nil)
	if wantsHTML(r) {
		if err != nil && !errors.Is(err, host.ErrReloadBusy) {
			s.fail(w, r, errorf(kindInvalid, "reload failed; the running configuration stays: %s", err))
			return
		}
		http.Redirect(w, r, "/#config", http.StatusSeeOther)
		return
	}
	switch {
	case errors.Is(err, host.ErrReloadBusy):
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "code": "busy", "config": st})
	case err != nil:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": err.Error(), "code": "invalid_config", "config": st})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "config": st})
	}
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
