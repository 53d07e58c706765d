package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// newHost writes a config with the given pipelines text into a temp dir,
// links the named test plugins into its plugins/, and loads it.
func newHost(t *testing.T, pipelines string, plugins map[string]string) (*Host, string) {
	t.Helper()
	return newHostCache(t, filepath.Join(os.TempDir(), "wasmtest-cache"), pipelines, plugins)
}

// newHostCache is newHost with its own cache_dir (relative to the project).
func newHostCache(t *testing.T, cacheDir, pipelines string, plugins map[string]string) (*Host, string) {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	for name, src := range plugins {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "plugins", name+".wasm"), data, 0o644)
	}
	file := filepath.Join(dir, "config.toml")
	os.WriteFile(file, []byte("cache_dir = "+strconv.Quote(cacheDir)+"\n"+pipelines), 0o644)
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, dir
}

func testPlugins(t *testing.T) map[string]string {
	return map[string]string{
		"upper":  wasmtest.Plugin(t, "upper"),
		"faulty": wasmtest.Build(t, "../internal/wasm/testdata/faulty"),
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != ".gitkeep" {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestProcessFile(t *testing.T) {
	h, dir := newHost(t, `
[[pipeline]]
name = "shout"
match = ["*.txt"]
plugins = ["upper"]

[[pipeline]]
name = "broken"
match = ["*.bad"]
plugins = ["faulty", "upper"]
`, testPlugins(t))
	ctx := context.Background()
	wd := filepath.Join(dir, "watch_dir")

	in := filepath.Join(wd, "unprocessed", "hello.txt")
	os.MkdirAll(filepath.Dir(in), 0o755)
	os.WriteFile(in, []byte("hello\nworld"), 0o644)
	out, res, err := h.ProcessFile(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != "HELLO\nWORLD" || out != filepath.Join(wd, "processed", "hello.txt") {
		t.Errorf("output %s = %q", out, got)
	}
	if res.Pipeline != "shout" || res.BytesIn != 11 || res.BytesOut != 11 {
		t.Errorf("result = %+v", res)
	}
	if _, err := os.Stat(in); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("input still at %s", in)
	}

	// The same name again: the first result is kept, the second gets a suffix.
	os.WriteFile(in, []byte("again\n"), 0o644)
	out2, _, err := h.ProcessFile(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if out2 != filepath.Join(wd, "processed", "hello-1.txt") {
		t.Errorf("second output at %s, want hello-1.txt", out2)
	}
	if got, _ := os.ReadFile(out); string(got) != "HELLO\nWORLD" {
		t.Errorf("first output overwritten: %q", got)
	}

	// A plugin fails the file: the original goes to failed/ with a report.
	bad := filepath.Join(wd, "unprocessed", "data.bad")
	os.WriteFile(bad, []byte("one\nfail\nthree\n"), 0o644)
	_, _, err = h.ProcessFile(ctx, bad)
	var ferr *FileError
	if !errors.As(err, &ferr) || ferr.Plugin != "faulty" || !strings.Contains(err.Error(), "asked to fail") {
		t.Fatalf("got %v, want a FileError from plugin faulty", err)
	}
	if got, _ := os.ReadFile(filepath.Join(wd, "failed", "data.bad")); string(got) != "one\nfail\nthree\n" {
		t.Errorf("failed/ holds %q, want the original", got)
	}
	var rep ErrorReport
	data, _ := os.ReadFile(filepath.Join(wd, "failed", "data.bad.error.json"))
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Plugin != "faulty" || rep.Pipeline != "broken" || rep.File != "data.bad" || rep.Attempts != 1 || !strings.Contains(rep.Error, "asked to fail") || rep.Failed.IsZero() {
		t.Errorf("report = %+v", rep)
	}

	// No pipeline matches.
	odd := filepath.Join(wd, "unprocessed", "image.png")
	os.WriteFile(odd, []byte("x"), 0o644)
	if _, _, err := h.ProcessFile(ctx, odd); !errors.Is(err, ErrNoPipeline) {
		t.Errorf("got %v, want ErrNoPipeline", err)
	}

	if got := listDir(t, filepath.Join(wd, "processed")); strings.Join(got, ",") != "hello-1.txt,hello.txt" {
		t.Errorf("processed/ = %v (no temp or partial file may remain)", got)
	}
	if got := listDir(t, filepath.Join(wd, "failed")); strings.Join(got, ",") != "data.bad,data.bad.error.json,image.png,image.png.error.json" {
		t.Errorf("failed/ = %v", got)
	}
	if got := listDir(t, filepath.Join(wd, "underprocess")); len(got) != 0 {
		t.Errorf("underprocess/ = %v, want empty", got)
	}
}

func TestProcessFileBadInput(t *testing.T) {
	h, dir := newHost(t, "[[pipeline]]\nname=\"p\"\nplugins=[\"upper\"]\n", testPlugins(t))
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.txt"), "no such file"},
		{dir, "is a directory"},
	} {
		_, _, err := h.ProcessFile(context.Background(), tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("ProcessFile(%s) = %v, want an error naming it: %s", tt.path, err, tt.want)
		}
		if _, err := h.ProcessTo(context.Background(), tt.path, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ProcessTo(%s) = %v", tt.path, err)
		}
	}
}

func TestProcessToLeavesInput(t *testing.T) {
	h, dir := newHost(t, "[[pipeline]]\nname=\"p\"\nplugins=[\"upper\", \"upper\"]\n", testPlugins(t))
	in := filepath.Join(dir, "x.txt")
	os.WriteFile(in, []byte("a\r\nb"), 0o644)
	var out bytes.Buffer
	if _, err := h.ProcessTo(context.Background(), in, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "A\r\nB" {
		t.Errorf("output %q", out.String())
	}
	if _, err := os.Stat(in); err != nil {
		t.Errorf("input moved: %v", err)
	}
}

func TestNewLoadsOnlyChosenPipelines(t *testing.T) {
	_, dir := newHost(t, "[[pipeline]]\nname=\"a\"\nplugins=[\"upper\"]\n[[pipeline]]\nname=\"b\"\nplugins=[\"faulty\"]\n", testPlugins(t))
	cfg, err := LoadConfig(filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, Options{Pipelines: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if p := h.Plugins(); len(p) != 1 || p[0].Name() != "upper" {
		t.Errorf("loaded %d plugins, want only upper", len(p))
	}
	if _, err := h.Process(context.Background(), "b", "x", strings.NewReader(""), &bytes.Buffer{}); err == nil {
		t.Error("an unloaded pipeline ran")
	}
}

// --input keeps the input in archive/ when its watch entry says so.
func TestProcessFileArchive(t *testing.T) {
	h, dir := newHost(t, `
[[watch]]
dir = "w"
archive = true
[[pipeline]]
name = "shout"
plugins = ["upper"]
`, testPlugins(t))
	in := filepath.Join(dir, "w", "unprocessed", "hello.txt")
	os.MkdirAll(filepath.Dir(in), 0o755)
	os.WriteFile(in, []byte("hello\n"), 0o644)
	if _, _, err := h.ProcessFile(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "w", "archive", "hello.txt")); string(got) != "hello\n" {
		t.Errorf("archive/hello.txt = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "w", "processed", "hello.txt")); string(got) != "HELLO\n" {
		t.Errorf("processed/hello.txt = %q", got)
	}
}

// --input of a file outside every watched unprocessed/ reads it in place:
// it is never moved or removed, its result goes to processed/, and on
// failure nothing is written.
func TestProcessFileOutsideLeavesIt(t *testing.T) {
	h, dir := newHost(t, `
[[pipeline]]
name = "shout"
match = ["*.txt"]
plugins = ["upper"]

[[pipeline]]
name = "broken"
match = ["*.bad"]
plugins = ["faulty"]
`, testPlugins(t))
	ctx := context.Background()
	wd := filepath.Join(dir, "watch_dir")
	in := filepath.Join(dir, "report.txt")
	put(t, in, "keep me\n")
	os.Chmod(in, 0o600)
	out, _, err := h.ProcessFile(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(in); string(got) != "keep me\n" {
		t.Errorf("input = %q, want it left in place", got)
	}
	if got, _ := os.ReadFile(out); string(got) != "KEEP ME\n" || out != filepath.Join(wd, "processed", "report.txt") {
		t.Errorf("result %s = %q", out, got)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("result mode %v, want the input's 0600", fi.Mode().Perm())
	}
	bad := filepath.Join(dir, "x.bad")
	put(t, bad, "fail\n")
	if _, _, err := h.ProcessFile(ctx, bad); err == nil {
		t.Fatal("no error")
	}
	if got, _ := os.ReadFile(bad); string(got) != "fail\n" {
		t.Errorf("failed input = %q, want it left in place", got)
	}
	for _, sub := range []string{"failed", "underprocess"} {
		if got := listDir(t, filepath.Join(wd, sub)); len(got) != 0 {
			t.Errorf("%s/ = %v, want empty", sub, got)
		}
	}
}

// --input of a file in the second watched folder's unprocessed/ follows
// that folder's protocol.
func TestProcessFileSecondFolder(t *testing.T) {
	h, dir := newHost(t, `
[[watch]]
dir = "a"
[[watch]]
dir = "b"
[[pipeline]]
name = "shout"
plugins = ["upper"]
`, testPlugins(t))
	in := filepath.Join(dir, "b", "unprocessed", "x.txt")
	os.MkdirAll(filepath.Dir(in), 0o755)
	put(t, in, "x\n")
	out, _, err := h.ProcessFile(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out != filepath.Join(dir, "b", "processed", "x.txt") {
		t.Errorf("result at %s, want b/processed/x.txt", out)
	}
	if _, err := os.Stat(in); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("input still in b/unprocessed/: %v", err)
	}
}

// A claimed file up to smallRead bytes is read whole in one call and the
// chain reads it from memory; a larger one continues from the file. Each
// size around the boundary gives the whole result, with the pipeline
// chosen by its content.
func TestProcessFileReadsWholeFile(t *testing.T) {
	h, dir := newHost(t, `
[[pipeline]]
name = "text"
content = "text"
plugins = ["upper"]
`, testPlugins(t))
	wd := filepath.Join(dir, "watch_dir", "unprocessed")
	os.MkdirAll(wd, 0o755)
	for _, size := range []int{1, HeadSize - 1, HeadSize, HeadSize + 1, smallRead - 1, smallRead, smallRead + 1, 3*smallRead + 7} {
		line := []byte("abc def\n")
		data := bytes.Repeat(line, size/len(line)+1)[:size]
		in := filepath.Join(wd, "f.txt")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, res, err := h.ProcessFile(context.Background(), in)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, bytes.ToUpper(data)) || res.BytesIn != int64(size) || res.Pipeline != "text" {
			t.Errorf("size %d: result %d bytes (in %d, pipeline %q), want the whole file upper-cased", size, len(got), res.BytesIn, res.Pipeline)
		}
		os.Remove(out)
	}
}
