package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/wasmtest"
)

// The large phase runs this program as its native baseline (nativeCommand);
// under go test, this program is the test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == nativeCommand {
		os.Exit(nativeMain(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

// TestQuickRun runs the whole harness on tiny inputs against a freshly
// built host and the chain's plugins, and checks that every figure made it
// into the JSON and that the temporary folder is gone. It says nothing
// about speed.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary for a few minutes")
	}
	dir := t.TempDir()
	hostBin := filepath.Join(dir, "host")
	build := exec.Command("go", "build", "-o", hostBin, "./cmd/host")
	build.Dir = wasmtest.Root(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build host: %v\n%s", err, out)
	}
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	// The chains' plugins, the memory phase's and the shipped config's,
	// and the large chain's C twins.
	builds := map[string]string{}
	for _, name := range []string{"trim", "upper", "redact", "grep", "lower", "snake_case", "dedupe", "count", "csv2jsonl"} {
		builds[name] = wasmtest.Plugin(t, name)
	}
	for _, name := range []string{"trim", "upper", "grep"} {
		builds[cPrefix+name] = wasmtest.BuildC(t, name)
	}
	for name, path := range builds {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plugins, name+".wasm"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	jsonOut := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	code := run(ctx, []string{"-quick", "-host", hostBin, "-plugins", plugins, "-json", jsonOut, "-tmp", tmp,
		"-config", filepath.Join(wasmtest.Root(t), "config.toml"),
		"-files", "40", "-coreutils-files", "10", "-paced", "10", "-large", "2MiB"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}

	var res Results
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"large.host.mb_per_s", "large.host.peak_rss_mib", "large.host.peak_rss_small_mib", "large.cat.mb_per_s",
		"large.native.mb_per_s", "large.host_c.mb_per_s",
		"startup.host.cold_s", "startup.host.warm_s", "startup.host.cold_rss_mib", "startup.host.warm_rss_mib",
		"startup.host.cold_compiled_s", "startup.host.cold_peak_rss_mib",
		"memory.go1.host.cold_mib", "memory.go1.host.warm_mib", "memory.go4.host.cold_mib", "memory.go4.host.warm_mib",
		"memory.shipped.host.cold_mib", "memory.shipped.host.warm_mib", "memory.shipped.host.big_cold_mib", "memory.shipped.host.big_warm_mib",
	}
	for _, v := range []string{"sync", "nosync"} {
		for _, sys := range []string{sysHost, sysNative, sysCoreutils} {
			for _, m := range []string{"files_per_s", "p50_ms", "p99_ms"} {
				want = append(want, "small."+v+"."+sys+"."+m)
			}
			for _, m := range []string{"p50_ms", "p99_ms"} {
				want = append(want, "paced."+v+"."+sys+"."+m)
			}
		}
		want = append(want, "small."+v+".host.cpu_ms_per_file", "small."+v+".native.cpu_ms_per_file",
			"small."+v+".host_bare.files_per_s", "small."+v+".host_bare.cpu_ms_per_file")
	}
	if coreutilsMissing([]string{"trim", "upper", "grep"}, false) == "" {
		want = append(want, "large.coreutils.mb_per_s", "large.coreutils.peak_rss_mib")
		if same, _ := res.Params["large_coreutils_output_identical"].(bool); !same {
			t.Errorf("the coreutils pipeline's output differs from the chain's on the generated text: the baseline no longer does the same work (update stages in stages.go or genCorpus)")
		}
	}
	// The native baseline and the C twins do the Go plugins' work.
	for _, sys := range []string{sysNative, sysHostC} {
		if same, _ := res.Params["large_"+sys+"_output_identical"].(bool); !same {
			t.Errorf("the %s output of the large file differs from the host's: it no longer does the same work", sys)
		}
	}
	for _, key := range want {
		v, ok := res.Figures[key]
		if !ok {
			if skipped(res.Skipped, key) {
				continue
			}
			t.Errorf("figure %s missing and not skipped", key)
			continue
		}
		if v <= 0 {
			t.Errorf("figure %s = %v, want > 0", key, v)
		}
		if n := len(res.Samples[key]); n != 1 {
			t.Errorf("figure %s has %d samples, want 1 (-quick)", key, n)
		}
	}
	if v := res.Figures["memory.per_go_plugin.host.warm_mib"]; v == 0 {
		t.Errorf("no figure for the memory of one more Go plugin")
	}
	for _, key := range []string{"small.sync.files_per_s.host/native", "small.nosync.files_per_s.host_bare/native", "large.mb_per_s.host/cat", "large.mb_per_s.host/native", "large.mb_per_s.host_c/native"} {
		if _, ok := res.Ratios[key]; !ok {
			t.Errorf("ratio %s missing", key)
		}
	}
	if len(res.Targets) < 4 {
		t.Errorf("%d targets checked, want at least 4", len(res.Targets))
	}
	if got := res.Params["startup_plugins"]; got != float64(10) {
		t.Errorf("start-up loaded %v plugins, want 10", got)
	}
	if res.Machine.CPUs < 1 || res.Machine.Go == "" {
		t.Errorf("machine not described: %+v", res.Machine)
	}
	for _, s := range []string{"files/s", "host÷native", "targets"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, &stdout)
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func skipped(skips map[string]string, key string) bool {
	for pattern := range skips {
		if matchKey(pattern, key) {
			return true
		}
	}
	return false
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-reps", "2", "-large", "3MiB", "-file-size", "1KiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.files != 200 || o.reps != 2 || o.large != 3<<20 || o.fileSize != 1<<10 {
		t.Errorf("-quick with explicit flags: files %d reps %d large %d file size %d", o.files, o.reps, o.large, o.fileSize)
	}
	for _, args := range [][]string{
		{"-only", "nope"}, {"-reps", "0"}, {"-large", "1.5GiB"}, {"-chain", ""}, {"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4KiB": 4096, " 8 MiB": 8 << 20, "1GiB": 1 << 30, "12B": 12} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "4kb", "MiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 50); p != 100 {
		t.Errorf("p50 of 1..200 = %d, want 100", p)
	}
	if p := percentile(d, 99); p != 198 {
		t.Errorf("p99 of 1..200 = %d, want 198", p)
	}
	if p := percentile(d[:1], 99); p != 1 {
		t.Errorf("p99 of one value = %d, want 1", p)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v, want 2", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
}

func TestShellPipeline(t *testing.T) {
	got := shellPipeline([]string{"trim", "upper"})
	if !strings.HasPrefix(got, `sed -E`) || !strings.Contains(got, `< "$in" | tr a-z A-Z > "$out"`) {
		t.Errorf("pipeline = %s", got)
	}
	if got := shellPipeline([]string{"trim", "csv2jsonl"}); got != "" {
		t.Errorf("a plugin without an equivalent gave %q", got)
	}
	if !haveTool("bash") || !haveTool("sed") || !haveTool("tr") {
		t.Skip("bash, sed or tr not installed")
	}
	// The baseline does the chain's kind of work on a sample line.
	cmd := exec.Command("bash", "-c", `in=/dev/stdin out=/dev/stdout; `+shellPipeline([]string{"trim", "upper", "redact"}))
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader("  mail bob@example.org from 10.0.0.1 and 2001:db8::1 card 4111 1111 1111 1111 at 10:22:33  \n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "MAIL [EMAIL] FROM [IPV4] AND [IPV6] CARD [CARD] AT 10:22:33\n"; string(out) != want {
		t.Errorf("pipeline output %q, want %q", out, want)
	}
}

// The baselines get as many files in flight as the host's watch mode has.
func TestInFlightMatchesHost(t *testing.T) {
	if inFlightPerWorker != host.InFlightPerWorker {
		t.Errorf("inFlightPerWorker = %d, host.InFlightPerWorker = %d", inFlightPerWorker, host.InFlightPerWorker)
	}
}

// The native baseline does the large chain's work: trim, upper-case, drop
// the lines with WARN, keep line terminators and a last line without one.
func TestNativeChain(t *testing.T) {
	var out bytes.Buffer
	in := "  info ok \n\twarn dropped\nlong " + strings.Repeat("x", 100<<10) + "\n  café  \nlast"
	if err := nativeChain([]string{"trim", "upper", "grep"}, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := "INFO OK\nLONG " + strings.Repeat("X", 100<<10) + "\nCAFÉ\nLAST"
	if out.String() != want {
		t.Errorf("nativeChain = %.60q..., want %.60q...", out.String(), want)
	}
	if err := nativeChain([]string{"trim", "redact"}, strings.NewReader(in), &out); err == nil {
		t.Error("a chain without a native equivalent ran")
	}
}
