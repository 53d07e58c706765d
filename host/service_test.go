package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filehost/host/internal/clock"
	"github.com/filehost/host/internal/tracker"
)

// service starts watch mode on a temp project with the given config body
// (after a [run] section tuned for tests) and stops it at cleanup.
func service(t *testing.T, body string) (*Service, paths, func()) {
	t.Helper()
	h, dir := newHost(t, `
[run]
workers = 2
settle = "150ms"
rescan = "1s"
retries = 2
retry_delay = "10ms"
grace = "5s"
sync = false
`+body, testPlugins(t))
	svc, stop := startService(t, h)
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	return svc, folder, stop
}

// startService runs h's watch mode until stop (or the test's end) and
// checks Run returned nil. stop may be called more than once.
func startService(t *testing.T, h *Host) (*Service, func()) {
	t.Helper()
	return startServiceWith(t, h, ServiceOptions{})
}

// startServiceWith is startService with opts.
func startServiceWith(t *testing.T, h *Host, opts ServiceOptions) (*Service, func()) {
	t.Helper()
	svc, err := NewService(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Error("Run did not return")
			}
			svc.Close()
		})
	}
	t.Cleanup(stop)
	return svc, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count counts the finished files in dir: sidecars and dot names (the
// temp output a worker is still writing) do not count.
func count(dir string) int {
	n, _ := readNames(dir)
	k := 0
	for _, name := range n {
		if !strings.HasSuffix(name, ".error.json") && !strings.HasPrefix(name, ".") {
			k++
		}
	}
	return k
}

const upperPipeline = "[[pipeline]]\nname = \"text\"\nplugins = [\"upper\"]\n"

func TestServiceProcessesFiles(t *testing.T) {
	h, dir := newHost(t, "[run]\nsettle = \"100ms\"\nsync = false\n"+upperPipeline, testPlugins(t))
	wd := filepath.Join(dir, "watch_dir")
	folder, _ := OpenFolder(wd)
	put(t, filepath.Join(folder.Unprocessed, "before.txt"), "was here first\n")
	svc, stop := startService(t, h)

	waitFor(t, "the file present at start", func() bool { return count(folder.Processed) == 1 })
	put(t, filepath.Join(folder.Unprocessed, "after.txt"), "dropped later\n")
	waitFor(t, "the dropped file", func() bool { return count(folder.Processed) == 2 })
	for name, want := range map[string]string{"before.txt": "WAS HERE FIRST\n", "after.txt": "DROPPED LATER\n"} {
		if got, _ := os.ReadFile(filepath.Join(folder.Processed, name)); string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	snap := svc.Tracker().Snapshot()
	if snap.Totals.Processed != 2 || snap.Last == nil || snap.Last.Name != "after.txt" || len(snap.Last.Stages) != 1 {
		t.Errorf("tracker = %+v, last %+v", snap.Totals, snap.Last)
	}
	stop()
}

// A writer that appends for 5 seconds: the output is the whole file,
// processed once.
func TestServiceSlowWriter(t *testing.T) {
	_, folder, _ := service(t, upperPipeline)
	path := filepath.Join(folder.Unprocessed, "growing.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	end := time.Now().Add(5 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		line := fmt.Sprintf("line %d\n", i)
		f.WriteString(line)
		want.WriteString(strings.ToUpper(line))
		time.Sleep(50 * time.Millisecond)
	}
	f.Close()
	waitFor(t, "the finished file", func() bool { return count(folder.Processed) >= 1 })
	time.Sleep(500 * time.Millisecond) // a second copy would show by now
	if n := count(folder.Processed); n != 1 {
		t.Fatalf("%d outputs, want 1", n)
	}
	got, _ := os.ReadFile(filepath.Join(folder.Processed, "growing.log"))
	if string(got) != want.String() {
		t.Errorf("output has %d bytes, want %d: the file was taken before it was complete", len(got), want.Len())
	}
}

func TestServiceFailuresAndRetries(t *testing.T) {
	svc, folder, _ := service(t, `
[[pipeline]]
name = "slow"
match = ["*.slow"]
plugins = ["faulty"]

[[pipeline]]
name = "text"
match = ["*.txt"]
plugins = ["faulty"]

[plugins.faulty]
timeout = "300ms"
`)
	put(t, filepath.Join(folder.Unprocessed, "bad.txt"), "fail\n")
	put(t, filepath.Join(folder.Unprocessed, "stuck.slow"), "loop\n")
	put(t, filepath.Join(folder.Unprocessed, "odd.bin"), "no pipeline\n")
	waitFor(t, "three failures", func() bool { return count(folder.Failed) == 3 })

	report := func(name string) ErrorReport {
		var rep ErrorReport
		data, err := os.ReadFile(filepath.Join(folder.Failed, name+".error.json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(data, &rep)
		return rep
	}
	waitFor(t, "reports", func() bool {
		for _, name := range []string{"bad.txt", "stuck.slow", "odd.bin"} {
			if _, err := os.Stat(filepath.Join(folder.Failed, name+".error.json")); err != nil {
				return false
			}
		}
		return true
	})
	if rep := report("bad.txt"); rep.Attempts != 1 || rep.Plugin != "faulty" || !strings.Contains(rep.Error, "asked to fail") {
		t.Errorf("deterministic failure: %+v (want one attempt)", rep)
	}
	if rep := report("stuck.slow"); rep.Attempts != 3 || rep.Plugin != "faulty" || !strings.Contains(rep.Error, "deadline") {
		t.Errorf("timeout: %+v (want 3 attempts: 1 + 2 retries)", rep)
	}
	if rep := report("odd.bin"); rep.Attempts != 1 || !strings.Contains(rep.Error, "no pipeline") {
		t.Errorf("no pipeline: %+v", rep)
	}
	if got, _ := os.ReadFile(filepath.Join(folder.Failed, "bad.txt")); string(got) != "fail\n" {
		t.Errorf("failed/bad.txt = %q, want the original", got)
	}

	// Retry from the tracker: the file goes back to unprocessed/ and fails again.
	files, _ := svc.Tracker().Files(tracker.Failed, 0, 10)
	var id uint64
	for _, f := range files {
		if f.Name == "bad.txt" {
			id = f.ID
		}
	}
	if err := svc.Retry(id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried file to fail again", func() bool {
		_, total := svc.Tracker().Files(tracker.Failed, 0, 1)
		return total == 4
	})
	if err := svc.Retry(12345); err == nil {
		t.Error("Retry of an unknown id succeeded")
	}
	if f, _ := svc.Tracker().Get(id); !f.Retried {
		t.Error("the retried record is not marked")
	}
	if err := svc.Retry(id); err == nil {
		t.Error("a second Retry of the same record succeeded")
	}
}

func TestServiceBurstAndHardNames(t *testing.T) {
	_, folder, stop := service(t, upperPipeline)
	names := []string{
		"with space.txt", "ünïcödé ✓.txt", "new\nline.txt", "-leading-dash.txt", "--help",
		strings.Repeat("n", 251) + ".txt",
	}
	for i := 0; i < 5000; i++ {
		names = append(names, fmt.Sprintf("burst-%04d.txt", i))
	}
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tmp := filepath.Join(folder.Dir, fmt.Sprintf(".staging-%d", i))
			os.WriteFile(tmp, []byte(name+"\n"), 0o644)
			os.Rename(tmp, filepath.Join(folder.Unprocessed, name)) // renamed in from elsewhere
		}()
	}
	wg.Wait()
	waitFor(t, "every file", func() bool { return count(folder.Processed) >= len(names) })
	stop()
	if n := count(folder.Processed); n != len(names) {
		t.Errorf("%d outputs for %d files: some were processed twice", n, len(names))
	}
	for _, name := range names[:6] {
		got, err := os.ReadFile(filepath.Join(folder.Processed, name))
		if err != nil || string(got) != strings.ToUpper(name)+"\n" {
			t.Errorf("%q: %q, %v", name, got, err)
		}
	}
	if n := count(folder.Unprocessed) + count(folder.Underprocess) + count(folder.Failed); n != 0 {
		t.Errorf("%d files left elsewhere", n)
	}
}

func TestServiceIgnoresDirsAndSymlinks(t *testing.T) {
	_, folder, _ := service(t, upperPipeline)
	os.Mkdir(filepath.Join(folder.Unprocessed, "subdir"), 0o755)
	target := filepath.Join(folder.Dir, "target.txt")
	put(t, target, "secret\n")
	os.Symlink(target, filepath.Join(folder.Unprocessed, "link.txt"))
	put(t, filepath.Join(folder.Unprocessed, ".hidden"), "x")
	put(t, filepath.Join(folder.Unprocessed, "download.part"), "x")
	put(t, filepath.Join(folder.Unprocessed, "real.txt"), "real\n")
	waitFor(t, "the real file", func() bool { return count(folder.Processed) == 1 })
	time.Sleep(500 * time.Millisecond)
	got, _ := readNames(folder.Unprocessed)
	sort.Strings(got)
	if strings.Join(got, ",") != ".hidden,download.part,link.txt" {
		t.Errorf("unprocessed/ = %v: ignored entries must stay", got)
	}
	if _, err := os.Stat(filepath.Join(folder.Unprocessed, "subdir")); err != nil {
		t.Error("directory moved")
	}
	if count(folder.Processed) != 1 || count(folder.Failed) != 0 {
		t.Error("an ignored entry was processed")
	}
}

func TestServiceUnprocessedRecreated(t *testing.T) {
	_, folder, _ := service(t, upperPipeline)
	if err := os.RemoveAll(folder.Unprocessed); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	os.Mkdir(folder.Unprocessed, 0o755)
	time.Sleep(200 * time.Millisecond)
	put(t, filepath.Join(folder.Unprocessed, "again.txt"), "again\n")
	waitFor(t, "a file in the recreated folder", func() bool { return count(folder.Processed) == 1 })
}

// processed/ and failed/ deleted and made again (say, rm -rf processed;
// mkdir processed to clear it) while the host runs: files dropped before
// the host has noticed still reach the new folders, none fails for it.
func TestServiceProcessedRecreated(t *testing.T) {
	_, folder, _ := service(t, "[[pipeline]]\nname = \"bad\"\nmatch = [\"*.bad\"]\nplugins = [\"faulty\"]\n"+upperPipeline)
	put(t, filepath.Join(folder.Unprocessed, "first.txt"), "first\n")
	waitFor(t, "the first file", func() bool { return count(folder.Processed) == 1 })
	for _, dir := range []string{folder.Processed, folder.Failed} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	put(t, filepath.Join(folder.Unprocessed, "second.txt"), "second\n")
	put(t, filepath.Join(folder.Unprocessed, "third.bad"), "fail\n")
	waitFor(t, "the second file in the new processed/", func() bool { return count(folder.Processed) == 1 })
	waitFor(t, "the third file in the new failed/", func() bool { return count(folder.Failed) == 1 })
	if got, _ := os.ReadFile(filepath.Join(folder.Processed, "second.txt")); string(got) != "SECOND\n" {
		t.Errorf("second.txt = %q", got)
	}
	if rep, err := os.ReadFile(filepath.Join(folder.Failed, "third.bad.error.json")); err != nil || strings.Contains(string(rep), "deleted") {
		t.Errorf("third.bad's report: %s, %v (want the plugin's failure)", rep, err)
	}
}

// At shutdown a file in flight past the grace period goes back to
// unprocessed/, and Run returns nil.
func TestServiceGracefulShutdown(t *testing.T) {
	h, dir := newHost(t, `
[run]
settle = "100ms"
grace = "300ms"
sync = false
[limits]
chunk_size = "1KiB"
[[pipeline]]
name = "slow"
plugins = ["faulty"]
`, testPlugins(t))
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	svc, stop := startService(t, h)
	// About 10 seconds of work in chunks of about 0.2 seconds: the grace
	// period stops it between chunks.
	big := strings.Repeat("slow\n", 10000)
	put(t, filepath.Join(folder.Unprocessed, "long.txt"), big)
	waitFor(t, "processing", func() bool {
		_, n := svc.Tracker().Files(tracker.Processing, 0, 1)
		return n == 1
	})
	stop()
	if got, _ := os.ReadFile(filepath.Join(folder.Unprocessed, "long.txt")); string(got) != big {
		t.Errorf("the file is not back in unprocessed/ as it was")
	}
	for _, d := range []string{folder.Processed, folder.Failed, folder.Underprocess} {
		if left, _ := readNames(d); len(left) != 0 {
			t.Errorf("left in %s: %q", filepath.Base(d), left)
		}
	}
}

// A full destination disk: the write fails, is retried, then the file goes
// to failed/ with the reason, and nothing partial is left in processed/.
func TestServiceDiskFull(t *testing.T) {
	h, dir := newHost(t, `
[run]
settle = "50ms"
retries = 2
retry_delay = "10ms"
sync = false
`+upperPipeline, testPlugins(t))
	wd := filepath.Join(dir, "watch_dir")
	os.MkdirAll(wd, 0o755)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", wd).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", wd).Run() })
	folder, _ := OpenFolder(wd)
	_, stop := startService(t, h)

	big := strings.Repeat("fills the disk twice over\n", 600<<10/26) // 600 KiB in, 600 KiB out
	put(t, filepath.Join(folder.Unprocessed, "big.txt"), big)
	waitFor(t, "the failure", func() bool {
		_, err := os.Stat(filepath.Join(folder.Failed, "big.txt.error.json"))
		return err == nil
	})
	stop()
	var rep ErrorReport
	data, _ := os.ReadFile(filepath.Join(folder.Failed, "big.txt.error.json"))
	json.Unmarshal(data, &rep)
	if rep.Attempts != 3 || !strings.Contains(rep.Error, "no space left") {
		t.Errorf("report = %+v; want 3 attempts and the reason", rep)
	}
	if got, _ := os.ReadFile(filepath.Join(folder.Failed, "big.txt")); string(got) != big {
		t.Error("failed/big.txt is not the original")
	}
	if names, _ := os.ReadDir(folder.Processed); len(names) != 0 {
		t.Errorf("processed/ holds %d entries", len(names))
	}
}

// 100,000 files waiting at start: the queue stays at its bound and file
// descriptors stay few, while files are being processed.
func TestServiceManyFilesWaiting(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 files")
	}
	h, dir := newHost(t, "[run]\nqueue = 1000\nworkers = 2\nsettle = \"50ms\"\nsync = false\n"+upperPipeline, testPlugins(t))
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	for i := range 100_000 {
		put(t, filepath.Join(folder.Unprocessed, fmt.Sprintf("f%06d", i)), "x\n")
	}
	fdsBefore := openFDs(t)
	svc, stop := startService(t, h)
	waitFor(t, "some files processed", func() bool { return svc.Tracker().Snapshot().Totals.Processed >= 2000 })
	maxQueued, maxFDs := 0, 0
	for range 20 {
		maxQueued = max(maxQueued, svc.Tracker().Snapshot().Totals.Queued)
		maxFDs = max(maxFDs, openFDs(t)-fdsBefore)
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if maxQueued > 1000 {
		t.Errorf("%d files queued at once, want at most run.queue = 1000", maxQueued)
	}
	if maxFDs > 64 {
		t.Errorf("%d more file descriptors open while running", maxFDs)
	}
	// The oldest files went first.
	if _, err := os.Stat(filepath.Join(folder.Processed, "f000000")); err != nil {
		t.Errorf("the oldest file was not among the first processed: %v", err)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Two watched folders, each with its own pipeline.
func TestServiceSeveralFolders(t *testing.T) {
	h, dir := newHost(t, `
[run]
settle = "50ms"
sync = false
[[watch]]
dir = "shout"
pipelines = ["upper"]
[[watch]]
dir = "keep"
pipelines = ["keep"]
[[pipeline]]
name = "upper"
plugins = ["upper"]
[[pipeline]]
name = "keep"
plugins = []
`, testPlugins(t))
	startService(t, h)
	shout, _ := OpenFolder(filepath.Join(dir, "shout"))
	keep, _ := OpenFolder(filepath.Join(dir, "keep"))
	put(t, filepath.Join(shout.Unprocessed, "a.txt"), "a\n")
	put(t, filepath.Join(keep.Unprocessed, "a.txt"), "a\n")
	waitFor(t, "both files", func() bool { return count(shout.Processed) == 1 && count(keep.Processed) == 1 })
	if got, _ := os.ReadFile(filepath.Join(shout.Processed, "a.txt")); string(got) != "A\n" {
		t.Errorf("shout: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(keep.Processed, "a.txt")); string(got) != "a\n" {
		t.Errorf("keep: %q", got)
	}
}

// A result committed whose input cannot be archived counts as processed,
// once: a retry would write a second result.
func TestServiceInputKeptIsNotRetried(t *testing.T) {
	h, dir := newHost(t, `
[run]
settle = "50ms"
sync = false
retry_delay = "10ms"
[[watch]]
dir = "w"
archive = true
`+upperPipeline, testPlugins(t))
	folder, _ := OpenFolder(filepath.Join(dir, "w"))
	svc, stop := startService(t, h)
	if fi, err := os.Stat(filepath.Join(dir, "w", "archive")); err != nil || !fi.IsDir() {
		t.Fatalf("archive/ not made at start: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "w", "archive"))
	put(t, filepath.Join(dir, "w", "archive"), "a file where the archive folder should be")
	put(t, filepath.Join(folder.Unprocessed, "a.txt"), "a\n")
	waitFor(t, "the file", func() bool {
		_, n := svc.Tracker().Files(tracker.Processed, 0, 1)
		return n == 1
	})
	stop()
	if got, _ := readNames(folder.Processed); len(got) != 2 || got[0][0] != '.' || got[1] != "a.txt" { // the result and the temp name Recover needs
		t.Errorf("processed/ = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(folder.Processed, "a.txt")); string(got) != "A\n" {
		t.Errorf("result %q", got)
	}
	if got, _ := readNames(folder.Failed); len(got) != 0 {
		t.Errorf("failed/ = %q", got)
	}
	if got, _ := readNames(folder.Underprocess); len(got) != 1 {
		t.Errorf("underprocess/ = %q, want the input kept", got)
	}
}

// With sync on, committed temp names are removed later in batches; none is
// left once the service stops.
func TestServiceSyncLeavesNoTemps(t *testing.T) {
	h, dir := newHost(t, "[run]\nsettle = \"0s\"\nsync = true\n"+upperPipeline, testPlugins(t))
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	_, stop := startService(t, h)
	for i := range 20 {
		// With settle = 0s files must arrive whole: by rename.
		tmp := filepath.Join(dir, "staging")
		put(t, tmp, "x\n")
		os.Rename(tmp, filepath.Join(folder.Unprocessed, fmt.Sprintf("f%02d.txt", i)))
	}
	waitFor(t, "every file", func() bool { return count(folder.Processed) == 20 })
	stop()
	got, _ := readNames(folder.Processed)
	if len(got) != 20 {
		t.Errorf("processed/ = %q", got)
	}
	for _, name := range got {
		if data, _ := os.ReadFile(filepath.Join(folder.Processed, name)); string(data) != "X\n" {
			t.Errorf("%s = %q", name, data)
		}
	}
	if left, _ := readNames(folder.Underprocess); len(left) != 0 {
		t.Errorf("underprocess/ = %q", left)
	}
}

// Files waiting on the disk do not hold a worker: with workers = 1, more
// files than one are claimed at a time, but only one is in the plugin chain
// (the plugin never needs a second instance).
func TestServiceWorkersBoundTheChainOnly(t *testing.T) {
	h, dir := newHost(t, `
[run]
workers = 1
settle = "0s"
sync = true

[[pipeline]]
name = "slow"
plugins = ["faulty"]
`, testPlugins(t))
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	_, stop := startService(t, h)
	plugin := h.Plugins()[0]

	const files = 12
	for i := range files {
		drop(t, dir, fmt.Sprintf("f%02d.txt", i), strings.Repeat("slow\n", 5)) // whole: settle is 0s
	}
	maxLive, maxClaimed := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for count(folder.Processed) < files {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d files processed", count(folder.Processed), files)
		}
		live, _ := plugin.Instances()
		maxLive = max(maxLive, live)
		maxClaimed = max(maxClaimed, count(folder.Underprocess))
		time.Sleep(500 * time.Microsecond)
	}
	stop()
	if maxLive != 1 {
		t.Errorf("up to %d instances of the plugin, want 1: one file in the chain at a time (workers = 1)", maxLive)
	}
	if maxClaimed < 2 {
		t.Errorf("at most %d file claimed at once, want more while one runs the chain", maxClaimed)
	}
	for i := range files {
		name := fmt.Sprintf("f%02d.txt", i)
		if data, _ := os.ReadFile(filepath.Join(folder.Processed, name)); string(data) != strings.Repeat("slow\n", 5) {
			t.Errorf("%s = %q", name, data)
		}
	}
}

// Hole 10: with more files waiting than run.queue, a worker may take a file
// before the watcher's OnSeen has run; no queued record may be left over.
func TestServiceNoGhostQueuedRecords(t *testing.T) {
	h, dir := newHost(t, "[run]\nworkers = 4\nqueue = 16\nsettle = \"0s\"\nsync = false\n"+upperPipeline, testPlugins(t))
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	const n = 1500
	for i := range n {
		put(t, filepath.Join(folder.Unprocessed, fmt.Sprintf("f%05d.txt", i)), "x\n")
	}
	svc, _ := startService(t, h)
	waitFor(t, "every file", func() bool { return svc.Tracker().Snapshot().Totals.Processed == n })
	waitFor(t, "no queued record", func() bool { return svc.Tracker().Snapshot().Totals.Queued == 0 })
	if files, total := svc.Tracker().Files(tracker.Queued, 0, 10); total != 0 {
		t.Errorf("%d queued records left, e.g. %+v", total, files)
	}
}

// Hole 7: the whole watch folder deleted and recreated: the host notices,
// recreates its subfolders, takes the lock again and goes on.
func TestServiceWatchFolderRecreated(t *testing.T) {
	h, dir := newHost(t, "[run]\nsettle = \"50ms\"\nrescan = \"1h\"\nsync = false\n"+upperPipeline, testPlugins(t))
	svc, err := NewService(h, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.refreshEvery = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	wd := filepath.Join(dir, "watch_dir")
	os.RemoveAll(wd)
	os.MkdirAll(filepath.Join(wd, "unprocessed"), 0o755)
	put(t, filepath.Join(wd, "unprocessed", "again.txt"), "again\n")
	waitFor(t, "a file in the recreated folder", func() bool {
		got, err := os.ReadFile(filepath.Join(wd, "processed", "again.txt"))
		return err == nil && string(got) == "AGAIN\n"
	})
	if _, err := os.Stat(filepath.Join(wd, ".host.lock")); err != nil {
		t.Errorf("lock file not taken again: %v", err)
	}
	// processed/ swapped for a symbolic link: not ready, and nothing is
	// written through it.
	elsewhere := t.TempDir()
	// Swapped in one step: the host recreates a subfolder it finds missing.
	link := filepath.Join(dir, "moved")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	exchange := func() {
		t.Helper()
		if err := unix.Renameat2(unix.AT_FDCWD, link, unix.AT_FDCWD, filepath.Join(wd, "processed"), unix.RENAME_EXCHANGE); err != nil {
			t.Skipf("cannot swap folders atomically here: %v", err)
		}
	}
	exchange()
	waitFor(t, "not ready", func() bool { return svc.Ready() != nil })
	if err := svc.Ready(); !strings.Contains(err.Error(), "processed/") {
		t.Errorf("Ready = %v, want it to name processed/", err)
	}
	put(t, filepath.Join(wd, "unprocessed", "held.txt"), "held\n")
	time.Sleep(300 * time.Millisecond) // several refreshes and settles: the file must stay
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("the link's target got %d files", len(ents))
	}
	exchange() // the real folder back
	waitFor(t, "ready again", func() bool { return svc.Ready() == nil })
	waitFor(t, "the held file", func() bool { _, err := os.Stat(filepath.Join(wd, "processed", "held.txt")); return err == nil })
}

// Retry delays run on the service's clock: with a fake one, a retryable
// failure waits for the clock, not for real time.
func TestServiceRetryDelayOnClock(t *testing.T) {
	h, dir := newHost(t, `
[run]
settle = "0s"
retries = 2
retry_delay = "1h"
sync = false
[[pipeline]]
name = "slow"
plugins = ["faulty"]
[plugins.faulty]
timeout = "100ms"
`, testPlugins(t))
	fake := clock.NewFake(time.Now())
	svc, err := NewService(h, ServiceOptions{Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case <-done:
				svc.Close()
				return
			case <-time.After(10 * time.Millisecond):
				fake.Advance(time.Minute) // the grace period runs on the fake clock too
			}
		}
	})
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	drop(t, dir, "stuck.slow", "loop\n") // whole, by rename: settle is 0s
	attempts := func() int {
		files, _ := svc.Tracker().Files(tracker.Processing, 0, 1)
		if len(files) == 0 {
			return 0
		}
		return files[0].Attempts
	}
	waitFor(t, "the first attempt", func() bool { return attempts() == 1 })
	for want := 2; want <= 3; want++ {
		// The retry waits an hour on the fake clock: advance it once the
		// service has armed its timer.
		waitFor(t, "the retry timer", func() bool {
			select {
			case <-fake.Waiting():
			default:
			}
			fake.Advance(30 * time.Minute)
			return attempts() >= want
		})
	}
	waitFor(t, "the failure", func() bool { return count(folder.Failed) == 1 })
	data, _ := os.ReadFile(filepath.Join(folder.Failed, "stuck.slow.error.json"))
	if !strings.Contains(string(data), `"attempts": 3`) {
		t.Errorf("report: %s", data)
	}
}
