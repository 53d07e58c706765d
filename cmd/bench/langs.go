package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/filehost/host/internal/wasm"
)

// The langs phase compares the C builds of upper, trim and grep with their
// Go builds, inside this process through the host's own loader and chain
// (internal/wasm): MB/s of each plugin alone, its .wasm size, and the host
// memory one loaded plugin costs; then the chain of the three C plugins,
// and of the three Go ones, against native Go doing the same work.
var langPlugins = []struct{ name, config string }{
	{"upper", "{}"},
	{"trim", "{}"},
	{"grep", `{"pattern":"warn","invert":true}`},
}

// langsChain is trim, upper, then grep dropping the lines with WARN, the
// work of FIELD-NOTES.md's peer comparison (settings from stages).
var langsChain = []struct{ name, config string }{
	{"trim", "{}"},
	{"upper", "{}"},
	{"grep", stages["grep"].json},
}

func (b *bench) langsPhase(ctx context.Context, corpus []byte) error {
	var missing []string
	for _, pl := range langPlugins {
		for _, f := range []string{pl.name + ".wasm", "c-" + pl.name + ".wasm"} {
			if _, err := os.Stat(filepath.Join(b.o.plugins, f)); err != nil {
				missing = append(missing, f)
			}
		}
	}
	if len(missing) > 0 {
		b.res.skip("langs", "no "+strings.Join(missing, ", ")+" in "+b.o.plugins+" (make plugins builds the C ones where clang can)")
		b.logf("langs: skipped, missing %s", strings.Join(missing, ", "))
		return nil
	}
	in := bytes.Repeat(corpus, int(b.o.langsSize/int64(len(corpus)))+1)[:b.o.langsSize]
	if i := bytes.LastIndexByte(in, '\n'); i >= 0 {
		in = in[:i+1]
	}
	b.res.Params["langs_bytes"] = len(in)
	lim := wasm.Limits{ChunkSize: 64 << 10, MaxLine: 16 << 20}
	// One engine for the speed runs, so each plugin compiles once for all
	// of them; the memory figures load through engines of their own.
	e, err := wasm.NewEngine("", nil)
	if err != nil {
		return err
	}
	defer e.Close(ctx)
	for _, pl := range langPlugins {
		sums := map[string][32]byte{}
		for _, build := range []string{"go", "c"} {
			path := b.langPath(build, pl.name)
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			b.res.add("langs."+pl.name+"."+build+".wasm_kib", float64(st.Size())/1024)
			mib, err := loadedMiB(ctx, path, pl.config, b.o.langsLoads)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			b.res.add("langs."+pl.name+"."+build+".mem_mib", mib)
		}
		for rep := 1; rep <= b.o.reps; rep++ {
			for _, build := range inTurn([]string{"go", "c"}, rep) {
				mbps, sum, err := chainMBps(ctx, e, []string{b.langPath(build, pl.name)}, []string{pl.config}, in, lim)
				if err != nil {
					return fmt.Errorf("%s build of %s: %w", build, pl.name, err)
				}
				sums[build] = sum
				b.res.add("langs."+pl.name+"."+build+".mb_per_s", mbps)
				b.logf("langs %-5s %s build rep %d/%d: %7.1f MB/s", pl.name, build, rep, b.o.reps, mbps)
			}
		}
		b.res.Params["langs_"+pl.name+"_outputs_identical"] = sums["go"] == sums["c"]
	}
	var paths = map[string][]string{}
	var configs, names []string
	for _, pl := range langsChain {
		names = append(names, pl.name)
		paths["c"] = append(paths["c"], b.langPath("c", pl.name))
		paths["go"] = append(paths["go"], b.langPath("go", pl.name))
		configs = append(configs, pl.config)
	}
	sums := map[string][32]byte{}
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, sys := range inTurn([]string{"native", "c", "go"}, rep) {
			var mbps float64
			var sum [32]byte
			var err error
			if sys == "native" {
				mbps, sum, err = nativeChainMBps(names, in)
			} else {
				mbps, sum, err = chainMBps(ctx, e, paths[sys], configs, in, lim)
			}
			if err != nil {
				return fmt.Errorf("%s chain: %w", sys, err)
			}
			sums[sys] = sum
			b.res.add("langs.chain."+sys+".mb_per_s", mbps)
			b.logf("langs chain %-6s rep %d/%d: %7.1f MB/s", sys, rep, b.o.reps, mbps)
		}
	}
	b.res.Params["langs_chain_outputs_identical"] = sums["c"] == sums["native"] && sums["go"] == sums["native"]
	return nil
}

func (b *bench) langPath(build, name string) string {
	if build == "c" {
		name = "c-" + name
	}
	return filepath.Join(b.o.plugins, name+".wasm")
}

// chainMBps runs in through the plugins at paths, loaded by e with configs, as
// the host does for one file, and returns MB/s and the output's SHA-256.
// Loading is not timed.
func chainMBps(ctx context.Context, e *wasm.Engine, paths, configs []string, in []byte, lim wasm.Limits) (float64, [32]byte, error) {
	var chain []*wasm.Plugin
	defer func() {
		for _, p := range chain {
			_ = p.Close(ctx)
		}
	}()
	for i, path := range paths {
		p, err := e.Load(ctx, wasm.Spec{Name: strings.TrimSuffix(filepath.Base(path), ".wasm"), Path: path, Config: []byte(configs[i])})
		if err != nil {
			return 0, [32]byte{}, err
		}
		chain = append(chain, p)
	}
	h := sha256.New()
	start := time.Now()
	if _, err := wasm.Run(ctx, chain, "in.log", bytes.NewReader(in), h, lim); err != nil {
		return 0, [32]byte{}, err
	}
	took := time.Since(start)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return float64(len(in)) / took.Seconds() / 1e6, sum, nil
}

// nativeChainMBps does the chain's work in plain Go, single-threaded
// (nativeChain), and returns MB/s and the output's SHA-256.
func nativeChainMBps(chain []string, in []byte) (float64, [32]byte, error) {
	h := sha256.New()
	start := time.Now()
	if err := nativeChain(chain, bytes.NewReader(in), h); err != nil {
		return 0, [32]byte{}, err
	}
	took := time.Since(start)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return float64(len(in)) / took.Seconds() / 1e6, sum, nil
}

// loadedMiB is the host memory (resident set, after a collection) that one
// loaded plugin adds: its compiled code, its first configured instance and
// the runtime around them.
func loadedMiB(ctx context.Context, path, config string, loads int) (float64, error) {
	settle := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		return rssBytes()
	}
	// A first load and close grows the runtime's own tables and the heap's
	// arenas, so that the figure is the plugins' and not theirs.
	e, err := wasm.NewEngine("", nil)
	if err != nil {
		return 0, err
	}
	p, err := e.Load(ctx, wasm.Spec{Name: "p", Path: path, Config: []byte(config)})
	if err != nil {
		return 0, err
	}
	_ = p.Close(ctx)
	_ = e.Close(ctx)
	before := settle()
	var engines []*wasm.Engine
	var plugins []*wasm.Plugin
	defer func() {
		for _, p := range plugins {
			_ = p.Close(ctx)
		}
		for _, e := range engines {
			_ = e.Close(ctx)
		}
	}()
	for range loads {
		e, err := wasm.NewEngine("", nil)
		if err != nil {
			return 0, err
		}
		engines = append(engines, e)
		p, err := e.Load(ctx, wasm.Spec{Name: "p", Path: path, Config: []byte(config)})
		if err != nil {
			return 0, err
		}
		plugins = append(plugins, p)
	}
	after := settle()
	return float64(after-before) / float64(loads) / (1 << 20), nil
}

// rssBytes is this process's resident set size.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// langsRatios adds the C ÷ Go and chain ÷ native ratios.
func (r *Results) langsRatios() {
	for _, pl := range langPlugins {
		for _, m := range []string{"mb_per_s", "wasm_kib", "mem_mib"} {
			c, okc := r.Figures["langs."+pl.name+".c."+m]
			g, okg := r.Figures["langs."+pl.name+".go."+m]
			if okc && okg && g != 0 {
				r.Ratios["langs."+pl.name+"."+m+".c/go"] = c / g
			}
		}
	}
	n, ok := r.Figures["langs.chain.native.mb_per_s"]
	for _, sys := range []string{"c", "go"} {
		if v, okv := r.Figures["langs.chain."+sys+".mb_per_s"]; ok && okv && n != 0 {
			r.Ratios["langs.chain.mb_per_s."+sys+"/native"] = v / n
		}
	}
}

// langsTable prints the langs phase's figures, if it ran.
func (r *Results) langsTable(w io.Writer) {
	if _, ok := r.Figures["langs.chain.native.mb_per_s"]; !ok {
		return
	}
	fmt.Fprintf(w, "\nplugins in C against their Go builds (%.1f MiB of log text, one plugin at a time, in process):\n", float64(r.Params["langs_bytes"].(int))/(1<<20))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("plugin")+"\tGo MB/s\tC MB/s\tC÷Go\tGo .wasm KiB\tC .wasm KiB\tC÷Go\tGo MiB loaded\tC MiB loaded\tC÷Go\t")
	for _, pl := range langPlugins {
		cells := []string{pad(pl.name)}
		for _, m := range []string{"mb_per_s", "wasm_kib", "mem_mib"} {
			cells = append(cells, r.cell("langs."+pl.name+".go."+m), r.cell("langs."+pl.name+".c."+m), r.ratioCell("langs."+pl.name+"."+m+".c/go"))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "\nchain trim,upper,grep -v WARN: native Go %s MB/s, C plugins %s MB/s (%s of native), Go plugins %s MB/s (%s of native); outputs identical: %v\n",
		r.cell("langs.chain.native.mb_per_s"), r.cell("langs.chain.c.mb_per_s"), r.ratioCell("langs.chain.mb_per_s.c/native"),
		r.cell("langs.chain.go.mb_per_s"), r.ratioCell("langs.chain.mb_per_s.go/native"), r.Params["langs_chain_outputs_identical"])
}

func (r *Results) ratioCell(key string) string {
	if v, ok := r.Ratios[key]; ok {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return "-"
}
