package host

import (
	"os"
	"path/filepath"
	"testing"
)

// The cost content matching adds per file: sniffing a head, and reading
// it from disk, against what a file already costs.
//
//	nice go test ./host -run '^$' -bench 'PipelineFor|Head|ReadFile' -benchtime 20000x

func benchConfig(content string) *Config {
	return &Config{Pipeline: []PipelineConfig{
		{Name: "csv", Match: []string{"*.csv"}, Content: content},
		{Name: "text", Content: content},
	}}
}

var textHead = []byte("2026-01-31T12:00:00Z INFO request served path=/api/status status=200 bytes=512 duration=1.2ms\n")

func BenchmarkPipelineForName(b *testing.B) {
	c := benchConfig("")
	for b.Loop() {
		c.PipelineFor(WatchConfig{}, "app.log", textHead)
	}
}

func BenchmarkPipelineForContent(b *testing.B) {
	c := benchConfig("text")
	for b.Loop() {
		c.PipelineFor(WatchConfig{}, "app.log", textHead)
	}
}

func benchFile(b *testing.B) string {
	p := filepath.Join(b.TempDir(), "f.log")
	data := make([]byte, 4<<10)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	os.WriteFile(p, data, 0o644)
	return p
}

func BenchmarkReadHead(b *testing.B) {
	p := benchFile(b)
	for b.Loop() {
		ReadHead(p)
	}
}

// BenchmarkReadFile4KiB is the baseline: reading the 4 KiB file whole,
// which processing it does anyway.
func BenchmarkReadFile4KiB(b *testing.B) {
	p := benchFile(b)
	for b.Loop() {
		os.ReadFile(p)
	}
}
