package main_test

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/wasmtest"
)

// Every metric the Grafana dashboard queries is one a running host
// serves: a renamed metric fails here, not on an operator's screen.
func TestGrafanaDashboardMetrics(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(wasmtest.Root(t), "deploy", "grafana", "host-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("host-dashboard.json: %v", err)
	}
	want := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`filehost_[a-z_]+`).FindAllString(tg.Expr, -1) {
				want[strings.TrimSuffix(m, "_bucket")] = true
			}
		}
	}
	if len(want) < 8 {
		t.Fatalf("only %d metrics queried: %v", len(want), want)
	}

	dir := project(t, "[run]\nsettle = \"50ms\"\nsync = false\n"+config)
	cmd, log := startWatch(t, dir, "--dashboard-addr", "127.0.0.1:0")
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	var url string
	waitUntil(t, "the dashboard's address in the log", 30*time.Second, func() bool {
		if m := urlRE.FindStringSubmatch(log.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	// One file of each outcome, so the labelled series exist.
	in := filepath.Join(dir, "watch_dir", "unprocessed")
	os.WriteFile(filepath.Join(in, "ok.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(in, "no.bad"), []byte("fail\n"), 0o644)
	// The dashboard counts from tracker events, asynchronously: wait for
	// every family, then name the missing ones.
	var missing []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		families := scrape(t, url+"metrics")
		missing = missing[:0]
		for m := range want {
			if !families[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("the dashboard queries %s, which /metrics does not serve", m)
	}

	// SIGHUP (systemctl reload) leaves the host running.
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the reload", 10*time.Second, func() bool {
		return strings.Contains(log.String(), "configuration reloaded")
	})
	if resp, err := http.Get(url + "healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after SIGHUP: %v %v", resp, err)
	}
}

// scrape returns the metric families (names of # TYPE lines) at url.
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	return out
}

// The systemd unit is valid, reloads with SIGHUP, and starts the host
// with flags it has.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join(wasmtest.Root(t), "deploy", "systemd", "host.service"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	if got := keys["ExecReload"]; len(got) != 1 || got[0] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload = %q", got)
	}
	for _, k := range []string{"NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "CapabilityBoundingSet", "SystemCallFilter", "RestrictAddressFamilies"} {
		if len(keys[k]) == 0 {
			t.Errorf("no %s", k)
		}
	}
	// The flags of ExecStart parse: the same command with --check instead
	// of --watch passes on a project.
	start := strings.Fields(keys["ExecStart"][0])
	args := slices.Clone(start[1:])
	for i, a := range args {
		switch {
		case a == "--watch":
			args[i] = "--check"
		case i > 0 && args[i-1] == "--config":
			args[i] = "config.toml"
		}
	}
	dir := project(t, config)
	if r := runHost(t, dir, nil, args...); r.code != 0 {
		t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze to verify the unit")
	}
	tmp := filepath.Join(t.TempDir(), "host.service")
	os.WriteFile(tmp, []byte(strings.ReplaceAll(string(unit), start[0], bin)), 0o644)
	if out, err := exec.Command(analyze, "verify", tmp).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// run.sh: usage, and a bad command exits 2.
func TestRunScript(t *testing.T) {
	script := filepath.Join(wasmtest.Root(t), "run.sh")
	if out, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
	out, err := exec.Command(script, "help").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"run", "input FILE", "check"} {
		if !strings.Contains(string(out), "./run.sh "+cmd) {
			t.Errorf("usage lacks %q:\n%s", cmd, out)
		}
	}
	for _, args := range [][]string{{"bogus"}, {"input"}} {
		cmd := exec.Command(script, args...)
		if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("run.sh %v: %v, want exit 2", args, err)
		}
	}
	if testing.Short() {
		return
	}
	// For real: build (into a temp BIN, plugins into plugins/ as make
	// does) and check the shipped config.
	cmd := exec.Command(script, "check")
	cmd.Env = append(os.Environ(), "BIN="+filepath.Join(t.TempDir(), "host"))
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "config.toml: ok (") {
		t.Errorf("run.sh check: %v\n%s", err, out)
	}
}

// make docker-inputs, the first step of make docker, builds everything
// the image holds; here it is checked without Docker: the binary is
// static, and it passes --check on the staged config and plugins as the
// container would run it. Where a Docker engine runs, the image is built
// and a file goes through it.
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every plugin and a static binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	stage := filepath.Join(t.TempDir(), "docker")
	mk := exec.Command("make", "docker-inputs", "DOCKER_DIR="+stage)
	mk.Dir = wasmtest.Root(t)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make docker-inputs: %v\n%s", err, out)
	}
	f, err := elf.Open(filepath.Join(stage, "host"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the image's host binary is dynamically linked")
		}
	}
	f.Close()
	for _, p := range []string{"Dockerfile", ".dockerignore", "config.toml", "plugins/trim.wasm", "plugins/csv2jsonl.wasm", "watch_dir/unprocessed", ".cache/wazero"} {
		if _, err := os.Stat(filepath.Join(stage, p)); err != nil {
			t.Error(err)
		}
	}
	dockerfile, _ := os.ReadFile(filepath.Join(stage, "Dockerfile"))
	for _, want := range []string{"HOST_DASHBOARD_ADDR=0.0.0.0:5000", `VOLUME ["/app/watch_dir"]`, "USER 65532"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	// As the container runs it: its environment, in /app.
	check := exec.Command(filepath.Join(stage, "host"), "--check")
	check.Dir = stage
	check.Env = append(os.Environ(), "HOST_CONFIG="+filepath.Join(stage, "config.toml"), "HOST_DASHBOARD_ADDR=0.0.0.0:5000")
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("staged --check: %v\n%s", err, out)
	}
	if _, err := host.LoadConfig(filepath.Join(stage, "config.toml")); err != nil {
		t.Fatal(err)
	}

	docker, err := exec.LookPath("docker")
	if err != nil || exec.Command(docker, "info").Run() != nil {
		t.Skip("no Docker engine: the image itself is not built here")
	}
	image := "filehost/host:test"
	if out, err := exec.Command(docker, "build", "-t", image, stage).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	wd := t.TempDir()
	for _, d := range []string{"unprocessed", "underprocess", "processed", "failed"} {
		os.MkdirAll(filepath.Join(wd, d), 0o777)
		os.Chmod(filepath.Join(wd, d), 0o777)
	}
	run := exec.Command(docker, "run", "--rm", "-d", "-v", wd+":/app/watch_dir", "-e", "HOST_DASHBOARD_TOKEN=t", image)
	id, err := run.Output()
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	defer exec.Command(docker, "stop", strings.TrimSpace(string(id))).Run()
	os.WriteFile(filepath.Join(wd, "unprocessed", "a.txt"), []byte("  hi  \n"), 0o666)
	waitUntil(t, "a.txt processed in the container", 60*time.Second, func() bool {
		f, err := os.Open(filepath.Join(wd, "processed", "a.txt"))
		if err != nil {
			return false
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return strings.HasPrefix(string(b), "hi\n")
	})
}
