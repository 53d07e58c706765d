package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/filehost/host/internal/tracker"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
// Per-file figures come from the tracker's events (see pump); state that
// is already counted elsewhere (queue depth, plugin counters, pools) is
// read at scrape time by a collector.
type metrics struct {
	// Children by label values, so a finished file costs no label
	// lookups; used only by the pump goroutine.
	byOutcome  map[[2]string]outcomeMetrics
	byPipeline map[string][2]prometheus.Counter // bytes in, out
	byPlugin   map[string]prometheus.Observer

	reg          *prometheus.Registry
	files        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	bytesIn      *prometheus.CounterVec
	bytesOut     *prometheus.CounterVec
	stage        *prometheus.HistogramVec
	streams      prometheus.Gauge
	missed       prometheus.Counter
	resubscribed prometheus.Counter
}

// durationBuckets span a small file through a plugin (a millisecond) to
// a large one (ten minutes).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

const noPipeline = "none" // label of a file that failed before a pipeline was chosen

func newMetrics(s *Server) *metrics {
	m := &metrics{
		byOutcome:  map[[2]string]outcomeMetrics{},
		byPipeline: map[string][2]prometheus.Counter{},
		byPlugin:   map[string]prometheus.Observer{},
		reg:        prometheus.NewRegistry(),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "filehost_files_total",
			Help: "Files finished, by pipeline and outcome (processed or failed).",
		}, []string{"pipeline", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "filehost_file_duration_seconds",
			Help:    "Processing time of finished files, from start to result, by pipeline and outcome.",
			Buckets: durationBuckets,
		}, []string{"pipeline", "outcome"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "filehost_bytes_in_total",
			Help: "Bytes read from finished files, by pipeline.",
		}, []string{"pipeline"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "filehost_bytes_out_total",
			Help: "Bytes written as results of finished files, by pipeline.",
		}, []string{"pipeline"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "filehost_plugin_file_duration_seconds",
			Help:    "Time a plugin spent on one file, by plugin.",
			Buckets: durationBuckets,
		}, []string{"plugin"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "filehost_dashboard_streams",
			Help: "Open dashboard event streams.",
		}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "filehost_dashboard_events_missed_total",
			Help: "Tracker events the dashboard missed because it fell behind; metrics fed by events undercount by as much.",
		}),
		resubscribed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "filehost_dashboard_resyncs_total",
			Help: "Times the dashboard fell behind the tracker and subscribed again.",
		}),
	}
	// Zeros for every pipeline, so rates exist before the first file.
	for _, p := range s.b.Pipelines() {
		m.outcome(p.Name, string(tracker.Processed))
		m.outcome(p.Name, string(tracker.Failed))
		m.pipeline(p.Name)
	}
	m.reg.MustRegister(m.files, m.duration, m.bytesIn, m.bytesOut, m.stage, m.streams, m.missed, m.resubscribed,
		&stateCollector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe counts a finished file.
func (m *metrics) observe(ev tracker.Event) {
	f := ev.File
	if ev.Removed || (f.State != tracker.Processed && f.State != tracker.Failed) {
		return
	}
	p := f.Pipeline
	if p == "" {
		p = noPipeline
	}
	o := m.outcome(p, string(f.State))
	o.files.Inc()
	o.duration.Observe(f.Duration(f.Finished).Seconds())
	bytes := m.pipeline(p)
	bytes[0].Add(float64(f.BytesDone))
	bytes[1].Add(float64(f.BytesOut))
	for _, st := range f.Stages {
		obs, ok := m.byPlugin[st.Plugin]
		if !ok {
			obs = m.stage.WithLabelValues(st.Plugin)
			m.byPlugin[st.Plugin] = obs
		}
		obs.Observe(st.Duration.Seconds())
	}
}

type outcomeMetrics struct {
	files    prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) outcome(pipeline, outcome string) outcomeMetrics {
	key := [2]string{pipeline, outcome}
	o, ok := m.byOutcome[key]
	if !ok {
		o = outcomeMetrics{m.files.WithLabelValues(pipeline, outcome), m.duration.WithLabelValues(pipeline, outcome)}
		m.byOutcome[key] = o
	}
	return o
}

func (m *metrics) pipeline(name string) [2]prometheus.Counter {
	c, ok := m.byPipeline[name]
	if !ok {
		c = [2]prometheus.Counter{m.bytesIn.WithLabelValues(name), m.bytesOut.WithLabelValues(name)}
		m.byPipeline[name] = c
	}
	return c
}

// stateCollector reads the tracker's totals and the plugins' own counters
// at scrape time.
type stateCollector struct{ s *Server }

var (
	descQueue      = prometheus.NewDesc("filehost_queue_depth", "Files waiting to be processed.", nil, nil)
	descProcessing = prometheus.NewDesc("filehost_files_processing", "Files being processed now.", nil, nil)
	descRetries    = prometheus.NewDesc("filehost_retries_total", "Attempts beyond a file's first.", nil, nil)
	descReady      = prometheus.NewDesc("filehost_ready", "1 when watchers run and plugins are loaded, else 0.", nil, nil)
	descBuild      = prometheus.NewDesc("filehost_build_info", "The host's version, as a label; always 1.", []string{"version"}, nil)
	descStarted    = prometheus.NewDesc("filehost_start_time_seconds", "When the host started, in Unix seconds.", nil, nil)
	descGeneration = prometheus.NewDesc("filehost_config_generation", "The configuration generation in use: 1 at start, one more per reload that took effect.", nil, nil)
	descReloads    = prometheus.NewDesc("filehost_config_reloads_total", "Reloads of the configuration that took effect.", nil, nil)
	descReloadFail = prometheus.NewDesc("filehost_config_reload_failures_total", "Reloads that failed and changed nothing.", nil, nil)

	plugin            = []string{"plugin"}
	descPluginInfo    = prometheus.NewDesc("filehost_plugin_info", "A loaded plugin and the SHA-256 of its .wasm file; always 1.", []string{"plugin", "sha256"}, nil)
	descPluginLoad    = prometheus.NewDesc("filehost_plugin_load_seconds", "How long loading the plugin took (compile or cache read, first instance).", plugin, nil)
	descPluginFiles   = prometheus.NewDesc("filehost_plugin_files_total", "Files a plugin began.", plugin, nil)
	descPluginErrors  = prometheus.NewDesc("filehost_plugin_errors_total", "Files a plugin failed.", plugin, nil)
	descPluginIn      = prometheus.NewDesc("filehost_plugin_bytes_in_total", "Bytes handed to a plugin.", plugin, nil)
	descPluginOut     = prometheus.NewDesc("filehost_plugin_bytes_out_total", "Bytes a plugin emitted.", plugin, nil)
	descPluginCalls   = prometheus.NewDesc("filehost_plugin_calls_total", "Calls into a plugin.", plugin, nil)
	descPluginCallSec = prometheus.NewDesc("filehost_plugin_call_seconds_total", "Time spent inside a plugin's calls.", plugin, nil)
	descInstances     = prometheus.NewDesc("filehost_plugin_instances", "A plugin's instance pool, by state (busy or idle).", []string{"plugin", "state"}, nil)
	descRecycled      = prometheus.NewDesc("filehost_plugin_instances_recycled_total", "Instances closed after a trap or for their size.", plugin, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueue, descProcessing, descRetries, descReady, descBuild, descStarted,
		descGeneration, descReloads, descReloadFail,
		descPluginInfo, descPluginLoad, descPluginFiles, descPluginErrors, descPluginIn, descPluginOut,
		descPluginCalls, descPluginCallSec, descInstances, descRecycled} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	snap := s.tracker.Snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descQueue, float64(snap.Totals.Queued))
	gauge(descProcessing, float64(snap.Totals.Processing))
	counter(descRetries, float64(snap.Totals.Retried))
	ready := 0.0
	if s.b.Ready() == nil {
		ready = 1
	}
	gauge(descReady, ready)
	gauge(descBuild, 1, s.opts.Version)
	rs := s.b.ReloadStatus()
	gauge(descGeneration, float64(rs.Generation))
	counter(descReloads, float64(rs.Reloads))
	counter(descReloadFail, float64(rs.Failed))
	gauge(descStarted, float64(s.b.Started().UnixNano())/1e9)
	for _, p := range s.b.Plugins() {
		name := p.Name()
		st := p.Stats()
		live, idle := p.Instances()
		gauge(descPluginInfo, 1, name, p.SHA256())
		gauge(descPluginLoad, p.LoadTime().Seconds(), name)
		counter(descPluginFiles, float64(st.Files.Load()), name)
		counter(descPluginErrors, float64(st.Errors.Load()), name)
		counter(descPluginIn, float64(st.BytesIn.Load()), name)
		counter(descPluginOut, float64(st.BytesOut.Load()), name)
		counter(descPluginCalls, float64(st.Calls.Load()), name)
		counter(descPluginCallSec, float64(st.Nanos.Load())/1e9, name)
		gauge(descInstances, float64(live-idle), name, "busy")
		gauge(descInstances, float64(idle), name, "idle")
		counter(descRecycled, float64(st.Recycled.Load()), name)
	}
}
