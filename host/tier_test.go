package host

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
