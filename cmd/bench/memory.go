package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/BurntSushi/toml"
)

// memorySets are the plugin sets of the memory phase: the host's peak RSS
// with one Go plugin and with four, so that their difference over three
// is what one more loaded Go plugin costs.
var memorySets = []struct {
	name    string
	plugins []string
}{
	{"go1", []string{"trim"}},
	{"go4", []string{"trim", "upper", "lower", "snake_case"}},
}

// memoryPhase measures the real binary's peak RSS with bin/host --input
// on a 12-byte file, first on an empty compilation cache (cold: every
// plugin compiles) and then on the cache that run filled (warm): for the
// plugin sets above, and for the shipped config's pipeline, which also
// runs a file of 1/16 of -large, cold and warm.
func (b *bench) memoryPhase(ctx context.Context, corpus []byte) error {
	dir := filepath.Join(b.tmp, "memory")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tiny := filepath.Join(dir, "tiny.txt")
	if err := os.WriteFile(tiny, []byte("hello world\n"), 0o644); err != nil {
		return err
	}
	big := filepath.Join(dir, "big.txt")
	bigSize := max(b.o.large/16, 1<<20)
	if err := writeLarge(big, bigSize, corpus); err != nil {
		return err
	}
	b.res.Params["memory_big_bytes"] = bigSize
	out := filepath.Join(dir, "out")
	// run runs config on each input in turn, with a compilation cache of
	// its own that the first run fills, and records each peak RSS as
	// memory.NAME.host.LABEL_mib.
	run := func(name string, config func(cache string) ([]byte, error), inputs []string, labels []string) error {
		cache, err := os.MkdirTemp(dir, "cache-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(cache)
		data, err := config(cache)
		if err != nil {
			return err
		}
		cfg := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(cfg, data, 0o644); err != nil {
			return err
		}
		for i, in := range inputs {
			cmd := exec.CommandContext(ctx, b.o.host, "--config", cfg, "--input", in, "--output", out)
			_, rss, _, _, err := measure(cmd, out, false)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", name, labels[i], err)
			}
			b.res.add("memory."+name+".host."+labels[i]+"_mib", rss)
			b.logf("memory %-7s %-9s peak RSS %6.1f MiB", name, labels[i], rss)
		}
		return nil
	}
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, set := range memorySets {
			if !b.haveAll(set.plugins) {
				b.res.skip("memory."+set.name, "not every one of "+quoteList(set.plugins)+" is in "+b.o.plugins)
				continue
			}
			config := func(cache string) ([]byte, error) {
				return []byte(b.chainConfigIn(set.plugins, cache, "watch", false)), nil
			}
			if err := run(set.name, config, []string{tiny, tiny}, []string{"cold", "warm"}); err != nil {
				return err
			}
		}
		if _, err := os.Stat(b.o.config); err != nil {
			b.res.skip("memory.shipped", fmt.Sprintf("no shipped config: %v", err))
			continue
		}
		config := func(cache string) ([]byte, error) { return b.shippedConfig(cache) }
		if err := run("shipped", config, []string{tiny, tiny, big}, []string{"cold", "warm", "big_warm"}); err != nil {
			return err
		}
		if err := run("shipped", config, []string{big}, []string{"big_cold"}); err != nil {
			return err
		}
	}
	return nil
}

// shippedConfig is the shipped config with the harness's plugin folder,
// the compilation cache cache, one watch folder in the temporary folder
// and no dashboard.
func (b *bench) shippedConfig(cache string) ([]byte, error) {
	var c map[string]any
	if _, err := toml.DecodeFile(b.o.config, &c); err != nil {
		return nil, err
	}
	c["plugin_dir"] = b.o.plugins
	c["cache_dir"] = cache
	c["watch"] = []map[string]any{{"dir": "watch"}}
	dash, _ := c["dashboard"].(map[string]any)
	if dash == nil {
		dash = map[string]any{}
	}
	dash["enabled"] = false
	c["dashboard"] = dash
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// memoryRatios adds what one more Go plugin costs, from the two sets.
func (r *Results) memoryRatios() {
	for _, phase := range []string{"cold", "warm"} {
		one, ok1 := r.Figures["memory.go1.host."+phase+"_mib"]
		four, ok4 := r.Figures["memory.go4.host."+phase+"_mib"]
		if ok1 && ok4 {
			r.Figures["memory.per_go_plugin.host."+phase+"_mib"] = (four - one) / 3
		}
	}
}

// memoryLine describes the memory phase's figures in a sentence, or "".
func (r *Results) memoryLine() string {
	f := func(key string) string {
		if v, ok := r.Figures[key]; ok {
			return strconv.FormatFloat(v, 'f', 1, 64)
		}
		return "-"
	}
	if _, ok := r.Figures["memory.go1.host.warm_mib"]; !ok {
		return ""
	}
	return fmt.Sprintf("peak RSS of --input, MiB, cold / warm cache: 1 Go plugin %s / %s, 4 Go plugins %s / %s; each Go plugin more %s / %s\n"+
		"  the shipped pipeline on 12 bytes %s / %s, on %s %s / %s",
		f("memory.go1.host.cold_mib"), f("memory.go1.host.warm_mib"), f("memory.go4.host.cold_mib"), f("memory.go4.host.warm_mib"),
		f("memory.per_go_plugin.host.cold_mib"), f("memory.per_go_plugin.host.warm_mib"),
		f("memory.shipped.host.cold_mib"), f("memory.shipped.host.warm_mib"), bigLabel(r),
		f("memory.shipped.host.big_cold_mib"), f("memory.shipped.host.big_warm_mib"))
}

func bigLabel(r *Results) string {
	if n, ok := r.Params["memory_big_bytes"].(int64); ok {
		return formatSize(n)
	}
	return "a bigger file"
}
