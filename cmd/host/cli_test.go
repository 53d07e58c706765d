package main_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasmtest"
)

const contentConfig = `
[dashboard]
enabled = false

[[pipeline]]
name = "csv"
match = ["*.csv"]
content = "text"
plugins = ["upper"]
output = "{stem}.jsonl"

[[pipeline]]
name = "text"
content = "text"
plugins = ["upper"]

[[pipeline]]
name = "asis"
match = ["*.keep"]
plugins = []
`

// runHostStdin is runHost with stdin.
func runHostStdin(t *testing.T, dir string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01")

func TestCLIStdin(t *testing.T) {
	dir := project(t, contentConfig)
	r := runHostStdin(t, dir, []byte("abc\n"), "--input", "-", "--output", "-")
	if r.code != 0 || r.stdout != "ABC\n" {
		t.Errorf("-i - -o -: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runHostStdin(t, dir, []byte("abc\n"), "-i", "-", "-o", "out.txt")
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); r.code != 0 || string(got) != "ABC\n" {
		t.Errorf("-i - -o out.txt: exit %d, file %q, stderr %q", r.code, got, r.stderr)
	}
	// Binary on stdin: no pipeline takes it, nothing is written.
	r = runHostStdin(t, dir, png, "-i", "-", "-o", "-")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "no pipeline takes the file: stdin is binary (image/png)") {
		t.Errorf("binary stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// ...unless a pipeline is forced.
	r = runHostStdin(t, dir, png, "-i", "-", "-o", "-", "--pipeline", "asis")
	if r.code != 0 || r.stdout != string(png) {
		t.Errorf("forced asis: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "-"}, "--input - reads standard input and needs --output"},
		{[]string{"-i", "-", "-o", "outdir/"}, "standard input has no name"},
	} {
		if r := runHostStdin(t, dir, []byte("x\n"), tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

func TestCLIPipelineFlag(t *testing.T) {
	dir := project(t, contentConfig)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("abc\n"), 0o644)
	r := runHost(t, dir, nil, "-i", "notes.txt", "-o", "-", "--pipeline", "asis")
	if r.code != 0 || r.stdout != "abc\n" {
		t.Errorf("--pipeline asis -o -: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Through the folder protocol: the forced pipeline is used there too.
	r = runHost(t, dir, nil, "-i", "notes.txt", "-p", "asis")
	if got, _ := os.ReadFile(filepath.Join(dir, "watch_dir", "processed", "notes.txt")); r.code != 0 || string(got) != "abc\n" {
		t.Errorf("--pipeline asis: exit %d, processed %q, stderr %q", r.code, got, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("abc\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "notes.txt", "--pipeline", "txt"}, "config.toml (it has: csv, text, asis)"},
		{[]string{"--watch", "--pipeline", "text"}, "--pipeline needs --input"},
		{[]string{"--check", "--pipeline", "text"}, "--pipeline needs --input"},
	} {
		if r := runHost(t, dir, nil, tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// -o DIR/ (or an existing folder) writes DIR/NAME, NAME being the result's
// name as the pipeline gives it.
func TestCLIOutputFolder(t *testing.T) {
	dir := project(t, contentConfig)
	os.WriteFile(filepath.Join(dir, "people.csv"), []byte("a,b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	for _, tt := range []struct{ input, output, file string }{
		{"people.csv", "out/", "out/people.jsonl"},
		{"notes.txt", "out", "out/notes.txt"},
		{"notes.txt", "out/renamed.txt", "out/renamed.txt"},
	} {
		r := runHost(t, dir, nil, "-i", tt.input, "-o", tt.output)
		if _, err := os.Stat(filepath.Join(dir, tt.file)); r.code != 0 || err != nil {
			t.Errorf("-i %s -o %s: exit %d, %v, stderr %q", tt.input, tt.output, r.code, err, r.stderr)
		}
	}
	r := runHost(t, dir, nil, "-i", "notes.txt", "-o", "nowhere/")
	if r.code != 1 || !strings.Contains(r.stderr, "output folder nowhere/ does not exist") {
		t.Errorf("-o nowhere/: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Count(r.stderr, "host: ") != 1 {
		t.Errorf("prefix not once: %q", r.stderr)
	}
}

func TestCLIDashboardAddr(t *testing.T) {
	dir := project(t, "[dashboard]\naddr = \"localhost\"\n"+config) // line 1 is cache_dir
	r := runHost(t, dir, nil, "--check")
	if r.code != 2 || !strings.Contains(r.stderr, `config.toml:3: dashboard.addr: "localhost" has no port: write e.g. "localhost:5000"`) {
		t.Errorf("--check: exit %d, stderr %q", r.code, r.stderr)
	}
	dir = project(t, config)
	r = runHost(t, dir, nil, "--watch", "--dashboard-addr", "localhost")
	if r.code != 2 || !strings.Contains(r.stderr, "host: --dashboard-addr: \"localhost\" has no port") {
		t.Errorf("--dashboard-addr localhost: exit %d, stderr %q", r.code, r.stderr)
	}

	// A taken port says what to do, with each prefix once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r = runHost(t, dir, nil, "--watch", "--dashboard-addr", ln.Addr().String())
	if r.code != 2 || !strings.Contains(r.stderr, "pick another address with --dashboard-addr") {
		t.Errorf("taken port: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, doubled := range []string{"host: host:", "dashboard: dashboard:"} {
		if strings.Contains(r.stderr, doubled) {
			t.Errorf("doubled prefix %q in %q", doubled, r.stderr)
		}
	}
}

// A plugin built without -buildmode=c-shared is refused at load with how
// to fix it, not a stack trace from inside the guest.
func TestCLICommandPlugin(t *testing.T) {
	dir := project(t, "[[pipeline]]\nname = \"p\"\nplugins = [\"cmd\"]\n")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "plugins", "cmd.wasm"), "./plugins/upper")
	build.Dir = wasmtest.Root(t)
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	r := runHost(t, dir, nil, "--check")
	if r.code != 2 || !strings.Contains(r.stderr, "plugin cmd") || !strings.Contains(r.stderr, "built as a command; rebuild with -buildmode=c-shared") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "wasm stack trace") {
		t.Errorf("stack trace in %q", r.stderr)
	}
}

// The README's flag table lists every flag of --help.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(wasmtest.Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := runHost(t, t.TempDir(), nil, "--help")
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z-]+)`).FindAllStringSubmatch(r.stdout, -1)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in --help:\n%s", len(flags), r.stdout)
	}
	for _, f := range flags {
		if !bytes.Contains(readme, []byte("| `"+f[1])) && !regexp.MustCompile("\\| `-\\w`?,? ?`?"+f[1]).Match(readme) {
			t.Errorf("README.md's flag table lacks %s", f[1])
		}
	}
}

// A dashboard open to other machines without a token is warned about, as
// in a container run without HOST_DASHBOARD_TOKEN.
func TestCLIExposedDashboardWarns(t *testing.T) {
	dir := project(t, config)
	cmd, log := startWatch(t, dir, "--dashboard-addr", "0.0.0.0:0")
	waitUntil(t, "the dashboard's address in the log", 30*time.Second, func() bool {
		return urlRE.MatchString(log.String())
	})
	waitUntil(t, "the warning", 10*time.Second, func() bool {
		return strings.Contains(log.String(), "reachable from other machines without a token")
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	cmd, log = startWatchEnv(t, dir, []string{"HOST_DASHBOARD_TOKEN=t"}, "--dashboard-addr", "0.0.0.0:0")
	waitUntil(t, "the dashboard's address in the log", 30*time.Second, func() bool {
		return urlRE.MatchString(log.String())
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if strings.Contains(log.String(), "without a token") {
		t.Errorf("warned with a token:\n%s", log.String())
	}
}

// In watch mode, a binary file that no pipeline takes goes to failed/
// byte for byte with the reason, at once (not retried), while text beside
// it is processed.
func TestWatchBinaryFails(t *testing.T) {
	dir := project(t, "[run]\nsettle = \"50ms\"\nsync = false\n"+contentConfig)
	wd := filepath.Join(dir, "watch_dir")
	os.MkdirAll(filepath.Join(wd, "unprocessed"), 0o755)
	os.WriteFile(filepath.Join(wd, "unprocessed", "photo.txt"), png, 0o644)
	os.WriteFile(filepath.Join(wd, "unprocessed", "notes.txt"), []byte("abc\n"), 0o644)
	cmd, log := startWatch(t, dir)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	var report []byte
	waitUntil(t, "photo.txt in failed/ with its report", 30*time.Second, func() bool {
		report, _ = os.ReadFile(filepath.Join(wd, "failed", "photo.txt.error.json"))
		return len(report) > 0
	})
	if got, _ := os.ReadFile(filepath.Join(wd, "failed", "photo.txt")); !bytes.Equal(got, png) {
		t.Errorf("failed/photo.txt = %q, want the input unchanged", got)
	}
	if !strings.Contains(string(report), "photo.txt is binary (image/png)") || !strings.Contains(string(report), `"attempts": 1`) {
		t.Errorf("report: %s", report)
	}
	waitUntil(t, "notes.txt processed", 30*time.Second, func() bool {
		got, _ := os.ReadFile(filepath.Join(wd, "processed", "notes.txt"))
		return string(got) == "ABC\n"
	})
	if strings.Contains(log.String(), "will retry") {
		t.Errorf("a file no pipeline takes was retried:\n%s", log.String())
	}
}

// host --input prunes cache_dir after its file: the entry it ran from is
// touched, a month-unused one removed (watch mode is in host's tests).
func TestCLIInputPrunesCache(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	data, _ := os.ReadFile(wasmtest.Plugin(t, "upper"))
	os.WriteFile(filepath.Join(dir, "plugins", "upper.wasm"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("cache_dir = \"cache\"\n[[pipeline]]\nname = \"up\"\nplugins = [\"upper\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("abc\n"), 0o644)
	if r := runHost(t, dir, nil, "--input", "in.txt", "--output", "-"); r.code != 0 { // compiles: the entry is written
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	folders, _ := filepath.Glob(filepath.Join(dir, "cache", "wazy-*"))
	entries, _ := filepath.Glob(filepath.Join(folders[0], "*"))
	if len(folders) != 1 || len(entries) != 1 {
		t.Fatalf("cache holds %v, %v", folders, entries)
	}
	month := time.Now().Add(-31 * 24 * time.Hour)
	stale := filepath.Join(folders[0], strings.Repeat("ab", 32))
	os.WriteFile(stale, []byte("x"), 0o644)
	for _, path := range []string{stale, entries[0]} {
		os.Chtimes(path, month, month)
	}

	r := runHost(t, dir, nil, "--input", "in.txt", "--output", "-") // runs from the entry
	if r.code != 0 || r.stdout != "ABC\n" {
		t.Fatalf("exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "compilation cache pruned") {
		t.Errorf("no prune logged: %s", r.stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the month-unused entry is still there: %v", err)
	}
	if info, err := os.Stat(entries[0]); err != nil || time.Since(info.ModTime()) > time.Hour {
		t.Errorf("the entry in use: %v, %v; want it kept and touched", info, err)
	}
}
