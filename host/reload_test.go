package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasmtest"
)

// reloadService starts watch mode on a temp project and returns the
// service and the project folder.
func reloadService(t *testing.T, config string, watchConfig bool) (*Service, string) {
	t.Helper()
	h, dir := newHost(t, config, map[string]string{
		"upper":  wasmtest.Plugin(t, "upper"),
		"faulty": wasmtest.Build(t, "../internal/wasm/testdata/faulty"),
	})
	svc, err := NewService(h, ServiceOptions{NoConfigWatch: !watchConfig})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		svc.Close()
	})
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	return svc, dir
}

// drop renames a new file into unprocessed/, as a careful user would.
func drop(t *testing.T, dir, name, data string) {
	t.Helper()
	tmp := filepath.Join(dir, ".staging-"+name)
	put(t, tmp, data)
	if err := os.Rename(tmp, filepath.Join(dir, "watch_dir", "unprocessed", name)); err != nil {
		t.Fatal(err)
	}
}

func saveConfig(t *testing.T, dir, body string) {
	t.Helper()
	tmp := filepath.Join(dir, ".config.toml.swp")
	put(t, tmp, "cache_dir = \""+filepath.Join(os.TempDir(), "wasmtest-cache")+"\"\n"+body)
	if err := os.Rename(tmp, filepath.Join(dir, "config.toml")); err != nil { // as editors save
		t.Fatal(err)
	}
}

const reloadBase = "[run]\nsettle = \"0s\"\nsync = false\nworkers = 2\n"

// Replacing upper.wasm by a build of lower while files stream in: each
// file is processed wholly by one of the two, and files dropped once the
// new generation is in use get lower.
func TestReloadReplacedPluginWhileFilesStream(t *testing.T) {
	svc, dir := reloadService(t, reloadBase+"[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n", true)
	lower, err := os.ReadFile(wasmtest.Plugin(t, "lower"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("Mixed Case Line\n", 2000)
	var after []string // dropped once generation 2 was in use
	for i := 0; i < 400; i++ {
		name := fmt.Sprintf("f%04d.txt", i)
		if i == 100 {
			tmp := filepath.Join(dir, "plugins", ".upper.wasm.tmp")
			os.WriteFile(tmp, lower, 0o644)
			os.Rename(tmp, filepath.Join(dir, "plugins", "upper.wasm"))
		}
		if svc.ReloadStatus().Generation >= 2 {
			after = append(after, name)
		}
		drop(t, dir, name, text)
		if i >= 100 && svc.ReloadStatus().Generation < 2 {
			time.Sleep(5 * time.Millisecond) // give the reload time to land while files keep coming
		}
	}
	processed := filepath.Join(dir, "watch_dir", "processed")
	waitFor(t, "every file", func() bool { return count(processed) == 400 })
	if len(after) == 0 {
		t.Fatal("the reload did not land while files were dropped")
	}
	if st := svc.ReloadStatus(); st.Generation != 2 || !st.LastOK || st.Reloads != 1 {
		t.Errorf("status = %+v, want one good reload", st)
	}
	up, low := strings.ToUpper(text), strings.ToLower(text)
	var nUp, nLow int
	for i := 0; i < 400; i++ {
		got, err := os.ReadFile(filepath.Join(processed, fmt.Sprintf("f%04d.txt", i)))
		if err != nil {
			t.Fatal(err)
		}
		switch string(got) {
		case up:
			nUp++
		case low:
			nLow++
		default:
			t.Fatalf("f%04d.txt is neither wholly upper nor wholly lower case", i)
		}
	}
	for _, name := range after {
		if got, _ := os.ReadFile(filepath.Join(processed, name)); string(got) != low {
			t.Errorf("%s, dropped after the reload, was not processed by the new plugin", name)
		}
	}
	if nUp < 100 || nLow < len(after) {
		t.Errorf("%d upper, %d lower", nUp, nLow)
	}
	svc.pluginsMu.Lock()
	defer svc.pluginsMu.Unlock()
	if len(svc.pluginRefs) != len(svc.Plugins()) {
		t.Errorf("%d plugins held, want the %d in use: the old one was not closed", len(svc.pluginRefs), len(svc.Plugins()))
	}
}

// A broken config changes nothing and is reported; fixing it switches.
func TestReloadInvalidKeepsRunning(t *testing.T) {
	svc, dir := reloadService(t, reloadBase+"[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n", false)
	processed := filepath.Join(dir, "watch_dir", "processed")
	for _, tt := range []struct{ body, want string }{
		{reloadBase + "[[pipeline]\nname = \"text\"", "config.toml"},
		{reloadBase + "[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\nbogus = 1\n", "bogus"},
		{reloadBase + "[[pipeline]]\nname = \"text\"\nplugins = [\"missing\"]\n", "missing"},
		{reloadBase + "[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n[plugins.upper]\npath = \"plugins/nothing-here.wasm\"\n", "nothing-here.wasm"},
	} {
		saveConfig(t, dir, tt.body)
		err := svc.Reload(context.Background())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Reload = %v, want an error naming %q", err, tt.want)
		}
		st := svc.ReloadStatus()
		if st.Generation != 1 || st.LastOK || !strings.Contains(st.LastError, tt.want) {
			t.Errorf("status = %+v", st)
		}
		name := fmt.Sprintf("f%d.txt", st.Failed)
		drop(t, dir, name, "still upper\n")
		waitFor(t, "a file with the old pipeline", func() bool {
			got, _ := os.ReadFile(filepath.Join(processed, name))
			return string(got) == "STILL UPPER\n"
		})
	}
	saveConfig(t, dir, reloadBase+"[[pipeline]]\nname = \"fails\"\nplugins = [\"faulty\"]\n")
	if err := svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := svc.ReloadStatus(); st.Generation != 2 || !st.LastOK || st.LastError != "" || st.Failed != 4 {
		t.Errorf("status after a good reload = %+v", st)
	}
	drop(t, dir, "new.txt", "fail\n")
	waitFor(t, "the new pipeline", func() bool {
		_, err := os.Stat(filepath.Join(dir, "watch_dir", "failed", "new.txt.error.json"))
		return err == nil
	})
}

// Unchanged plugins are kept, not loaded again; settings that cannot
// change live are reported.
func TestReloadKeepsUnchangedPlugins(t *testing.T) {
	svc, dir := reloadService(t, reloadBase+"[[pipeline]]\nname = \"a\"\nplugins = [\"upper\", \"faulty\"]\n", false)
	before := map[string]any{}
	for _, p := range svc.Plugins() {
		before[p.Name()] = p
	}
	saveConfig(t, dir, strings.Replace(reloadBase, "workers = 2", "workers = 3", 1)+
		"[[pipeline]]\nname = \"b\"\nplugins = [\"upper\"]\n[[pipeline]]\nname = \"a\"\nplugins = [\"faulty\"]\n[plugins.faulty]\ntimeout = \"9s\"\n")
	if err := svc.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range svc.Plugins() {
		same := before[p.Name()] == any(p)
		if p.Name() == "upper" && !same {
			t.Error("upper, unchanged, was loaded again")
		}
		if p.Name() == "faulty" && same {
			t.Error("faulty, whose limits changed, was not loaded again")
		}
	}
	if st := svc.ReloadStatus(); len(st.NeedsRestart) != 1 || st.NeedsRestart[0] != "run.workers" {
		t.Errorf("needs restart = %v, want run.workers", st.NeedsRestart)
	}
	if got := svc.Pipelines(); len(got) != 2 || got[0].Name != "b" {
		t.Errorf("pipelines = %+v", got)
	}
}

// A .wasm still being written is waited for, not loaded half.
func TestReloadWaitsForACopy(t *testing.T) {
	svc, dir := reloadService(t, reloadBase+"[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n", true)
	lower, _ := os.ReadFile(wasmtest.Plugin(t, "lower"))
	f, err := os.Create(filepath.Join(dir, "plugins", "upper.wasm")) // copied in place, slowly
	if err != nil {
		t.Fatal(err)
	}
	step := len(lower) / 8
	for i := 0; i < len(lower); i += step {
		f.Write(lower[i:min(i+step, len(lower))])
		time.Sleep(reloadQuiet / 3)
	}
	f.Close()
	waitFor(t, "the reload", func() bool { return svc.ReloadStatus().Generation == 2 })
	if st := svc.ReloadStatus(); st.Failed != 0 {
		t.Errorf("status = %+v: a half-copied plugin was loaded", st)
	}
	drop(t, dir, "x.txt", "MiXeD\n")
	waitFor(t, "lower", func() bool {
		got, _ := os.ReadFile(filepath.Join(dir, "watch_dir", "processed", "x.txt"))
		return string(got) == "mixed\n"
	})
}

// Many reloads during a long run lose and double nothing and leak neither
// goroutines nor plugins.
func TestReloadManyDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	goroutines := runtime.NumGoroutine()
	svc, dir := reloadService(t, reloadBase+"[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n", false)
	const files, reloads = 10000, 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range files {
			drop(t, dir, fmt.Sprintf("f%05d.txt", i), "x\n")
		}
	})
	var failed int
	for i := range reloads {
		// Alternate a limit of upper so that every reload loads it anew.
		saveConfig(t, dir, reloadBase+fmt.Sprintf("[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n[plugins.upper]\ntimeout = \"%ds\"\n", 60+i%2))
		if err := svc.Reload(context.Background()); err != nil {
			failed++
			t.Errorf("reload %d: %v", i, err)
		}
	}
	wg.Wait()
	processed := filepath.Join(dir, "watch_dir", "processed")
	waitFor(t, "every file", func() bool { return count(processed) == files })
	names, _ := readNames(processed)
	for _, n := range names {
		if strings.Contains(n, "-1.") {
			t.Errorf("%s: a file was processed twice", n)
		}
	}
	if n := count(filepath.Join(dir, "watch_dir", "failed")); n != 0 {
		t.Errorf("%d failed", n)
	}
	if st := svc.ReloadStatus(); st.Generation != reloads+1 {
		t.Errorf("generation %d, want %d", st.Generation, reloads+1)
	}
	svc.pluginsMu.Lock()
	held := len(svc.pluginRefs)
	svc.pluginsMu.Unlock()
	waitFor(t, "old generations released", func() bool {
		svc.pluginsMu.Lock()
		defer svc.pluginsMu.Unlock()
		held = len(svc.pluginRefs)
		return held == 1
	})
	if g := runtime.NumGoroutine(); g > goroutines+60 {
		t.Errorf("%d goroutines, %d before the service: a leak", g, goroutines)
	}
}

// A reload for SIGHUP while another runs waits for it, then reads the
// config again: a change saved meanwhile is not dropped. Reload itself
// refuses (the dashboard says busy).
func TestReloadWaitFollowsARunningReload(t *testing.T) {
	svc, dir := reloadService(t, reloadBase+"[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n", false)
	ctx := context.Background()
	svc.reloadMu.Lock() // a reload running
	if err := svc.Reload(ctx); !errors.Is(err, ErrReloadBusy) {
		t.Errorf("Reload during a reload = %v, want ErrReloadBusy", err)
	}
	saveConfig(t, dir, reloadBase+"[[pipeline]]\nname = \"fails\"\nplugins = [\"faulty\"]\n")
	done := make(chan error, 1)
	go func() { done <- svc.ReloadWait(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("ReloadWait returned %v while a reload ran", err)
	case <-time.After(100 * time.Millisecond):
	}
	svc.reloadMu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := svc.ReloadStatus(); st.Generation != 2 || st.Reloads != 1 {
		t.Errorf("status = %+v, want generation 2 after one reload", st)
	}
}

// A config saved while the host starts, after it was read and before the
// config watch began, has no event of its own: watch mode still reloads it.
func TestReloadChangeDuringStart(t *testing.T) {
	h, dir := newHost(t, reloadBase+"[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n", testPlugins(t))
	saveConfig(t, dir, reloadBase+"[[pipeline]]\nname = \"fails\"\nplugins = [\"faulty\"]\n")
	svc, err := NewService(h, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	waitFor(t, "the saved config in use", func() bool { return svc.ReloadStatus().Generation == 2 })
	if st := svc.ReloadStatus(); !st.LastOK {
		t.Errorf("status = %+v", st)
	}
}

// The fingerprint of unchanged files is the same each time, whatever the
// order of the [plugins.*] map (a difference would reload for nothing,
// or keep a change "still changing").
func TestFingerprintStable(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{File: filepath.Join(dir, "config.toml"), PluginDir: dir, Plugins: map[string]PluginConfig{}}
	put(t, cfg.File, "x")
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		p := filepath.Join(dir, "elsewhere-"+name+".wasm")
		put(t, p, name)
		cfg.Plugins[name] = PluginConfig{Path: p}
	}
	first := fingerprint(cfg)
	for range 50 {
		if got := fingerprint(cfg); got != first {
			t.Fatalf("fingerprint changed with nothing changed:\n%q\n%q", first, got)
		}
	}
	if got := readFingerprint(cfg); got != first {
		t.Errorf("readFingerprint without a LoadConfig stamp = %q, want %q", got, first)
	}
}
