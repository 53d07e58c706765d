package wasmtest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The commands of the Makefile's rules for plugins in other languages.
var (
	cFlags    = []string{"--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-mexec-model=reactor", "-Wl,--strip-all"}
	rustFlags = []string{"--edition", "2021", "--crate-type", "cdylib", "--target", "wasm32-wasi", "-O", "-C", "strip=symbols"}
)

// BuildC compiles the C plugin plugins/c/NAME with clang and wasi-libc
// and returns the .wasm's path. Where clang cannot build for wasm32-wasi
// the test is skipped, except in CI (CI=true), where .ci/run installs the
// toolchain and a missing one is a failure.
func BuildC(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(Root(t), "plugins", "c", name, name+".c")
	return buildWith(t, "c-"+name, "clang", "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32",
		func(out string) []string { return append(append([]string{}, cFlags...), "-o", out, src) })
}

// BuildCFile compiles one C file that includes sdk/c/hostplugin.h.
func BuildCFile(t testing.TB, src string) string {
	t.Helper()
	return buildWith(t, strings.ReplaceAll(strings.Trim(src, "/"), "/", "_"), "clang", "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32",
		func(out string) []string { return append(append([]string{}, cFlags...), "-o", out, src) })
}

// BuildWat assembles plugins/wat/NAME.wat with wabt's wat2wasm.
func BuildWat(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(Root(t), "plugins", "wat", name+".wat")
	return buildWith(t, "wat-"+name, "wat2wasm", "apt-get install wabt",
		func(out string) []string { return []string{"-o", out, src} })
}

// BuildRust compiles plugins/rust/NAME/lib.rs with a rustc that has the
// wasm32-wasi standard library (Debian's libstd-rust-dev-wasm32).
func BuildRust(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(Root(t), "plugins", "rust", name, "lib.rs")
	return buildWith(t, "rust-"+name, RustC(), "apt-get install rustc libstd-rust-dev-wasm32",
		func(out string) []string { return append(append([]string{}, rustFlags...), "-o", out, src) })
}

// RustC is the first rustc that can build for wasm32-wasi, or "rustc":
// a rustup toolchain on the PATH often lacks the target, Debian's has it.
func RustC() string {
	for _, r := range []string{"rustc", "/usr/bin/rustc"} {
		dir, err := exec.Command(r, "--print", "target-libdir", "--target", "wasm32-wasi").Output()
		if err != nil {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(dir)), "libstd-*.rlib")); len(m) > 0 {
			return r
		}
	}
	return "rustc"
}

// Skip skips t for a missing toolchain, or fails it in CI.
func Skip(t testing.TB, tool, install string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s cannot build plugins here (%v); CI must have it: %s", tool, err, install)
	}
	t.Skipf("%s cannot build plugins here (%v): %s", tool, err, install)
}

func buildWith(t testing.TB, key, tool, install string, args func(out string) []string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "wasmtest-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	out := filepath.Join(dir, key+".wasm")
	if _, err := exec.LookPath(tool); err != nil {
		Skip(t, tool, install, err)
	}
	if b, err := exec.Command(tool, args(out)...).CombinedOutput(); err != nil {
		if strings.Contains(string(b), "wasm32") || strings.Contains(string(b), "cannot find") ||
			strings.Contains(string(b), "not found") || strings.Contains(string(b), "can't find crate") {
			Skip(t, tool, install, err) // the toolchain lacks the target
		}
		t.Fatalf("build %s: %v\n%s", key, err, b)
	}
	built[key] = out
	return out
}

// Wat assembles WebAssembly text src with wabt's wat2wasm; for tests that
// need a module no compiler would write.
func Wat(t testing.TB, src string) string {
	t.Helper()
	f, err := os.CreateTemp("", "wasmtest-*.wat")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	key := fmt.Sprintf("wat-%x", sha256.Sum256([]byte(src)))
	return buildWith(t, key, "wat2wasm", "apt-get install wabt",
		func(out string) []string { return []string{"-o", out, f.Name()} })
}
