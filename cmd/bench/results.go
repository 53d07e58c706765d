package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Results are everything a run measured. Figures are the medians of the
// samples, keyed PHASE.VARIANT.SYSTEM.METRIC, e.g.
// "small.sync.host.files_per_s"; unit suffixes: _per_s, _ms, _s, _mib.
type Results struct {
	Started time.Time            `json:"started"`
	Seconds float64              `json:"seconds"`
	Machine Machine              `json:"machine"`
	Params  map[string]any       `json:"params"`
	Figures map[string]float64   `json:"figures"`
	Ratios  map[string]float64   `json:"ratios"`
	Targets []Target             `json:"targets"`
	Timing  map[string]string    `json:"timing"` // how each system's processed times were observed
	Skipped map[string]string    `json:"skipped,omitempty"`
	Samples map[string][]float64 `json:"samples"`

	timing map[string]string
}

// Target is a goal of issues 5 and 15, checked against this run's figures.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Want  string  `json:"want"`
	Met   bool    `json:"met"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Memory    string `json:"memory"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Disk      string `json:"disk"`
	LoadStart string `json:"load_avg_start"`
	LoadEnd   string `json:"load_avg_end"`
	Host      string `json:"host_version"`
}

func newResults(o *options, tmp string) *Results {
	r := &Results{
		Started: time.Now(),
		Machine: machine(o.host, tmp),
		Params: map[string]any{
			"host": o.host, "plugins": o.plugins, "chain": o.chain, "large_chain": o.largeChain,
			"files": o.files, "coreutils_files": o.shFiles, "file_size": o.fileSize, "large": o.large,
			"paced_files": o.paced, "paced_rate": o.rate, "reps": o.reps,
			"workers": o.workers, "settle": o.settle.String(), "quick": o.quick, "langs_size": o.langsSize,
		},
		Figures: map[string]float64{},
		Ratios:  map[string]float64{},
		Samples: map[string][]float64{},
		Skipped: map[string]string{},
		timing:  map[string]string{},
	}
	r.Timing = r.timing
	return r
}

func (r *Results) add(key string, v float64) { r.Samples[key] = append(r.Samples[key], v) }

func (r *Results) skip(key, why string) { r.Skipped[key] = why }

// finish takes the medians, the ratios and the targets.
func (r *Results) finish() {
	r.Seconds = time.Since(r.Started).Seconds()
	r.Machine.LoadEnd = loadAvg()
	for k, v := range r.Samples {
		r.Figures[k] = median(v)
	}
	for _, row := range tableRows {
		host, ok := r.Figures[row.key(row.subjectSys())]
		if !ok {
			continue
		}
		for _, base := range row.bases {
			if v, ok := r.Figures[row.key(base)]; ok && v != 0 {
				r.Ratios[row.ratioKey(base)] = host / v
			}
		}
	}
	r.langsRatios()
	r.memoryRatios()
	r.Targets = nil
	for _, t := range targets {
		if v, ok := t.value(r); ok {
			r.Targets = append(r.Targets, Target{Name: t.name, Value: round(v, 3), Want: t.want, Met: t.met(v)})
		}
	}
}

// target is a goal from issue 5 (small files, the large file against
// coreutils, peak RSS) or issue 15 (performance).
type target struct {
	name, want string
	value      func(*Results) (float64, bool)
	met        func(float64) bool
}

func ratio(key string) func(*Results) (float64, bool) {
	return func(r *Results) (float64, bool) { v, ok := r.Ratios[key]; return v, ok }
}

func figure(key string) func(*Results) (float64, bool) {
	return func(r *Results) (float64, bool) { v, ok := r.Figures[key]; return v, ok }
}

func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }

func atMost(want float64) func(float64) bool { return func(v float64) bool { return v <= want } }

func below(want float64) func(float64) bool { return func(v float64) bool { return v < want } }

var targets = []target{
	{"small files/s, sync, host ÷ native", ">= 0.95", ratio("small.sync.files_per_s.host/native"), atLeast(0.95)},
	{"small files/s, no sync, host ÷ native", ">= 0.70", ratio("small.nosync.files_per_s.host/native"), atLeast(0.70)},
	{"large file MB/s, host ÷ native Go", ">= 1.00", ratio("large.mb_per_s.host/native"), atLeast(1)},
	{"large file MB/s, host ÷ coreutils", ">= 1.00", ratio("large.mb_per_s.host/coreutils"), atLeast(1)},
	{"large file peak RSS, host (MiB)", "< 100", figure("large.host.peak_rss_mib"), below(100)},
	{"smaller file peak RSS, host (MiB)", "< 100", figure("large.host.peak_rss_small_mib"), below(100)},
	{"RSS per loaded Go plugin, trim (MiB)", "<= 8", figure("langs.trim.go.mem_mib"), atMost(8)},
	{"RSS per Go plugin after a file, warm (MiB)", "<= 8", figure("memory.per_go_plugin.host.warm_mib"), atMost(8)},
	{"shipped pipeline peak RSS, cold (MiB)", "< 100", figure("memory.shipped.host.cold_mib"), below(100)},
	{"shipped pipeline peak RSS, warm (MiB)", "< 100", figure("memory.shipped.host.warm_mib"), below(100)},
	{"shipped, bigger file, cold (MiB)", "< 100", figure("memory.shipped.host.big_cold_mib"), below(100)},
	{"shipped, bigger file, warm (MiB)", "< 100", figure("memory.shipped.host.big_warm_mib"), below(100)},
	{"start-up, cold cache (s)", "< 3", figure("startup.host.cold_s"), below(3)},
	{"start-up, warm cache (s)", "< 0.3", figure("startup.host.warm_s"), below(0.3)},
}

// row is a line of the table: one metric for the host and its baselines.
type row struct {
	label   string
	phase   string // "small.sync", "large"...
	metric  string // "files_per_s"...
	bases   []string
	subject string // the system in the host column: "" is sysHost
}

func (w row) subjectSys() string {
	if w.subject == "" {
		return sysHost
	}
	return w.subject
}

func (w row) key(sys string) string { return w.phase + "." + sys + "." + w.metric }

func (w row) ratioKey(base string) string {
	return strings.TrimPrefix(w.phase+"."+w.metric, ".") + "." + w.subjectSys() + "/" + base
}

var (
	smallBases = []string{sysNative, sysCoreutils}
	largeBases = []string{sysNative, sysCoreutils, sysCat}
	tableRows  = []row{
		{"small files, sync: files/s", "small.sync", "files_per_s", smallBases, ""},
		{"  p50 drop->processed (ms)", "small.sync", "p50_ms", smallBases, ""},
		{"  p99 drop->processed (ms)", "small.sync", "p99_ms", smallBases, ""},
		{"small files, no sync: files/s", "small.nosync", "files_per_s", smallBases, ""},
		{"  p50 drop->processed (ms)", "small.nosync", "p50_ms", smallBases, ""},
		{"  p99 drop->processed (ms)", "small.nosync", "p99_ms", smallBases, ""},
		{"no plugins, sync: files/s", "small.sync", "files_per_s", []string{sysNative}, sysHostBare},
		{"no plugins, no sync: files/s", "small.nosync", "files_per_s", []string{sysNative}, sysHostBare},
		{"paced drops, sync: p50 (ms)", "paced.sync", "p50_ms", smallBases, ""},
		{"  p99 (ms)", "paced.sync", "p99_ms", smallBases, ""},
		{"paced drops, no sync: p50 (ms)", "paced.nosync", "p50_ms", smallBases, ""},
		{"  p99 (ms)", "paced.nosync", "p99_ms", smallBases, ""},
		{"large file: MB/s", "large", "mb_per_s", largeBases, ""},
		{"  peak RSS (MiB)", "large", "peak_rss_mib", largeBases, ""},
		{"  peak RSS, 1/16 size (MiB)", "large", "peak_rss_small_mib", nil, ""},
		{"large file, C plugins: MB/s", "large", "mb_per_s", largeBases, sysHostC},
		{"  peak RSS (MiB)", "large", "peak_rss_mib", largeBases, sysHostC},
		{"start-up, cold cache (s)", "startup", "cold_s", nil, ""},
		{"  RSS when ready (MiB)", "startup", "cold_rss_mib", nil, ""},
		{"  every plugin compiled (s)", "startup", "cold_compiled_s", nil, ""},
		{"  peak RSS by then (MiB)", "startup", "cold_peak_rss_mib", nil, ""},
		{"start-up, warm cache (s)", "startup", "warm_s", nil, ""},
		{"  RSS when ready (MiB)", "startup", "warm_rss_mib", nil, ""},
	}
)

// table prints the figures, their ratios to the baselines and the targets.
func (r *Results) table(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nhost %s on %d CPUs (%s), %s RAM, %s; load average %s -> %s\n",
		m.Host, m.CPUs, m.CPUModel, m.Memory, m.Disk, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(w, "small files: chain %s, %d files of %s; large file: chain %s, %s; %d workers; medians of %d repetitions; %.0f s\n\n",
		strings.Join(r.Params["chain"].([]string), ","), r.Params["files"], formatSize(r.Params["file_size"].(int64)),
		strings.Join(r.Params["large_chain"].([]string), ","), formatSize(r.Params["large"].(int64)), r.Params["workers"], r.Params["reps"], r.Seconds)
	if _, ran := r.Figures["small.sync.coreutils.files_per_s"]; ran && r.Params["coreutils_files"] != r.Params["files"] {
		fmt.Fprintf(w, "the coreutils small-file runs drop %d files, not %d: their burst latencies are not comparable, their files/s are\n\n", r.Params["coreutils_files"], r.Params["files"])
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("figure")+"\thost\tnative Go\tcoreutils\tcat\thost÷native\thost÷coreutils\thost÷cat\t")
	for _, row := range tableRows {
		if _, ok := r.Figures[row.key(row.subjectSys())]; !ok {
			continue
		}
		cells := []string{pad(row.label), r.cell(row.key(row.subjectSys()))}
		for _, sys := range []string{sysNative, sysCoreutils, sysCat} {
			if slices.Contains(row.bases, sys) {
				cells = append(cells, r.cell(row.key(sys)))
			} else {
				cells = append(cells, "")
			}
		}
		for _, sys := range []string{sysNative, sysCoreutils, sysCat} {
			if v, ok := r.Ratios[row.ratioKey(sys)]; ok {
				cells = append(cells, strconv.FormatFloat(v, 'f', 2, 64))
			} else {
				cells = append(cells, "")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	if line := r.memoryLine(); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	r.langsTable(w)
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w)
		keys := sortedKeys(r.Skipped)
		for _, k := range keys {
			fmt.Fprintf(w, "skipped %s: %s\n", k, r.Skipped[k])
		}
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets (issues 5 and 15):")
		for _, t := range r.Targets {
			verdict := "MISSED"
			if t.Met {
				verdict = "met"
			}
			fmt.Fprintf(w, "  %-40s %8.2f  want %-7s %s\n", t.Name, t.Value, t.Want, verdict)
		}
	}
	if len(r.Timing) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.Timing) {
			parts = append(parts, k+": "+r.Timing[k])
		}
		fmt.Fprintf(w, "\nprocessed times from %s\n", strings.Join(parts, "; "))
	}
}

// pad left-aligns a label in the right-aligned table.
func pad(label string) string { return label + strings.Repeat(" ", max(0, 32-len(label))) }

func (r *Results) cell(key string) string {
	v, ok := r.Figures[key]
	if !ok {
		for prefix := range r.Skipped {
			if matchKey(prefix, key) {
				return "skipped"
			}
		}
		return "-"
	}
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// matchKey matches a dotted key against a pattern whose parts may be "*";
// a shorter pattern matches as a prefix.
func matchKey(pattern, key string) bool {
	pp, kp := strings.Split(pattern, "."), strings.Split(key, ".")
	if len(pp) > len(kp) {
		return false
	}
	for i, p := range pp {
		if p != "*" && p != kp[i] {
			return false
		}
	}
	return true
}

func (r *Results) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// machine reads what it can about this machine; unknowns stay empty.
func machine(host, dir string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Disk = disk(dir)
	if out, err := exec.Command(host, "--version").Output(); err == nil {
		m.Host = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "host "))
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// disk describes the filesystem holding dir: device, type, and whether the
// kernel thinks the device rotates (virtual disks often say so wrongly).
func disk(dir string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return ""
	}
	best, desc := "", ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(dir, f[1]) || len(f[1]) < len(best) {
			continue
		}
		if f[1] != "/" && dir != f[1] && !strings.HasPrefix(dir, f[1]+"/") {
			continue
		}
		best, desc = f[1], f[0]+" "+f[2]
		dev := filepath.Base(f[0])
		for _, d := range []string{dev, strings.TrimRight(dev, "0123456789")} {
			if rot, err := os.ReadFile("/sys/block/" + d + "/queue/rotational"); err == nil {
				kind := "SSD or virtual"
				if strings.TrimSpace(string(rot)) == "1" {
					kind = "rotational=1"
				}
				desc += " (" + kind + ")"
				break
			}
		}
	}
	return desc
}
