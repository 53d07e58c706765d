package wasm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasmtest"
)

// The folder PruneCache prunes in is the one the runtime writes entries
// to: were wazy to name it otherwise, pruning would take the runtime's
// own folder for another version's.
func TestCacheFolderIsTheRuntimes(t *testing.T) {
	dir := t.TempDir()
	e, p := loadIn(t, dir)
	_ = p.Close(context.Background())
	_ = e.Close(context.Background())
	want, err := cacheFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || filepath.Join(dir, subs[0].Name()) != want {
		t.Fatalf("cache folder holds %v; want only %s", subs, filepath.Base(want))
	}
	if entries(t, want) != 1 {
		t.Errorf("%s holds %d entries after one compile; want 1", want, entries(t, want))
	}
}

// PruneCache removes what no host uses any more and nothing else: entries
// a month unused, temporary files of compiles an hour old, other runtime
// versions' folders when wholly unused. The entry this process runs from
// is touched, not removed, however old its mtime.
func TestPruneCache(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("in-use entries are told from /proc/self/maps")
	}
	// The cache is reached through a symbolic link, as a cache_dir of
	// /var/cache/host may be: the maps name the real path.
	real := t.TempDir()
	dir := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, dir); err != nil {
		t.Fatal(err)
	}
	e, p := loadIn(t, dir) // compiles and writes the entry
	_ = p.Close(context.Background())
	_ = e.Close(context.Background())
	e, p = loadIn(t, dir) // runs from the entry
	defer e.Close(context.Background())
	defer p.Close(context.Background())

	now := time.Now()
	old, recent := now.Add(-CacheKeep-time.Hour), now.Add(-CacheKeep+24*time.Hour)
	current, _ := cacheFolder(dir)
	used := onlyEntry(t, current)
	setMtime(t, used, old)
	hex := strings.Repeat("ab", 32)
	files := map[string]time.Time{ // path -> mtime
		filepath.Join(current, strings.Repeat("01", 32)):                        old,    // unused for a month: removed
		filepath.Join(current, strings.Repeat("02", 32)):                        recent, // kept
		filepath.Join(current, hex+".123.tmp"):                                  now.Add(-2 * time.Hour),
		filepath.Join(current, strings.Repeat("03", 32)+".9.tmp"):               now.Add(-10 * time.Minute), // a compile under way: kept
		filepath.Join(current, "notes.txt"):                                     old,                        // not the cache's: kept
		filepath.Join(dir, "wazero-v1.12.0-amd64-linux", hex):                   old,                        // wholly unused: the folder goes
		filepath.Join(dir, "wazy-v0.7.0-amd64-linux", hex):                      old,
		filepath.Join(dir, "wazy-v0.7.0-amd64-linux", strings.Repeat("04", 32)): recent, // in use: the folder stays
		filepath.Join(dir, "wazy-v0.6.0-amd64-linux", hex):                      old,
		filepath.Join(dir, "wazy-v0.6.0-amd64-linux", "README"):                 old, // not the cache's: the folder stays
		filepath.Join(dir, "mine", hex):                                         old, // not a cache folder
	}
	for path, mtime := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		setMtime(t, path, mtime)
	}
	for _, sub := range []string{"wazero-v1.12.0-amd64-linux", "wazy-v0.7.0-amd64-linux", "wazy-v0.6.0-amd64-linux", "mine"} {
		setMtime(t, filepath.Join(dir, sub), old) // unchanged for a month
	}
	// Just made by a host of another version, which has not written its
	// first entry yet: kept.
	fresh := filepath.Join(dir, "wazy-v0.9.0-amd64-linux")
	if err := os.Mkdir(fresh, 0o700); err != nil {
		t.Fatal(err)
	}

	res, err := e.PruneCache(now)
	if err != nil {
		t.Fatal(err)
	}
	want := CachePruned{Entries: 1, Temps: 1, Folders: 1, Bytes: 3, Touched: 1}
	if res != want {
		t.Errorf("pruned %+v; want %+v", res, want)
	}
	gone := map[string]bool{
		filepath.Join(current, strings.Repeat("01", 32)):      true,
		filepath.Join(current, hex+".123.tmp"):                true,
		filepath.Join(dir, "wazero-v1.12.0-amd64-linux", hex): true,
	}
	for path := range files {
		_, err := os.Stat(path)
		if gone[path] != os.IsNotExist(err) {
			t.Errorf("%s: removed %v; want %v", path, os.IsNotExist(err), gone[path])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "wazero-v1.12.0-amd64-linux")); !os.IsNotExist(err) {
		t.Error("the wholly unused folder of another version is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the folder another version's host just made: %v", err)
	}
	if info, err := os.Stat(used); err != nil {
		t.Errorf("the entry in use: %v", err)
	} else if now.Sub(info.ModTime()) > time.Minute {
		t.Errorf("the entry in use has mtime %v; want it touched", info.ModTime())
	}

	// A second pass finds nothing more to do.
	if res, err := e.PruneCache(now); err != nil || res != (CachePruned{}) {
		t.Errorf("second prune: %+v, %v; want nothing", res, err)
	}
}

// An entry removed while no plugin runs from it is compiled again.
func TestPrunedEntryCompilesAgain(t *testing.T) {
	dir := t.TempDir()
	e, p := loadIn(t, dir)
	_ = p.Close(context.Background())
	current, _ := cacheFolder(dir)
	entry := onlyEntry(t, current)
	setMtime(t, entry, time.Now().Add(-CacheKeep-time.Hour))
	res, err := e.PruneCache(time.Now())
	_ = e.Close(context.Background())
	if err != nil || res.Entries != 1 {
		t.Fatalf("pruned %+v, %v; want the entry", res, err)
	}
	e, p = loadIn(t, dir)
	defer e.Close(context.Background())
	defer p.Close(context.Background())
	if got := runOne(t, p, "a\n"); got != "A\n" {
		t.Errorf("output %q", got)
	}
	if entries(t, current) != 1 {
		t.Error("the entry was not written again")
	}
}

func TestPruneCacheWithoutFolder(t *testing.T) {
	e, err := NewEngine("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	if res, err := e.PruneCache(time.Now()); err != nil || res != (CachePruned{}) {
		t.Errorf("%+v, %v", res, err)
	}
}

// loadIn loads the upper plugin with its cache in dir.
func loadIn(t *testing.T, dir string) (*Engine, *Plugin) {
	t.Helper()
	e, err := NewEngine(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Load(context.Background(), Spec{Name: "upper", Path: wasmtest.Plugin(t, "upper")})
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}

func entries(t *testing.T, dir string) int {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, de := range des {
		if cacheEntryName.MatchString(de.Name()) {
			n++
		}
	}
	return n
}

func onlyEntry(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil || len(des) != 1 {
		t.Fatalf("%s: %v, %v; want one entry", dir, des, err)
	}
	return filepath.Join(dir, des[0].Name())
}

func setMtime(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// A cache folder the host may not change (read only, another user's,
// immutable) is read all the same; pruning passes over it quietly rather
// than warn every day.
func TestPruneCacheRefused(t *testing.T) {
	dir := t.TempDir()
	e, p := loadIn(t, dir)
	defer e.Close(context.Background())
	_ = p.Close(context.Background())
	current, _ := cacheFolder(dir)
	stale := filepath.Join(current, strings.Repeat("01", 32))
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	setMtime(t, stale, time.Now().Add(-CacheKeep-time.Hour))
	if out, err := exec.Command("chattr", "+i", current).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out) // a filesystem or tool without it
	}
	defer exec.Command("chattr", "-i", current).Run()
	res, err := e.PruneCache(time.Now())
	if err != nil || res.Entries != 0 {
		t.Errorf("pruned %+v, %v; want nothing, quietly", res, err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Error(err)
	}
}
