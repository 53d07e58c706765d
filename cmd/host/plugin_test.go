package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// runIn runs the real binary (or another command, when name is not "")
// in dir with stdin.
func runIn(t *testing.T, dir, stdin string, env []string, name string, args ...string) result {
	t.Helper()
	if name == "" {
		name = bin
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
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

// squeeze collapses runs of spaces, so that checks of tabulated output do
// not depend on column widths.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// copyAs copies the file at src to dir/name.
func copyAs(t *testing.T, src, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func must(t *testing.T, r result, what string) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// offline is the environment of a plugin author's machine without this
// repository: no workspace, no module proxy, so a build that needs
// anything but the SDK fails.
var offline = []string{"GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=mod"}

func TestPluginNewGoBuildsOutsideTheRepository(t *testing.T) {
	sdkDir := filepath.Join(wasmtest.Root(t), "sdk")
	dir := t.TempDir()
	r := must(t, runIn(t, dir, "", nil, "", "plugin", "new", "shout", "--sdk", sdkDir), "plugin new")
	if !strings.Contains(r.stdout, "created") || !strings.Contains(r.stdout, "make test") {
		t.Errorf("plugin new said %q", r.stdout)
	}
	pdir := filepath.Join(dir, "shout")
	gomod, err := os.ReadFile(filepath.Join(pdir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(sdkDir)
	if !strings.Contains(string(gomod), "replace github.com/filehost/host/sdk => "+abs+"\n") ||
		!strings.Contains(string(gomod), "\ngo 1.24\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	// As generated: its tests pass, tidy needs nothing, make builds it.
	must(t, runIn(t, pdir, "", offline, "go", "mod", "tidy"), "go mod tidy")
	if after, _ := os.ReadFile(filepath.Join(pdir, "go.mod")); !bytes.Equal(after, gomod) {
		t.Errorf("go mod tidy changed go.mod:\n%s", after)
	}
	must(t, runIn(t, pdir, "", offline, "go", "vet", "./..."), "go vet")
	must(t, runIn(t, pdir, "", offline, "make", "test"), "make test")
	must(t, runIn(t, pdir, "", offline, "make"), "make")

	r = must(t, runIn(t, pdir, "a\r\nb", nil, "", "plugin", "run", "shout.wasm", "--set", "prefix=# "), "plugin run")
	if r.stdout != "# a\r\n# b" {
		t.Errorf("plugin run: got %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "2 lines") {
		t.Errorf("plugin run: the plugin's debug log is missing from stderr:\n%s", r.stderr)
	}
	r = must(t, runIn(t, pdir, "", nil, "", "plugin", "inspect", "shout.wasm"), "plugin inspect")
	for _, want := range []string{"abi version 1", "name shout", "version 0.1.0", `prefix (string = "> "): the text put in front of each line`} {
		if !strings.Contains(squeeze(r.stdout), want) {
			t.Errorf("plugin inspect lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestPluginNewFindsTheSDKBesideTheBinary(t *testing.T) {
	// The layout of make build: bin/host beside sdk/.
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "bin"), 0o755)
	data, _ := os.ReadFile(bin)
	exe := filepath.Join(root, "bin", "host")
	os.WriteFile(exe, data, 0o755)
	if err := os.Symlink(filepath.Join(wasmtest.Root(t), "sdk"), filepath.Join(root, "sdk")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must(t, runIn(t, dir, "", nil, exe, "plugin", "new", "p1"), "plugin new")
	gomod, _ := os.ReadFile(filepath.Join(dir, "p1", "go.mod"))
	if !strings.Contains(string(gomod), "=> "+filepath.Join(root, "sdk")+"\n") {
		t.Errorf("go.mod does not point at %s:\n%s", filepath.Join(root, "sdk"), gomod)
	}

	// Without an SDK there, nothing is written and the message says what to do.
	os.Remove(filepath.Join(root, "sdk"))
	r := runIn(t, dir, "", nil, exe, "plugin", "new", "p2")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot find the Go SDK") || !strings.Contains(r.stderr, "--sdk") {
		t.Errorf("got exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "p2")); err == nil {
		t.Error("p2/ was written without an SDK")
	}
}

func TestPluginNewRefuses(t *testing.T) {
	dir := t.TempDir()
	sdk := filepath.Join(wasmtest.Root(t), "sdk")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"1x"}, `bad name "1x"`},
		{[]string{"a/b"}, `bad name "a/b"`},
		{[]string{"x", "--lang", "cobol"}, `--lang`},
		{[]string{"x", "--sdk", dir}, "not the Go SDK"},
	} {
		r := runIn(t, dir, "", nil, "", append([]string{"plugin", "new", "--sdk", sdk}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("plugin new %v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	os.Mkdir(filepath.Join(dir, "taken"), 0o755)
	os.WriteFile(filepath.Join(dir, "taken", "keep.txt"), []byte("mine"), 0o644)
	r := runIn(t, dir, "", nil, "", "plugin", "new", "taken", "--sdk", sdk)
	if r.code != 2 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("over an existing folder: exit %d, stderr %q", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "taken", "keep.txt")); string(b) != "mine" {
		t.Error("an existing folder was touched")
	}
}

func TestPluginNewCBuildsOutsideTheRepository(t *testing.T) {
	wasmtest.BuildC(t, "upper") // skips where clang cannot build plugins
	dir := t.TempDir()
	must(t, runIn(t, dir, "", nil, "", "plugin", "new", "cprefix", "--lang", "c"), "plugin new --lang c")
	pdir := filepath.Join(dir, "cprefix")
	must(t, runIn(t, pdir, "", nil, "make", "test", "HOST="+bin), "make test")
	r := must(t, runIn(t, pdir, "x\ny\n", nil, "", "plugin", "run", "cprefix.wasm", "--set", `prefix="1 "`), "plugin run")
	if r.stdout != "1 x\n1 y\n" {
		t.Errorf("plugin run: got %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "2 lines") {
		t.Errorf("the plugin's debug log is missing from stderr:\n%s", r.stderr)
	}
	r = must(t, runIn(t, pdir, "", nil, "", "plugin", "inspect", "cprefix.wasm"), "plugin inspect")
	if !strings.Contains(squeeze(r.stdout), "name cprefix") || !strings.Contains(r.stdout, `prefix (string = "> ")`) {
		t.Errorf("plugin inspect:\n%s", r.stdout)
	}
	// A broken test is reported as a failure.
	os.WriteFile(filepath.Join(pdir, "testdata", "default.want"), []byte("wrong\n"), 0o644)
	if r := runIn(t, pdir, "", nil, "make", "test", "HOST="+bin); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "FAIL testdata/default") {
		t.Errorf("make test with a wrong expectation: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestPluginRun(t *testing.T) {
	dir := t.TempDir()
	grep := copyAs(t, wasmtest.Plugin(t, "grep"), dir, "grep.wasm")
	faulty := copyAs(t, wasmtest.Build(t, "../../internal/wasm/testdata/faulty"), dir, "faulty.wasm")
	log := "INFO a\nerror b\nERROR c\n"
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"settings as TOML values", []string{grep, "--set", "pattern=error", "--set", "ignore_case=true"}, log, 0, "error b\nERROR c\n", ""},
		{"a string that looks like a number", []string{grep, "-s", `pattern="1"`}, "a1\nb\n", 0, "a1\n", ""},
		{"text taken as it is", []string{grep, "--set", "pattern=^[a-z]+ b$"}, log, 0, "error b\n", ""},
		{"bad setting", []string{grep, "--set", "patern=x"}, log, 2, "", `plugin grep (` + grep + `): configure: unknown config key "patern"`},
		{"no equals sign", []string{grep, "--set", "pattern"}, log, 2, "", `--set "pattern": want KEY=VALUE`},
		{"the plugin fails the file", []string{faulty}, "a\nfail\n", 1, "", "plugin faulty: asked to fail"},
		{"a trap", []string{faulty}, "panic\n", 1, "", "plugin faulty: panic: assignment to entry in nil map"},
		// The limits are a pipeline's: max_memory's check and message.
		{"max memory", []string{grep, "--set", "pattern=x", "--max-memory", "1MiB"}, log, 2, "", "over limit of 16 pages"},
		{"bad max memory", []string{grep, "--max-memory", "lots"}, log, 2, "", "max_memory"},
		{"timeout", []string{faulty, "--timeout", "200ms"}, "loop\n", 1, "", "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runIn(t, dir, tt.stdin, nil, "", append([]string{"plugin", "run", "--log-level", "warn"}, tt.args...)...)
			if r.code != tt.code || r.stdout != tt.stdout || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
					r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestPluginRunNamesTheFile(t *testing.T) {
	// The file name reaches plugin_begin: the WebAssembly text cat logs it.
	dir := t.TempDir()
	wat := copyAs(t, wasmtest.BuildWat(t, "cat"), dir, "wat cat.wasm")
	r := must(t, runIn(t, dir, "x\n", nil, "", "plugin", "run", wat, "--name", "report.txt"), "plugin run")
	// The plugin is named after its file, made a valid name.
	if r.stdout != "x\n" || !strings.Contains(r.stderr, "msg=report.txt plugin=wat_cat file=report.txt") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

func TestPluginInspect(t *testing.T) {
	dir := t.TempDir()
	grep := wasmtest.Plugin(t, "grep")
	r := must(t, runIn(t, dir, "", nil, "", "plugin", "inspect", grep), "inspect")
	for _, want := range []string{
		"abi version 1", "name grep", "version 1.0.0",
		"pattern (string): the regular expression (required)",
		"invert (bool = false)",
		"host.emit (func (param i32 i32))",
		"wasi_snapshot_preview1.fd_write (func (param i32 i32 i32 i32) (result i32))",
		"plugin_chunk (func (param i32) (result i32))",
		"memory (memory ", "sha256 ", "size ", "loads yes",
	} {
		if !strings.Contains(squeeze(r.stdout), want) {
			t.Errorf("inspect lacks %q:\n%s", want, r.stdout)
		}
	}
	// A module that is not a plugin: what it is, and why it would not load.
	garbage := filepath.Join(dir, "notaplugin.wasm")
	os.WriteFile(garbage, []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	r = runIn(t, dir, "", nil, "", "plugin", "inspect", garbage)
	if r.code != 1 || !strings.Contains(squeeze(r.stdout), "loads no: does not export plugin_abi_version") {
		t.Errorf("empty module: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	os.WriteFile(garbage, []byte("text"), 0o644)
	r = runIn(t, dir, "", nil, "", "plugin", "inspect", garbage)
	if r.code != 1 || !strings.Contains(r.stderr, "notaplugin.wasm: not a WebAssembly module") {
		t.Errorf("not wasm: exit %d, stderr %q", r.code, r.stderr)
	}
	r = must(t, runIn(t, dir, "", nil, "", "plugin", "inspect", "--json", grep), "inspect --json")
	if !strings.Contains(r.stdout, `"abi_version": 1`) || !strings.Contains(r.stdout, `"name": "pattern"`) {
		t.Errorf("inspect --json:\n%s", r.stdout)
	}
}

func TestCheckShowsPluginMetadata(t *testing.T) {
	dir := project(t, config)
	r := runHost(t, dir, nil, "--check")
	if r.code != 0 || !strings.Contains(r.stdout, "loaded in ") ||
		!strings.Contains(r.stdout, "(upper 1.0.0: Upper-cases every line by Unicode rules; bytes that are not UTF-8 pass through.)\n") {
		t.Errorf("--check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
