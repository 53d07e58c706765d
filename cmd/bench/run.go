package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // a measurement failed
	exitUsage = 2 // bad flags, or nothing to measure with
)

// options are the command line.
type options struct {
	host    string   // the host binary
	plugins string   // folder of NAME.wasm files
	chain   []string // the pipeline of the small-file phases
	// largeChain is the pipeline of the large-file phase, where the host
	// is measured against native Go doing the same work.
	largeChain []string
	config     string // the shipped config, whose pipeline the memory phase runs

	files    int   // small files per run
	shFiles  int   // small files per coreutils run, which is slow
	fileSize int64 // bytes per small file
	large    int64 // bytes of the large file
	// langsSize is the input of each plugin in the langs phase (langs.go).
	langsSize int64
	// langsLoads is how many copies of a plugin are loaded, each with its
	// own engine (so each compiles, as distinct plugins do), for one
	// memory figure: more copies average out the Go heap's noise.
	langsLoads int
	paced      int // files dropped one by one at rate, for latency at rest; 0 skips
	rate       float64
	reps       int
	workers    int // host workers; the baselines handle inFlight() files at once
	settle     time.Duration
	startup    int // plugin entries loaded by the start-up figure
	timeout    time.Duration
	phases     map[string]bool
	jsonOut    string
	tmp        string
	keep       bool
	quick      bool
	progress   io.Writer
	// ctimeOnly takes every processed time from the file's ctime, to
	// cross-check the host's log and the native mover's own stamps.
	ctimeOnly bool
}

// phases, in the order they run.
var allPhases = []string{"startup", "small", "paced", "large", "memory", "langs"}

// inFlightPerWorker is host.InFlightPerWorker: the host's watch mode
// carries this many files at once per worker (claims, fsyncs and renames
// overlap; only the plugin chain is bounded by the workers), and the
// baselines get the same number of files in flight.
const inFlightPerWorker = 4

func (o *options) inFlight() int { return inFlightPerWorker * o.workers }

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{fileSize: 4 << 10, large: 1 << 30, langsSize: 32 << 20, progress: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bench [flags]\n\nMeasures bin/host against native and coreutils baselines on generated inputs\n(see docs/BENCHMARKS.md). Run it from the repository root after make build.\n\n")
		fs.PrintDefaults()
	}
	chain := fs.String("chain", "trim,upper,redact", "comma-separated plugins of the small-file pipeline")
	largeChain := fs.String("large-chain", "trim,upper,grep", "comma-separated plugins of the large-file pipeline (grep drops the lines with WARN)")
	fs.StringVar(&o.config, "config", "config.toml", "the shipped config: the memory phase runs its pipelines on a cold and a warm cache")
	fs.StringVar(&o.host, "host", "bin/host", "host binary to measure")
	fs.StringVar(&o.plugins, "plugins", "plugins", "folder holding the plugins' .wasm files")
	fs.IntVar(&o.files, "files", 10000, "small files per run")
	fs.IntVar(&o.shFiles, "coreutils-files", 1000, "small files per coreutils run (at a few dozen files/s, 10,000 would take minutes per run); 0 means -files")
	fs.Var((*sizeFlag)(&o.fileSize), "file-size", "size of each small file (bytes, or with KiB, MiB, GiB)")
	fs.Var((*sizeFlag)(&o.large), "large", "size of the large file (bytes, or with KiB, MiB, GiB)")
	fs.Var((*sizeFlag)(&o.langsSize), "langs-size", "input of each plugin in the langs phase, C against Go builds (bytes, or with KiB, MiB, GiB)")
	fs.IntVar(&o.langsLoads, "langs-loads", 8, "copies of each plugin loaded at once for its memory figure in the langs phase")
	fs.IntVar(&o.paced, "paced", 100, "files dropped one at a time at -rate, for latency on an idle host; 0 skips")
	fs.Float64Var(&o.rate, "rate", 10, "drops per second in the paced run: below every system's capacity, so nothing queues")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of each measurement; figures are medians")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "host workers (run.workers); the baselines handle 4 files per worker at once, as the host does")
	fs.DurationVar(&o.settle, "settle", 0, "host run.settle: files are dropped by rename, so none is needed; the product's default is 1s")
	fs.IntVar(&o.startup, "startup-plugins", 10, "plugin entries in the start-up config")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for any one run")
	only := fs.String("only", strings.Join(allPhases, ","), "phases to run: "+strings.Join(allPhases, ","))
	fs.StringVar(&o.jsonOut, "json", "bench.json", "write every figure and sample here as JSON")
	fs.StringVar(&o.tmp, "tmp", os.TempDir(), "parent of the temporary folder (needs about twice -large free)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder, for debugging")
	fs.BoolVar(&o.ctimeOnly, "ctime", false, "take every processed time from the output's ctime (a cross-check of the host's log times)")
	fs.BoolVar(&o.quick, "quick", false, "a small, fast run (smoke test): 200 files, 8 MiB large file, one load per memory figure, 1 repetition; explicit flags win")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.shFiles <= 0 || o.shFiles > o.files {
		o.shFiles = o.files
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		defaults := map[string]func(){
			"files":       func() { o.files = 200 },
			"large":       func() { o.large = 8 << 20 },
			"langs-size":  func() { o.langsSize = 2 << 20 },
			"langs-loads": func() { o.langsLoads = 1 },
			"paced":       func() { o.paced = 20 },
			"rate":        func() { o.rate = 200 },
			"reps":        func() { o.reps = 1 },
		}
		for name, apply := range defaults {
			if !set[name] {
				apply()
			}
		}
	}
	o.chain, o.largeChain = splitList(*chain), splitList(*largeChain)
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allPhases, p) {
			return nil, fmt.Errorf("-only: unknown phase %q (want some of %s)", p, strings.Join(allPhases, ","))
		}
		o.phases[p] = true
	}
	switch {
	case len(o.chain) == 0:
		return nil, errors.New("-chain: no plugins")
	case len(o.largeChain) == 0:
		return nil, errors.New("-large-chain: no plugins")
	case o.files < 1, o.reps < 1, o.workers < 1, o.startup < 1, o.langsLoads < 1:
		return nil, errors.New("-files, -reps, -workers, -startup-plugins and -langs-loads must be at least 1")
	case o.fileSize < 1, o.large < 1, o.langsSize < 1:
		return nil, errors.New("-file-size, -large and -langs-size must be at least 1 byte")
	case o.paced < 0, o.paced > 0 && o.rate <= 0:
		return nil, errors.New("-paced must not be negative, and -rate must be positive")
	}
	return o, nil
}

// check finds the binary and plugins, made absolute: the configs written
// in the temporary folder refer to them.
func (o *options) check() error {
	var err error
	if o.host, err = filepath.Abs(o.host); err != nil {
		return err
	}
	if o.plugins, err = filepath.Abs(o.plugins); err != nil {
		return err
	}
	if _, err := os.Stat(o.host); err != nil {
		return fmt.Errorf("host binary: %w (run make build first, or pass -host)", err)
	}
	var need []string
	if o.phases["small"] || o.phases["paced"] {
		need = append(need, o.chain...)
	}
	if o.phases["large"] {
		need = append(need, o.largeChain...)
	}
	for _, name := range need {
		if _, err := os.Stat(filepath.Join(o.plugins, name+".wasm")); err != nil {
			return fmt.Errorf("plugin %s: %w (run make build first, or pass -plugins)", name, err)
		}
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = o.check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitUsage
	}
	tmp, err := os.MkdirTemp(o.tmp, "hostbench-")
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	if o.keep {
		fmt.Fprintln(stderr, "bench: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	b := &bench{o: o, tmp: tmp, res: newResults(o, tmp)}
	err = b.all(ctx)
	b.res.finish()
	b.res.table(stdout)
	if jerr := b.res.writeJSON(o.jsonOut); jerr != nil {
		fmt.Fprintln(stderr, "bench:", jerr)
		return exitError
	}
	fmt.Fprintf(stdout, "\nJSON: %s\n", o.jsonOut)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitError
	}
	return exitOK
}

// bench is one run of the harness.
type bench struct {
	o      *options
	tmp    string
	res    *Results
	warmed map[string]bool // chains whose compilation cache is filled
}

func (b *bench) all(ctx context.Context) error {
	corpus := genCorpus(1, 8<<20)
	steps := map[string]func(context.Context, []byte) error{
		"startup": b.startupPhase,
		"small":   b.smallPhase,
		"paced":   b.pacedPhase,
		"large":   b.largePhase,
		"memory":  b.memoryPhase,
		"langs":   b.langsPhase,
	}
	for _, p := range allPhases {
		if !b.o.phases[p] {
			continue
		}
		if err := steps[p](ctx, corpus); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.o.progress, "bench: "+format+"\n", args...)
}

func splitList(s string) []string {
	var list []string
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			list = append(list, name)
		}
	}
	return list
}

// sizeFlag is a byte count with an optional binary unit.
type sizeFlag int64

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 4096, 4KiB, 1GiB)", v)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

// haveTool reports whether a command is installed.
func haveTool(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
