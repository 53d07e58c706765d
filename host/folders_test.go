package host

import (
	"os"
	"path/filepath"
	"testing"
)

// paths are a watch folder's subfolders, for tests that look at them.
type paths struct {
	Dir, Unprocessed, Underprocess, Processed, Failed string
}

// OpenFolder creates the watch folder dir's subfolders and returns their
// paths.
func OpenFolder(dir string) (paths, error) {
	p := paths{Dir: dir, Unprocessed: filepath.Join(dir, "unprocessed"), Underprocess: filepath.Join(dir, "underprocess"),
		Processed: filepath.Join(dir, "processed"), Failed: filepath.Join(dir, "failed")}
	for _, d := range []string{p.Unprocessed, p.Underprocess, p.Processed, p.Failed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return p, err
		}
	}
	return p, nil
}

func put(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readNames lists a folder's files (no subfolders, no .gitkeep).
func readNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Name() != ".gitkeep" && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
