package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/filehost/host/internal/clock"
)

// wait is how long a test waits for something that should happen: far
// longer than it takes, so that a slow machine does not fail the test.
const wait = 10 * time.Second

// recorder collects callbacks and log output.
type recorder struct {
	mu   sync.Mutex
	seen []File
	gone []string
	log  bytes.Buffer
}

func (r *recorder) onSeen(f File)      { r.mu.Lock(); r.seen = append(r.seen, f); r.mu.Unlock() }
func (r *recorder) onGone(path string) { r.mu.Lock(); r.gone = append(r.gone, path); r.mu.Unlock() }

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.Write(p)
}

func (r *recorder) seenCount(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.seen {
		if f.Name == name {
			n++
		}
	}
	return n
}

func (r *recorder) goneCount(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Count(strings.Join(r.gone, "\x00")+"\x00", path+"\x00")
}

// logCount counts occurrences of s in the log.
func (r *recorder) logCount(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Count(r.log.String(), s)
}

// options returns Options for dir wired to r.
func (r *recorder) options(dir string, settle time.Duration) Options {
	return Options{
		Dir:    dir,
		Settle: settle,
		Logger: slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnSeen: r.onSeen,
		OnGone: r.onGone,
	}
}

// start creates a Watcher and runs it until the test ends, then checks Run
// returned nil. It waits for the first scan, so the test knows what the
// watcher has seen. prepare, if not nil, can set test hooks.
func start(t *testing.T, r *recorder, opts Options, prepare func(*Watcher)) *Watcher {
	t.Helper()
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "first scan", func() bool { return r.logCount("reason=start") > 0 })
	return w
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// next calls Next with a timeout.
func next(w *Watcher, timeout time.Duration) (File, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return w.Next(ctx)
}

// mustNext returns the next file, failing the test if none comes.
func mustNext(t *testing.T, w *Watcher) File {
	t.Helper()
	f, err := next(w, wait)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f
}

// mustNotNext fails the test if Next returns a file within d.
func mustNotNext(t *testing.T, w *Watcher, d time.Duration) {
	t.Helper()
	if f, err := next(w, d); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %q, %v; want no file", f.Name, err)
	}
}

// claim does what a consumer does: move the file away, then call Done.
func claim(t *testing.T, w *Watcher, f File, to string) {
	t.Helper()
	if err := os.Rename(f.Path, filepath.Join(to, f.Name)); err != nil {
		t.Fatal(err)
	}
	w.Done(f.Path)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeOld writes a file and dates it age ago.
func writeOld(t *testing.T, path string, age time.Duration) {
	t.Helper()
	write(t, path, "old")
	old := time.Now().Add(-age)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	dir := t.TempDir()
	for _, opts := range []Options{
		{},
		{Dir: dir, Settle: -1},
		{Dir: dir, Rescan: -1},
		{Dir: dir, Poll: -1},
		{Dir: dir, MaxTracked: -1},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v): no error", opts)
		}
	}
	sub := filepath.Join(dir, "a", "unprocessed")
	if _, err := New(Options{Dir: sub}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Errorf("New did not create the folder: %v", err)
	}
}

func TestRunFailsWhenFolderCannotBeWatched(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "unprocessed")
	w, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "a file where the folder should be")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.Run(ctx); err == nil {
		t.Fatal("Run: no error")
	}
}

func TestStartScanTracksExistingFiles(t *testing.T) {
	dir := t.TempDir()
	writeOld(t, filepath.Join(dir, "old.txt"), 2*time.Hour)
	write(t, filepath.Join(dir, "fresh.txt"), "just written")
	var r recorder
	// With a Settle of an hour, only a file that is ready at first sight
	// can be returned.
	w := start(t, &r, r.options(dir, time.Hour), nil)

	if n := w.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
	f := mustNext(t, w)
	if f.Name != "old.txt" || f.Path != filepath.Join(dir, "old.txt") || f.Size != 3 {
		t.Errorf("Next = %+v, want old.txt of 3 bytes", f)
	}
	mustNotNext(t, w, 300*time.Millisecond)
	if r.seenCount("old.txt") != 1 || r.seenCount("fresh.txt") != 1 {
		t.Errorf("OnSeen calls: %v", r.seen)
	}
}

func TestNewFilesArePickedUpByEvents(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), nil)

	write(t, filepath.Join(dir, "written.txt"), "hello")
	f := mustNext(t, w)
	if f.Name != "written.txt" || f.Size != 5 {
		t.Errorf("Next = %+v, want written.txt of 5 bytes", f)
	}
	claim(t, w, f, outside)

	// A file moved in arrives as one Create, with its old mtime.
	writeOld(t, filepath.Join(outside, "moved.txt"), time.Hour)
	if err := os.Rename(filepath.Join(outside, "moved.txt"), filepath.Join(dir, "moved.txt")); err != nil {
		t.Fatal(err)
	}
	f = mustNext(t, w)
	if f.Name != "moved.txt" {
		t.Errorf("Next = %+v, want moved.txt", f)
	}
	claim(t, w, f, outside)
	mustNotNext(t, w, 300*time.Millisecond)
	if r.seenCount("written.txt") != 1 || r.seenCount("moved.txt") != 1 {
		t.Errorf("OnSeen calls: %v", r.seen)
	}
}

func TestIgnored(t *testing.T) {
	dir := t.TempDir()
	names := []string{".hidden", "a.part", "b.tmp", "c.crdownload", "d~", "e.swp", "F.TMP"}
	for _, name := range names {
		writeOld(t, filepath.Join(dir, name), time.Hour)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeOld(t, filepath.Join(t.TempDir(), "target"), time.Hour)
	if err := os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), nil)

	// The same kinds again, created while watching.
	for _, name := range []string{".new", "new.part", "new.tmp", "new.crdownload", "new~", "new.swp", "NEW.Part"} {
		write(t, filepath.Join(dir, name), "x")
	}
	if err := os.Mkdir(filepath.Join(dir, "newsub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(dir, "newlink")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "real.txt"), "x")

	if f := mustNext(t, w); f.Name != "real.txt" {
		t.Errorf("Next = %q, want real.txt", f.Name)
	}
	mustNotNext(t, w, 500*time.Millisecond)
	if n := w.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
	if len(r.seen) != 1 {
		t.Errorf("OnSeen calls: %v", r.seen)
	}

	// Each directory and symlink is logged once, however many scans see it.
	for range 3 {
		before := r.logCount("msg=rescan ")
		w.Rescan()
		waitFor(t, "rescan", func() bool { return r.logCount("msg=rescan ") > before })
	}
	for _, want := range []string{
		`msg="ignored: directory" path=` + filepath.Join(dir, "sub"),
		`msg="ignored: directory" path=` + filepath.Join(dir, "newsub"),
		`msg="ignored: symlink" path=` + filepath.Join(dir, "link"),
		`msg="ignored: symlink" path=` + filepath.Join(dir, "newlink"),
	} {
		if n := r.logCount(want + "\n"); n != 1 {
			t.Errorf("%s logged %d times, want 1", want, n)
		}
	}

	// Skipped lists each ignored name with why, as the dashboard shows it.
	why := map[string]string{}
	for _, sk := range w.Skipped() {
		why[sk.Name] = sk.Why
	}
	for name, want := range map[string]string{
		".hidden": "hidden name", "a.part": "temporary name", "NEW.Part": "temporary name", "new~": "temporary name",
		"sub": "directory", "newsub": "directory", "link": "symlink", "newlink": "symlink", "fifo": "named pipe (FIFO)",
	} {
		if !strings.HasPrefix(why[name], want) {
			t.Errorf("Skipped: %s is %q, want %q", name, why[name], want)
		}
	}
	if _, ok := why["real.txt"]; ok {
		t.Error("Skipped lists a regular file")
	}
	// A name that is gone leaves the list at the next look.
	if err := os.Remove(filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "a.part")); err != nil {
		t.Fatal(err)
	}
	w.Rescan()
	waitFor(t, "sub and a.part to leave Skipped", func() bool {
		for _, sk := range w.Skipped() {
			if sk.Name == "sub" || sk.Name == "a.part" {
				return false
			}
		}
		return true
	})
}

func TestFileThatBecomesDirectoryIsGone(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, time.Hour), nil)
	path := filepath.Join(dir, "x")
	write(t, path, "x")
	waitFor(t, "OnSeen", func() bool { return r.seenCount("x") == 1 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnGone", func() bool { return r.goneCount(path) == 1 })
	waitFor(t, "warning", func() bool { return r.logCount(`msg="ignored: directory"`) == 1 })
	if n := w.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

func TestGoneWhileSettling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(path string) error
	}{
		{"deleted", os.Remove},
		{"renamed away", func(path string) error {
			return os.Rename(path, filepath.Join(t.TempDir(), "elsewhere"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var r recorder
			w := start(t, &r, r.options(dir, time.Hour), nil)
			path := filepath.Join(dir, "doomed.txt")
			write(t, path, "x")
			waitFor(t, "OnSeen", func() bool { return r.seenCount("doomed.txt") == 1 })
			if err := tc.remove(path); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "OnGone", func() bool { return r.goneCount(path) == 1 })
			if n := w.Len(); n != 0 {
				t.Errorf("Len = %d, want 0", n)
			}
			mustNotNext(t, w, 300*time.Millisecond)
		})
	}
}

func TestModifiedWhileSettling(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 300*time.Millisecond), nil)
	path := filepath.Join(dir, "growing.txt")
	write(t, path, "a")
	waitFor(t, "OnSeen", func() bool { return r.seenCount("growing.txt") == 1 })

	var finished atomic.Bool
	go func() {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for range 5 {
			time.Sleep(100 * time.Millisecond)
			if _, err := f.WriteString("b"); err != nil {
				t.Error(err)
			}
		}
		finished.Store(true)
	}()
	f := mustNext(t, w)
	if !finished.Load() || f.Size != 6 {
		t.Errorf("Next returned %d bytes, writer finished %v; want 6 bytes after the last write", f.Size, finished.Load())
	}
}

// TestTouchedWhileSettling changes neither size nor mtime: only the events
// keep the file settling.
func TestTouchedWhileSettling(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 300*time.Millisecond), nil)
	path := filepath.Join(dir, "touched.txt")
	write(t, path, "a")
	waitFor(t, "OnSeen", func() bool { return r.seenCount("touched.txt") == 1 })

	var finished atomic.Bool
	go func() {
		for i := range 10 {
			time.Sleep(100 * time.Millisecond)
			if err := os.Chmod(path, 0o600|os.FileMode(i%2)<<5); err != nil {
				t.Error(err)
			}
		}
		finished.Store(true)
	}()
	mustNext(t, w)
	if !finished.Load() {
		t.Error("Next returned the file while it was being touched")
	}
}

func TestAppendingWriter(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 500*time.Millisecond), nil)
	path := filepath.Join(dir, "stream.log")

	var finished atomic.Bool
	var size atomic.Int64
	go func() {
		f, err := os.Create(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			n, err := f.WriteString("a line of the log\n")
			if err != nil {
				t.Error(err)
				return
			}
			size.Add(int64(n))
			time.Sleep(50 * time.Millisecond)
		}
		finished.Store(true)
	}()

	f := mustNext(t, w)
	if !finished.Load() {
		t.Fatal("Next returned the file while it was still being written")
	}
	if f.Size != size.Load() {
		t.Errorf("Next returned %d bytes, want the final %d", f.Size, size.Load())
	}
	if n := r.seenCount("stream.log"); n != 1 {
		t.Errorf("OnSeen called %d times, want 1", n)
	}
	w.Done(f.Path)
	mustNotNext(t, w, 500*time.Millisecond)
}

func TestTakenPathIgnoresEventsUntilDone(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), nil)
	path := filepath.Join(dir, "a.txt")
	write(t, path, "a")
	f := mustNext(t, w)

	write(t, path, "changed while taken")
	mustNotNext(t, w, 500*time.Millisecond)
	if n := w.Len(); n != 0 || r.seenCount("a.txt") != 1 {
		t.Errorf("Len = %d, OnSeen calls %d; want 0 and 1", n, r.seenCount("a.txt"))
	}

	w.Done(f.Path)
	write(t, path, "a new file")
	f = mustNext(t, w)
	if f.Size != int64(len("a new file")) || r.seenCount("a.txt") != 2 {
		t.Errorf("after Done: Next = %+v, OnSeen calls %d; want the new file seen twice", f, r.seenCount("a.txt"))
	}
}

// TestNextLooksAgain runs no Run: no event can tell the watcher what
// happened, so only Next's own Lstat can.
func TestNextLooksAgain(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w, err := New(r.options(dir, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	gone, changed := filepath.Join(dir, "gone.txt"), filepath.Join(dir, "changed.txt")
	writeOld(t, gone, 2*time.Hour)
	writeOld(t, changed, time.Hour)
	w.rescan("test")
	if w.Len() != 2 || w.ready.Len() != 2 {
		t.Fatalf("Len = %d, ready %d; want 2 ready", w.Len(), w.ready.Len())
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	write(t, changed, "now longer")

	mustNotNext(t, w, 300*time.Millisecond)
	if r.goneCount(gone) != 1 {
		t.Errorf("OnGone calls: %v; want %s", r.gone, gone)
	}
	if w.Len() != 1 || len(w.settling) != 1 || len(w.taken) != 0 {
		t.Errorf("Len = %d, settling %d, taken %d; want changed.txt settling", w.Len(), len(w.settling), len(w.taken))
	}
}

func TestNextOrder(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	files := map[string]time.Duration{"c": 0, "b": time.Second, "a": time.Second, "z": 2 * time.Second, "y": 3 * time.Second}
	for name, d := range files {
		path := filepath.Join(dir, name)
		write(t, path, name)
		if err := os.Chtimes(path, base.Add(d), base.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := New(Options{Dir: dir, Settle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w.rescan("test")
	var got []string
	for range files {
		got = append(got, mustNext(t, w).Name)
	}
	if want := []string{"c", "a", "b", "z", "y"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestWaitersAllWake makes several files ready at once for several
// waiting Next calls: each must wake. There is no Run, so nothing else
// wakes them. (The hand-on of a wake-up in take matters only in a race
// window this test cannot aim at.)
func TestWaitersAllWake(t *testing.T) {
	const n = 3
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Settle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			f, err := next(w, wait)
			if err != nil {
				t.Error(err)
				return
			}
			got <- f.Name
		})
	}
	time.Sleep(100 * time.Millisecond) // let them wait; if one is late, it finds a file anyway
	for i := range n {
		writeOld(t, filepath.Join(dir, fmt.Sprint(i)), time.Hour)
	}
	w.rescan("test")
	wg.Wait()
	close(got)
	if len(got) != n {
		t.Errorf("%d of %d waiters got a file", len(got), n)
	}
}

func TestOddNames(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), nil)
	names := []string{
		"with spaces in it.txt",
		"ünïcødé-日本語.txt",
		"new\nline",
		"-leading-dash",
		"--",
		strings.Repeat("n", 255),
		strings.Repeat("é", 127) + "x", // 255 bytes
	}
	for _, name := range names {
		write(t, filepath.Join(dir, name), name)
	}
	got := map[string]bool{}
	for range names {
		f := mustNext(t, w)
		content, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != filepath.Join(dir, f.Name) || string(content) != f.Name || f.Size != int64(len(f.Name)) {
			t.Errorf("Next = %+v with content %q", f, content)
		}
		if got[f.Name] {
			t.Errorf("%q returned twice", f.Name)
		}
		got[f.Name] = true
	}
	for _, name := range names {
		if !got[name] {
			t.Errorf("%q never returned", name)
		}
	}
}

// TestBurst creates 5,000 files at once and takes them from 4 goroutines.
func TestBurst(t *testing.T) {
	const n = 5000
	dir, outside := t.TempDir(), t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), nil)

	var mu sync.Mutex
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				f, err := w.Next(ctx)
				if err != nil {
					return
				}
				if err := os.Rename(f.Path, filepath.Join(outside, f.Name)); err != nil {
					t.Error(err)
				}
				w.Done(f.Path)
				mu.Lock()
				got[f.Name]++
				if len(got) == n {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		write(t, filepath.Join(dir, fmt.Sprintf("burst-%04d", i)), "x")
	}
	wg.Wait()

	if len(got) != n {
		t.Fatalf("%d of %d files returned", len(got), n)
	}
	for name, c := range got {
		if c != 1 {
			t.Errorf("%s returned %d times", name, c)
		}
	}
	mustNotNext(t, w, 300*time.Millisecond)
}

// TestMaxTracked shows that with room for 100 files, 1,000 are all still
// returned once, and files already there come out oldest first.
func TestMaxTracked(t *testing.T) {
	const n, room = 1000, 100
	consume := func(t *testing.T, w *Watcher, r *recorder, outside string) []File {
		var got []File
		seen := map[string]bool{}
		for range n {
			if l := w.Len(); l > room {
				t.Fatalf("Len = %d, more than MaxTracked %d", l, room)
			}
			f := mustNext(t, w)
			if seen[f.Name] {
				t.Fatalf("%s returned twice", f.Name)
			}
			seen[f.Name] = true
			got = append(got, f)
			claim(t, w, f, outside)
		}
		mustNotNext(t, w, 300*time.Millisecond)
		if r.logCount("reason=room") == 0 {
			t.Error("no rescan for room logged")
		}
		return got
	}

	t.Run("present at start", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		base := time.Now().Add(-time.Hour)
		for i, age := range rand.Perm(n) {
			path := filepath.Join(dir, fmt.Sprintf("f%04d", i))
			write(t, path, "x")
			mtime := base.Add(time.Duration(age) * time.Second)
			if err := os.Chtimes(path, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		var r recorder
		opts := r.options(dir, 100*time.Millisecond)
		opts.MaxTracked = room
		w := start(t, &r, opts, nil)
		got := consume(t, w, &r, outside)
		if !slices.IsSortedFunc(got, func(a, b File) int { return a.ModTime.Compare(b.ModTime) }) {
			t.Error("files not returned oldest first")
		}
	})

	t.Run("created while watching", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		var r recorder
		opts := r.options(dir, 100*time.Millisecond)
		opts.MaxTracked = room
		w := start(t, &r, opts, nil)
		for i := range n {
			write(t, filepath.Join(dir, fmt.Sprintf("f%04d", i)), "x")
		}
		consume(t, w, &r, outside)
	})
}

// TestMemoryBound scans 100,000 files with room for 1,000: the oldest are
// tracked.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 100,000 files")
	}
	const n, room = 100_000, 1000
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour).Truncate(time.Second) // Futimes takes microseconds
	want := map[string]bool{}
	ages := rand.Perm(n)
	for i, age := range ages {
		if age < room {
			want[fmt.Sprintf("f%06d", i)] = true
		}
	}
	// Raw system calls from a few goroutines: os.WriteFile and os.Chtimes
	// take several times longer, under -race most of all.
	var wg sync.WaitGroup
	const workers = 4
	for k := range workers {
		wg.Go(func() {
			for i := k; i < n; i += workers {
				path := filepath.Join(dir, fmt.Sprintf("f%06d", i))
				fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				tv := syscall.NsecToTimeval(base.Add(time.Duration(ages[i]) * time.Millisecond).UnixNano())
				err = syscall.Futimes(fd, []syscall.Timeval{tv, tv})
				syscall.Close(fd)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var r recorder
	opts := r.options(dir, time.Hour)
	opts.MaxTracked = room
	w := start(t, &r, opts, nil)

	if l := w.Len(); l != room {
		t.Errorf("Len = %d, want %d", l, room)
	}
	r.mu.Lock()
	for _, f := range r.seen {
		if !want[f.Name] {
			t.Errorf("tracked %s, which is not among the %d oldest", f.Name, room)
		}
	}
	seen := len(r.seen)
	r.mu.Unlock()
	if seen != room {
		t.Errorf("OnSeen called %d times, want %d", seen, room)
	}
	if r.logCount("overflowed=true") != 1 {
		t.Error("the first scan did not report files left out")
	}
	if f := mustNext(t, w); !f.ModTime.Equal(base) {
		t.Errorf("first file %s is dated %v, want the oldest, %v", f.Name, f.ModTime, base)
	}
}

func TestOverflowRescans(t *testing.T) {
	dir := t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), func(w *Watcher) {
		w.lose = func(ev fsnotify.Event) bool { return strings.HasPrefix(filepath.Base(ev.Name), "lost") }
	})
	writeOld(t, filepath.Join(dir, "lost.txt"), time.Hour)
	mustNotNext(t, w, 300*time.Millisecond) // its events were lost

	w.mu.Lock()
	fsw := w.fsw
	w.mu.Unlock()
	select {
	case fsw.Errors <- fsnotify.ErrEventOverflow:
	case <-time.After(wait):
		t.Fatal("Run did not take the error")
	}
	if f := mustNext(t, w); f.Name != "lost.txt" {
		t.Errorf("Next = %q, want lost.txt", f.Name)
	}
	// The scan tracks the file before it logs: wait for the line.
	waitFor(t, "the overflow rescan logged", func() bool { return r.logCount("reason=overflow") == 1 })
}

func TestPeriodicRescan(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "lost-stale.txt")
	write(t, stale, "settling for an hour")
	var r recorder
	opts := r.options(dir, time.Hour)
	opts.Rescan = 200 * time.Millisecond
	w := start(t, &r, opts, func(w *Watcher) {
		w.lose = func(fsnotify.Event) bool { return true }
	})
	if w.Len() != 1 {
		t.Fatalf("Len = %d, want 1", w.Len())
	}

	writeOld(t, filepath.Join(dir, "lost-new.txt"), 2*time.Hour)
	if f := mustNext(t, w); f.Name != "lost-new.txt" {
		t.Errorf("Next = %q, want lost-new.txt", f.Name)
	}
	if err := os.Remove(stale); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnGone", func() bool { return r.goneCount(stale) == 1 })
	if w.Len() != 0 {
		t.Errorf("Len = %d, want 0", w.Len())
	}
}

func TestFolderDeletedAndRecreated(t *testing.T) {
	dir, outside := filepath.Join(t.TempDir(), "unprocessed"), t.TempDir()
	var r recorder
	w := start(t, &r, r.options(dir, 100*time.Millisecond), nil)

	write(t, filepath.Join(dir, "first.txt"), "1")
	claim(t, w, mustNext(t, w), outside)

	pending := filepath.Join(dir, "pending.txt")
	write(t, pending, "never taken")
	waitFor(t, "OnSeen", func() bool { return r.seenCount("pending.txt") == 1 })
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnGone", func() bool { return r.goneCount(pending) == 1 })
	waitFor(t, "removal noticed", func() bool { return r.logCount("watched folder removed") > 0 })

	// Re-created by someone else.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "second.txt"), "2")
	if f := mustNext(t, w); f.Name != "second.txt" {
		t.Errorf("Next = %q, want second.txt", f.Name)
	} else {
		claim(t, w, f, outside)
	}

	// Renamed away: the files inside get no events of their own, and a
	// ready file is not looked at again until Next.
	pending = filepath.Join(dir, "pending-2.txt")
	write(t, pending, "never taken")
	waitFor(t, "file ready", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.ready.Len() == 1
	})
	if err := os.Rename(dir, filepath.Join(outside, "renamed")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnGone", func() bool { return r.goneCount(pending) == 1 })

	// Re-created by a rescan.
	w.Rescan()
	waitFor(t, "folder re-created", func() bool { _, err := os.Stat(dir); return err == nil })
	write(t, filepath.Join(dir, "third.txt"), "3")
	if f := mustNext(t, w); f.Name != "third.txt" {
		t.Errorf("Next = %q, want third.txt", f.Name)
	}
}

func TestPoll(t *testing.T) {
	t.Run("ready after two looks", func(t *testing.T) {
		dir := t.TempDir()
		writeOld(t, filepath.Join(dir, "old.txt"), time.Hour)
		var r recorder
		opts := r.options(dir, 150*time.Millisecond)
		opts.Poll = 50 * time.Millisecond
		w := start(t, &r, opts, nil)
		w.mu.Lock()
		fsw := w.fsw
		w.mu.Unlock()
		if fsw != nil {
			t.Error("fsnotify in use while polling")
		}
		if f := mustNext(t, w); f.Name != "old.txt" {
			t.Errorf("Next = %q, want old.txt", f.Name)
		}
		write(t, filepath.Join(dir, "new.txt"), "new")
		if f := mustNext(t, w); f.Name != "new.txt" || f.Size != 3 {
			t.Errorf("Next = %+v, want new.txt", f)
		}
		gone := filepath.Join(dir, "gone.txt")
		write(t, gone, "x")
		waitFor(t, "OnSeen", func() bool { return r.seenCount("gone.txt") == 1 })
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "OnGone", func() bool { return r.goneCount(gone) == 1 })
	})
	t.Run("not ready before its mtime is Settle old", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "skewed.txt")
		writeOld(t, path, -time.Hour) // another machine's clock is ahead
		var r recorder
		opts := r.options(dir, 100*time.Millisecond)
		opts.Poll = 50 * time.Millisecond
		w := start(t, &r, opts, nil)
		mustNotNext(t, w, 500*time.Millisecond)
		writeOld(t, path, time.Hour)
		if f := mustNext(t, w); f.Name != "skewed.txt" {
			t.Errorf("Next = %q, want skewed.txt", f.Name)
		}
	})
	t.Run("not ready at first sight", func(t *testing.T) {
		dir := t.TempDir()
		writeOld(t, filepath.Join(dir, "old.txt"), 2*time.Hour)
		var r recorder
		opts := r.options(dir, time.Hour)
		opts.Poll = 50 * time.Millisecond
		w := start(t, &r, opts, nil)
		if w.Len() != 1 {
			t.Errorf("Len = %d, want 1", w.Len())
		}
		mustNotNext(t, w, 300*time.Millisecond)
	})
}

// With no settle time, an event makes a file ready at once, not at the next
// settle tick. There is no Run here, so there is no tick.
func TestNoSettleReadyOnEvent(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Settle: 0})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.txt")
	write(t, path, "a\n")
	w.handleEvent(fsnotify.Event{Name: path, Op: fsnotify.Create})
	f := mustNext(t, w)
	if f.Name != "a.txt" {
		t.Errorf("got %s", f.Name)
	}
	// A write event for a file that is ready keeps it ready.
	path = filepath.Join(dir, "b.txt")
	write(t, path, "b\n")
	w.handleEvent(fsnotify.Event{Name: path, Op: fsnotify.Create})
	w.handleEvent(fsnotify.Event{Name: path, Op: fsnotify.Write})
	if f := mustNext(t, w); f.Name != "b.txt" {
		t.Errorf("got %s", f.Name)
	}
}

// With an injected clock, a file is ready exactly when Settle has passed
// on that clock since its last event: no sleeping on real time.
func TestSettleOnInjectedClock(t *testing.T) {
	dir := t.TempDir()
	r := &recorder{}
	fake := clock.NewFake(time.Now())
	opts := r.options(dir, 10*time.Minute)
	opts.Clock = fake
	w := start(t, r, opts, nil)
	os.WriteFile(filepath.Join(dir, "slow.txt"), []byte("x"), 0o644)
	waitFor(t, "OnSeen", func() bool { return r.seenCount("slow.txt") == 1 })

	fake.Advance(9 * time.Minute)
	if f, err := next(w, 50*time.Millisecond); err == nil {
		t.Fatalf("ready after 9 of 10 minutes: %+v", f)
	}
	fake.Advance(time.Minute)
	var f File
	waitFor(t, "ready after 10 minutes", func() bool {
		var err error
		f, err = next(w, 10*time.Millisecond)
		if err != nil {
			fake.Advance(time.Second) // the settle ticker may have fired before the file was due
		}
		return err == nil
	})
	if f.Name != "slow.txt" {
		t.Errorf("Next = %+v", f)
	}
}
