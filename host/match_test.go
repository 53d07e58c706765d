package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

var (
	pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")
	zipHead = []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")
	gzHead  = []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00")
	elfHead = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00")
)

func TestSniff(t *testing.T) {
	tests := []struct {
		head []byte
		mime string
		text bool
	}{
		{nil, "text/plain", true},
		{[]byte("hello\nworld\n"), "text/plain", true},
		{[]byte("name,email\nann,a@x.org\n"), "text/plain", true},
		{[]byte("caf\xe9 latin-1\n"), "text/plain", true},
		{[]byte("<!DOCTYPE html><p>x"), "text/html", true},
		{[]byte("\xff\xfeh\x00i\x00"), "text/plain", false}, // UTF-16: not lines of bytes
		{pngHead, "image/png", false},
		{zipHead, "application/zip", false},
		{gzHead, "application/x-gzip", false},
		{elfHead, "application/octet-stream", false},
		{[]byte("%PDF-1.7\n"), "application/pdf", false},
		{[]byte("a\x00b"), "application/octet-stream", false},
	}
	for _, tt := range tests {
		if got := Sniff(tt.head); got.MIME != tt.mime || got.Text != tt.text {
			t.Errorf("Sniff(%q) = %+v, want %s text=%v", tt.head, got, tt.mime, tt.text)
		}
	}
}

func TestPipelineForContent(t *testing.T) {
	cfg := Config{Pipeline: []PipelineConfig{
		{Name: "images", MIME: []string{"image/*"}},
		{Name: "pdf", Match: []string{"*.pdf"}, MIME: []string{"Application/PDF"}},
		{Name: "csv", Match: []string{"*.csv"}, Content: "text"},
		{Name: "text", Content: "text"},
		{Name: "blobs", Content: "binary", Match: []string{"*.bin"}},
	}}
	w := WatchConfig{}
	for _, tt := range []struct {
		name string
		head []byte
		want string
	}{
		{"a.png", pngHead, "images"},
		{"a.txt", pngHead, "images"}, // content, not the name
		{"a.pdf", []byte("%PDF-1.4"), "pdf"},
		{"a.pdf", []byte("not really"), "text"},
		{"a.csv", []byte("x,y\n"), "csv"},
		{"a.csv", zipHead, ""}, // a zip named .csv is not taken by csv
		{"notes", []byte("hi\n"), "text"},
		{"empty.log", []byte{}, "text"},
		{"x.bin", elfHead, "blobs"},
		{"x.exe", elfHead, ""},
	} {
		got := ""
		if p := cfg.PipelineFor(w, tt.name, tt.head); p != nil {
			got = p.Name
		}
		if got != tt.want {
			t.Errorf("PipelineFor(%s, %q) = %q, want %q", tt.name, tt.head, got, tt.want)
		}
	}
	// A folder's own list is tried in its order.
	if p := cfg.PipelineFor(WatchConfig{Pipelines: []string{"text", "images"}}, "a.png", pngHead); p == nil || p.Name != "images" {
		t.Errorf("folder list: got %v", p)
	}
	if p := cfg.PipelineFor(WatchConfig{Pipelines: []string{"text"}}, "a.png", pngHead); p != nil {
		t.Errorf("folder list without images took a PNG: %v", p.Name)
	}
	err := cfg.NoPipeline(w, "x.exe", elfHead)
	if !errors.Is(err, ErrNoPipeline) || !strings.Contains(err.Error(), "x.exe is binary (application/octet-stream)") || !strings.Contains(err.Error(), "plugins = []") {
		t.Errorf("NoPipeline = %v", err)
	}
}

func TestResultName(t *testing.T) {
	tests := []struct{ output, in, want string }{
		{"", "people.csv", "people.csv"},
		{"{stem}.jsonl", "people.csv", "people.jsonl"},
		{"{stem}.jsonl", "archive.tar.gz", "archive.tar.jsonl"},
		{"{stem}.jsonl", "README", "README.jsonl"},
		{"{name}.out", "a.b", "a.b.out"},
		{"{stem}{ext}", "x.csv", "x.csv"},
		{"json/{stem}.jsonl", "people.csv", filepath.Join("json", "people.jsonl")},
		{"{ext}/{name}", "x.csv", "x.csv"},    // ".csv/x.csv" would be hidden: kept as is
		{"{stem}/{name}", "...csv", "...csv"}, // stem ".." would leave processed/
	}
	for _, tt := range tests {
		p := &PipelineConfig{Output: tt.output}
		if err := checkOutput(tt.output); err != nil {
			t.Errorf("checkOutput(%q): %v", tt.output, err)
		}
		if got := p.ResultName(tt.in); got != tt.want {
			t.Errorf("ResultName(%q, %q) = %q, want %q", tt.output, tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"../{name}", "/abs/{name}", "a//{name}", "./{name}", "a/../{name}", "{nam}", "{name", `a\{name}`, ".hidden/{name}", "out/"} {
		if checkOutput(bad) == nil {
			t.Errorf("checkOutput(%q) accepted", bad)
		}
	}
}

// shippedHost loads the repository's config.toml as shipped, with its
// plugins built, in a temp dir.
func shippedHost(t *testing.T) (*Host, string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(wasmtest.Root(t), "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "plugins"), 0o755)
	for _, name := range []string{"csv2jsonl", "redact", "trim", "dedupe", "count"} {
		data, err := os.ReadFile(wasmtest.Plugin(t, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "plugins", name+".wasm"), data, 0o644)
	}
	cache := regexp.MustCompile(`(?m)^cache_dir = .*$`)
	src = cache.ReplaceAll(src, []byte("cache_dir = "+fmt.Sprintf("%q", filepath.Join(os.TempDir(), "wasmtest-cache"))))
	file := filepath.Join(dir, "config.toml")
	os.WriteFile(file, src, 0o644)
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

// The shipped config sends binary files nowhere harmful: no pipeline
// takes them, so they fail untouched with the reason; CSV results are
// named .jsonl.
func TestShippedConfigContent(t *testing.T) {
	h, _ := shippedHost(t)
	cfg := h.Config()
	w := cfg.Watch[0]
	for _, tt := range []struct {
		name string
		head []byte
		want string
	}{
		{"photo.png", pngHead, ""},
		{"photo.txt", pngHead, ""},
		{"data.csv", zipHead, ""},
		{"logs.tar.gz", gzHead, ""},
		{"prog", elfHead, ""},
		{"people.csv", []byte("name,email\n"), "csv"},
		{"app.log", []byte("started\n"), "text"},
	} {
		got := ""
		if p := cfg.PipelineFor(w, tt.name, tt.head); p != nil {
			got = p.Name
		}
		if got != tt.want {
			t.Errorf("%s: pipeline %q, want %q", tt.name, got, tt.want)
		}
	}
	if p, _ := cfg.pipeline("csv"); p.ResultName("people.csv") != "people.jsonl" {
		t.Errorf("csv result name = %s", p.ResultName("people.csv"))
	}

	// End to end: a PNG given to the host lands in failed/ byte for byte.
	png := append(append([]byte{}, pngHead...), bytes.Repeat([]byte("\x00\xffline\n"), 100)...)
	in := filepath.Join(w.Dir, "unprocessed", "photo.txt")
	os.MkdirAll(filepath.Dir(in), 0o755)
	os.WriteFile(in, png, 0o644)
	_, _, err := h.ProcessFile(context.Background(), in)
	if !errors.Is(err, ErrNoPipeline) || !strings.Contains(err.Error(), "binary (image/png)") {
		t.Fatalf("ProcessFile(png) = %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(w.Dir, "failed", "photo.txt"))
	if !bytes.Equal(got, png) {
		t.Errorf("failed/photo.txt differs from the input (%d bytes, want %d)", len(got), len(png))
	}
	rep, _ := os.ReadFile(filepath.Join(w.Dir, "failed", "photo.txt.error.json"))
	if !strings.Contains(string(rep), "binary (image/png)") {
		t.Errorf("report does not say why: %s", rep)
	}
}

// The shipped text pipeline holds for any size: a file with more distinct
// lines than dedupe's cap (max_entries, 1000000 by default) passes, and
// runs of repeats still collapse.
func TestShippedTextPipelineAnySize(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1000001 lines through four plugins")
	}
	h, _ := shippedHost(t)
	const distinct = 1_000_001
	var in bytes.Buffer
	for i := range distinct {
		fmt.Fprintf(&in, "line %d\n", i)
		if i%100_000 == 0 {
			fmt.Fprintf(&in, "line %d\n", i) // a repeat, dropped
		}
	}
	var out bytes.Buffer
	if _, err := h.Process(context.Background(), "text", "big.log", &in, &out); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(out.Bytes(), []byte("\n"))
	if lines != distinct+1 { // and the summary
		t.Errorf("%d lines out, want %d and a summary", lines, distinct)
	}
	if !bytes.Contains(out.Bytes(), []byte("# lines=1000001 ")) {
		t.Errorf("summary: %q", out.Bytes()[max(0, out.Len()-80):])
	}
}

// Options.Pipeline forces a pipeline for every file of the host, over the
// choice by name and content; an unknown one is refused by New.
func TestOptionsPipeline(t *testing.T) {
	h, dir := newHost(t, `
[[watch]]
dir = "w"
[[pipeline]]
name = "text"
content = "text"
plugins = ["upper"]
[[pipeline]]
name = "asis"
match = ["*.keep"]
plugins = []
`, testPlugins(t))
	cfg := h.Config()
	if _, err := New(context.Background(), cfg, Options{Pipeline: "nope"}); err == nil || !strings.Contains(err.Error(), `unknown pipeline "nope"`) {
		t.Fatalf("New with an unknown pipeline: %v", err)
	}
	forced, err := New(context.Background(), cfg, Options{Pipeline: "asis"})
	if err != nil {
		t.Fatal(err)
	}
	defer forced.Close()
	in := filepath.Join(dir, "notes.txt")
	os.WriteFile(in, []byte("abc\n"), 0o644)
	out, _, err := forced.ProcessFile(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != "abc\n" {
		t.Errorf("forced asis gave %q", got)
	}
	os.WriteFile(in, []byte("abc\n"), 0o644)
	out, _, err = h.ProcessFile(context.Background(), in)
	if got, _ := os.ReadFile(out); err != nil || string(got) != "ABC\n" {
		t.Errorf("unforced gave %q, %v", got, err)
	}
}
