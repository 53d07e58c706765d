// Package wasmtest builds plugins from Go source for tests, with the same
// command as the Makefile, once per test binary.
package wasmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// Build compiles the plugin package at pkg (a directory, relative to the
// calling test's package or absolute) to a .wasm file and returns its
// path. Results are shared by every test in the binary.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[abs]; ok {
		return p
	}
	if dir == "" {
		// Not t.TempDir: the file outlives the test that built it.
		d, err := os.MkdirTemp("", "wasmtest-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	out := filepath.Join(dir, strings.ReplaceAll(strings.Trim(abs, "/"), "/", "_")+".wasm")
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin %s: %v\n%s", pkg, err, b)
	}
	built[abs] = out
	return out
}

// Root returns the module's root directory.
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Plugin builds the example plugin plugins/NAME.
func Plugin(t testing.TB, name string) string {
	t.Helper()
	return Build(t, filepath.Join(Root(t), "plugins", name))
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// WAT assembles the WebAssembly text file at path (relative to the calling
// test's package or absolute) with wat2wasm, from Debian's wabt package,
// and returns the .wasm file's path. A test that needs it fails, not
// skips, where the tool is missing: .ci/run installs it.
func WAT(t testing.TB, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return WATSource(t, filepath.Base(path), string(src))
}

// WATSource assembles WebAssembly text; name names the result in errors
// and in the file's name.
func WATSource(t testing.TB, name, src string) string {
	t.Helper()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatalf("wat2wasm is needed to build %s: install Debian's wabt package (.ci/run does)", name)
	}
	d := t.TempDir()
	in := filepath.Join(d, name+".wat")
	out := filepath.Join(d, strings.TrimSuffix(name, ".wat")+".wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(tool, "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", name, err, b)
	}
	return out
}

// Hostile assembles the hostile-plugin case internal/wasm/testdata/hostile/
// NAME.wat laid over base.wat there (its top comment explains how) and
// returns the .wasm file's path.
func Hostile(t testing.TB, name string) string {
	t.Helper()
	base := watFields(t, "base")
	for _, f := range watFields(t, name) {
		if i := slices.IndexFunc(base, func(b watField) bool { return b.tag == f.tag }); i >= 0 {
			base[i] = f
		} else {
			base = append(base, f)
		}
	}
	// The text format wants imports before other definitions.
	sort.SliceStable(base, func(i, j int) bool {
		return strings.Contains(base[i].body, "(import") && !strings.Contains(base[j].body, "(import")
	})
	var src strings.Builder
	src.WriteString("(module\n")
	for _, f := range base {
		src.WriteString(f.body)
	}
	src.WriteString(")\n")
	return WATSource(t, name, src.String())
}

type watField struct{ tag, body string }

var tagRE = regexp.MustCompile(`^;; @(\S+)\s*$`)

func watFields(t testing.TB, name string) []watField {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), "internal", "wasm", "testdata", "hostile", name+".wat"))
	if err != nil {
		t.Fatal(err)
	}
	var fields []watField
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if m := tagRE.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			fields = append(fields, watField{tag: m[1]})
			continue
		}
		if len(fields) > 0 {
			fields[len(fields)-1].body += line
		}
	}
	return fields
}
