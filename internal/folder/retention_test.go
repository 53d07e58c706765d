package folder

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var sweepNow = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

// files lays out name -> (size, age) under dir.
func layFiles(t *testing.T, dir string, files map[string]struct {
	size int
	age  time.Duration
}) {
	t.Helper()
	for name, f := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", f.size)), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := sweepNow.Add(-f.age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

func left(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

type sized = struct {
	size int
	age  time.Duration
}

func TestSweepProcessed(t *testing.T) {
	const day = 24 * time.Hour
	layout := map[string]sized{
		"a.txt":             {10, 10 * day},
		"b.txt":             {10, 5 * day},
		"c.txt":             {10, 2 * day},
		"d.txt":             {10, time.Hour},
		"json/e.jsonl":      {10, 9 * day},  // subfolders of processed/ too
		".host-tmp-1-x":     {10, 30 * day}, // a result being written
		".gitkeep":          {0, 30 * day},
		".hidden/old.txt":   {10, 30 * day},
		"x.error.json":      {10, 30 * day}, // in processed/, just a result
		"failed-looking.sh": {10, time.Minute},
	}
	tests := []struct {
		name  string
		p     Policy
		files int
		left  []string
	}{
		{"off", Policy{}, 0, nil},
		{"age", Policy{MaxAge: 3 * day}, 4, []string{"c.txt", "d.txt", "failed-looking.sh"}},
		{"count", Policy{MaxFiles: 2}, 5, []string{"d.txt", "failed-looking.sh"}},
		{"size", Policy{MaxSize: 25}, 5, []string{"d.txt", "failed-looking.sh"}},
		{"size exact", Policy{MaxSize: 30}, 4, []string{"c.txt", "d.txt", "failed-looking.sh"}},
		{"all three", Policy{MaxAge: 6 * day, MaxFiles: 10, MaxSize: 1 << 20}, 3, []string{"b.txt", "c.txt", "d.txt", "failed-looking.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			layFiles(t, dir, layout)
			got, err := sweep(dir, tt.p, false, sweepNow)
			if err != nil {
				t.Fatal(err)
			}
			if got.Files != tt.files || got.Bytes != int64(10*tt.files) {
				t.Errorf("swept %+v, want %d files", got, tt.files)
			}
			want := append([]string{".gitkeep", ".hidden/old.txt", ".host-tmp-1-x"}, tt.left...)
			if tt.name == "off" {
				want = nil
				for name := range layout {
					want = append(want, name)
				}
			}
			slices.Sort(want)
			if g := left(t, dir); !slices.Equal(g, want) {
				t.Errorf("left %v\nwant %v", g, want)
			}
		})
	}
}

func TestSweepFailedPairs(t *testing.T) {
	const day = 24 * time.Hour
	dir := t.TempDir()
	layFiles(t, dir, map[string]sized{
		// The failed file keeps the input's old mtime; the report says when it failed.
		"old.csv": {100, 400 * day}, "old.csv.error.json": {10, 10 * day},
		"new.csv": {100, 400 * day}, "new.csv.error.json": {10, time.Hour},
		"inflight.bin":       {100, 400 * day}, // its report is being written
		"orphan.error.json":  {10, 10 * day},   // its file was deleted by hand
		".host-tmp-3-report": {10, 10 * day},
	})
	got, err := sweep(dir, Policy{MaxAge: 7 * day}, true, sweepNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".host-tmp-3-report", "inflight.bin", "new.csv", "new.csv.error.json"}
	if g := left(t, dir); !slices.Equal(g, want) {
		t.Errorf("left %v, want %v", g, want)
	}
	if got.Files != 2 || got.Bytes != 120 {
		t.Errorf("swept %+v, want the old pair and the orphan report (2, 120 bytes)", got)
	}

	// By count, a pair is one unit, and a failure in progress is not counted.
	dir = t.TempDir()
	layFiles(t, dir, map[string]sized{
		"a": {1, 0}, "a.error.json": {1, 3 * time.Hour},
		"b": {1, 0}, "b.error.json": {1, 2 * time.Hour},
		"c": {1, 0}, "c.error.json": {1, time.Hour},
		"d": {1, 0},
	})
	if _, err := sweep(dir, Policy{MaxFiles: 2}, true, sweepNow); err != nil {
		t.Fatal(err)
	}
	if g, want := left(t, dir), []string{"b", "b.error.json", "c", "c.error.json", "d"}; !slices.Equal(g, want) {
		t.Errorf("left %v, want %v", g, want)
	}
}

func TestSweepMissingFolder(t *testing.T) {
	if _, err := sweep(filepath.Join(t.TempDir(), "nope"), Policy{MaxFiles: 1}, false, sweepNow); err != nil {
		t.Errorf("missing folder: %v", err)
	}
}
