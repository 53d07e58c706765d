package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

// On a cold tiered start, a file of waitCompileFrom bytes or more waits for
// its plugins' background compile instead of running interpreted to its
// end; the compile then serves it.
func TestBigFileWaitsForCompile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	data, err := os.ReadFile(wasmtest.Plugin(t, "upper"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "plugins", "upper.wasm"), data, 0o644)
	conf := "cache_dir = " + strconv.Quote(filepath.Join(dir, "cache")) + // empty: a cold start
		"\n[[watch]]\ndir = \"w\"\n[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n"
	file := filepath.Join(dir, "config.toml")
	os.WriteFile(file, []byte(conf), 0o644)
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, Options{Tiered: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	upper := h.plugins["upper"]
	if !upper.Compiling() {
		t.Fatal("a cold tiered load is not compiling")
	}
	big := filepath.Join(dir, "big.txt")
	line := "a line of text\n"
	os.WriteFile(big, []byte(strings.Repeat(line, waitCompileFrom/len(line)+1)), 0o644)
	out, _, err := h.ProcessFile(context.Background(), big)
	if err != nil {
		t.Fatal(err)
	}
	if upper.Compiling() {
		t.Error("the big file was processed before the plugin compiled")
	}
	if n := upper.Stats().Interpreted.Load(); n != 0 {
		t.Errorf("%d interpreted instances served the big file", n)
	}
	got, _ := os.ReadFile(out)
	if want := strings.Repeat(strings.ToUpper(line), waitCompileFrom/len(line)+1); string(got) != want {
		t.Errorf("output: %d bytes, want %d", len(got), len(want))
	}
}

// A reload while plugins compile in the background: a plugin left
// unchanged is kept and its compile still upgrades it; a plugin whose
// .wasm was replaced is loaded again (interpreted, then compiled) and the
// old one closes with its compile; every file dropped before, during and
// after is processed once, by one of the two builds.
func TestReloadWhileCompiling(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	os.MkdirAll(plugins, 0o755)
	copyPlugin := func(name, from string) {
		t.Helper()
		data, err := os.ReadFile(wasmtest.Plugin(t, from))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(plugins, "."+name+".tmp")
		os.WriteFile(tmp, data, 0o644)
		if err := os.Rename(tmp, filepath.Join(plugins, name+".wasm")); err != nil {
			t.Fatal(err)
		}
	}
	copyPlugin("trim", "trim")
	copyPlugin("shout", "upper")
	conf := func(workers int) string {
		return "cache_dir = " + strconv.Quote(filepath.Join(dir, "cache")) + // empty: a cold start
			"\n[[watch]]\ndir = \"watch_dir\"\n[[pipeline]]\nname = \"text\"\nplugins = [\"trim\", \"shout\"]\n" +
			"[run]\nsettle = \"0s\"\nsync = false\nworkers = " + strconv.Itoa(workers) + "\n"
	}
	file := filepath.Join(dir, "config.toml")
	os.WriteFile(file, []byte(conf(2)), 0o644)
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, Options{Tiered: true, Instances: cfg.Workers()})
	if err != nil {
		t.Fatal(err)
	}
	// The test reloads by itself: no watcher's reload may race it.
	svc, stop := startServiceWith(t, h, ServiceOptions{NoConfigWatch: true})
	defer stop()
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	old := map[string]*wasm.Plugin{}
	for _, p := range svc.Plugins() {
		old[p.Name()] = p
		if !p.Compiling() {
			t.Fatalf("%s: a cold tiered start is not compiling", p.Name())
		}
	}

	const perWave = 5
	n := 0
	wave := func() {
		for range perWave {
			n++
			drop(t, dir, fmt.Sprintf("f%02d.txt", n), fmt.Sprintf("  line %d of text  \n", n))
		}
	}
	wave()
	// trim stays as it was; shout becomes a build of lower.
	copyPlugin("shout", "lower")
	os.WriteFile(file, []byte(conf(2)), 0o644)
	if err := svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	wave()
	cur := map[string]*wasm.Plugin{}
	for _, p := range svc.Plugins() {
		cur[p.Name()] = p
	}
	if cur["trim"] != old["trim"] {
		t.Error("trim, unchanged, was loaded again")
	}
	if cur["shout"] == old["shout"] {
		t.Fatal("shout, whose .wasm changed, was not loaded again")
	}
	for name, p := range cur {
		select {
		case <-p.Compiled():
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s did not compile", name)
		}
		if p.Compiling() {
			t.Errorf("%s: still interpreted after its compile", name)
		}
	}
	select {
	case <-old["shout"].Compiled(): // compiled, or skipped once the old generation closed it
	case <-time.After(2 * time.Minute):
		t.Fatal("the replaced shout's compile never ended")
	}
	wave()
	processed := filepath.Join(dir, "watch_dir", "processed")
	waitFor(t, "every file processed", func() bool { return count(processed) == n })
	for i := 1; i <= n; i++ {
		got, err := os.ReadFile(filepath.Join(processed, fmt.Sprintf("f%02d.txt", i)))
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("line %d of text\n", i)
		if s := string(got); s != strings.ToUpper(line) && s != line {
			t.Errorf("f%02d.txt = %q, want it trimmed and through one build of shout", i, s)
		}
		if i > 2*perWave && string(got) != line {
			t.Errorf("f%02d.txt, dropped after the reload and the compiles, = %q, want lower's %q", i, got, line)
		}
	}
	if names, _ := readNames(filepath.Join(dir, "watch_dir", "failed")); len(names) > 0 {
		t.Errorf("failed/: %v", names)
	}
}
