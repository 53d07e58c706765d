package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
	"github.com/filehost/host/internal/web/webtest"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "host-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "host")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	webtest.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runHost(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
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

// project lays out a config, plugins/ and an input file in a temp dir.
func project(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	for name, src := range map[string]string{
		"upper":  wasmtest.Plugin(t, "upper"),
		"faulty": wasmtest.Build(t, "../../internal/wasm/testdata/faulty"),
	} {
		data, _ := os.ReadFile(src)
		os.WriteFile(filepath.Join(dir, "plugins", name+".wasm"), data, 0o644)
	}
	// A cache shared by all tests, so each run does not compile afresh.
	cache := "cache_dir = " + strconv.Quote(filepath.Join(os.TempDir(), "wasmtest-cache")) + "\n"
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cache+config), 0o644)
	return dir
}

const config = `
[[pipeline]]
name = "bad"
match = ["*.bad"]
plugins = ["faulty"]

[[pipeline]]
name = "text"
plugins = ["upper"]
`

func TestCLIInput(t *testing.T) {
	dir := project(t, config)
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("abc\n"), 0o644)

	r := runHost(t, dir, nil, "--input", "in.txt")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "watch_dir", "processed", "in.txt")); string(got) != "ABC\n" {
		t.Errorf("processed/in.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "in.txt")); err != nil {
		t.Errorf("--input of a file outside the watch folder moved it: %v", err)
	}

	// A file in the watched unprocessed/ follows the folder protocol.
	os.MkdirAll(filepath.Join(dir, "watch_dir", "unprocessed"), 0o755)
	os.WriteFile(filepath.Join(dir, "watch_dir", "unprocessed", "x.bad"), []byte("fail\n"), 0o644)
	r = runHost(t, dir, nil, "-i", "watch_dir/unprocessed/x.bad")
	if r.code != 1 || !strings.Contains(r.stderr, "plugin faulty: asked to fail") {
		t.Errorf("failing file: exit %d, stderr %q", r.code, r.stderr)
	}
	if last := lastLine(r.stderr); !strings.HasPrefix(last, "host: ") {
		t.Errorf("last line %q is not a one-line reason", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "watch_dir", "failed", "x.bad.error.json")); err != nil {
		t.Error(err)
	}

	for _, path := range []string{"missing.txt", "plugins"} {
		r = runHost(t, dir, nil, "--input", path)
		if r.code != 1 || !strings.Contains(r.stderr, path) {
			t.Errorf("--input %s: exit %d, stderr %q", path, r.code, r.stderr)
		}
	}
}

func TestCLIOutput(t *testing.T) {
	dir := project(t, config)
	os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a\r\nb"), 0o644)

	r := runHost(t, dir, nil, "--input", "in.txt", "--output", "-")
	if r.code != 0 || r.stdout != "A\r\nB" {
		t.Fatalf("--output -: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = runHost(t, dir, nil, "--input", "in.txt", "--output", "out.txt")
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); r.code != 0 || string(got) != "A\r\nB" {
		t.Fatalf("--output out.txt: exit %d, file %q, stderr %s", r.code, got, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "in.txt")); err != nil {
		t.Errorf("input moved: %v", err)
	}

	// A failure leaves no output file behind.
	os.WriteFile(filepath.Join(dir, "x.bad"), []byte("ok\nfail\n"), 0o644)
	r = runHost(t, dir, nil, "--input", "x.bad", "--output", "x.out")
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.out")); !os.IsNotExist(err) {
		t.Errorf("partial output left: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 5 { // config.toml, plugins, in.txt, out.txt, x.bad
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left: %v", names)
	}
}

func TestCLIConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"unknown key", "[[pipeline]]\nname = \"a\"\nplugins = [\"upper\"]\ncolour = 1\n", "config.toml:5: pipeline[1].colour: unknown key"},
		{"unknown plugin", "[[pipeline]]\nname = \"a\"\nplugins = [\"nope\"]\n", "unknown plugin \"nope\""},
		{"bad wasm", "[[pipeline]]\nname = \"a\"\nplugins = [\"junk\"]\n", "plugin junk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.config)
			os.WriteFile(filepath.Join(dir, "plugins", "junk.wasm"), []byte("not wasm"), 0o644)
			r := runHost(t, dir, nil, "--check")
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestCLICheckAndFlags(t *testing.T) {
	dir := project(t, config)
	r := runHost(t, dir, nil, "--check")
	if r.code != 0 || !strings.Contains(r.stdout, "ok (2 plugins, 2 pipelines)") || !strings.Contains(r.stdout, "sha256:") {
		t.Errorf("--check: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Flags from the environment.
	os.Rename(filepath.Join(dir, "config.toml"), filepath.Join(dir, "other.toml"))
	r = runHost(t, dir, []string{"HOST_CONFIG=other.toml", "HOST_CHECK=true"})
	if r.code != 0 {
		t.Errorf("HOST_CONFIG: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runHost(t, dir, nil, "--check")
	if r.code != 2 || !strings.Contains(r.stderr, "config.toml") {
		t.Errorf("missing config: exit %d, stderr %q", r.code, r.stderr)
	}

	r = runHost(t, dir, nil, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "host ") {
		t.Errorf("--version: exit %d, %q", r.code, r.stdout)
	}
	r = runHost(t, dir, nil, "--help")
	for _, flag := range []string{"--config", "--input", "--output", "--watch", "--check", "--log-level", "--log-format", "--version", "$HOST_CONFIG"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("--help lacks %s", flag)
		}
	}
	for _, args := range [][]string{{}, {"--bogus"}, {"--output", "x"}, {"--input", "a", "--watch"}, {"--log-level", "loud", "--check"}} {
		if r := runHost(t, dir, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
