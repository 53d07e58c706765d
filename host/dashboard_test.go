package host

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasmtest"
)

// dashboardService makes a Service over a watch folder prepared by setup,
// without running it.
func dashboardService(t *testing.T, history int, setup func(f paths)) (*Service, paths) {
	t.Helper()
	h, dir := newHost(t, `
[run]
sync = false
history = `+strconv.Itoa(history)+`
[[pipeline]]
name = "csv"
match = ["*.csv"]
plugins = ["upper"]
[[pipeline]]
name = "text"
plugins = ["upper"]
`, map[string]string{"upper": wasmtest.Plugin(t, "upper")})
	folder, err := OpenFolder(filepath.Join(dir, "watch_dir"))
	if err != nil {
		t.Fatal(err)
	}
	setup(folder)
	svc, err := NewService(h, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc, folder
}

func writeAt(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func byName(t *testing.T, tr *tracker.Tracker, state tracker.State) map[string]tracker.File {
	t.Helper()
	files, _ := tr.Files(state, 0, 0)
	m := map[string]tracker.File{}
	for _, f := range files {
		m[f.Name] = f
	}
	return m
}

// After a restart the failed list and the recent results come back from
// the folders, and each failed file can be reported on, downloaded,
// retried and deleted.
func TestDashboardRestoresHistory(t *testing.T) {
	failedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := time.Now()
	svc, folder := dashboardService(t, 6, func(f paths) {
		rep, _ := json.Marshal(ErrorReport{File: "a.csv", Pipeline: "csv", Plugin: "upper", Error: "line 3: bad quote", Attempts: 2, Failed: failedAt})
		writeAt(t, filepath.Join(f.Failed, "a.csv"), "a,b\n", now)
		writeAt(t, filepath.Join(f.Failed, "a.csv.error.json"), string(rep), now)
		writeAt(t, filepath.Join(f.Failed, "b.txt"), "b\n", now)              // no report
		writeAt(t, filepath.Join(f.Failed, "c.txt"), "c\n", now)              // a report that does not parse
		writeAt(t, filepath.Join(f.Failed, "c.txt.error.json"), "{oops", now) //
		writeAt(t, filepath.Join(f.Failed, "lonely.error.json"), "{}", now)   // a report whose file was deleted
		for i, name := range []string{"p1.txt", "p2.txt", "p3.csv", "p4.txt"} {
			writeAt(t, filepath.Join(f.Processed, name), strings.Repeat("x", i+1), now.Add(time.Duration(i-10)*time.Minute))
		}
		writeAt(t, filepath.Join(f.Processed, ".host-tmp-1"), "temp", now)
	})
	tr := svc.Tracker()
	failed := byName(t, tr, tracker.Failed)
	if len(failed) != 3 {
		t.Fatalf("failed restored: %v, want a.csv, b.txt, c.txt (in failed/, names ending .error.json are reports)", failed)
	}
	a := failed["a.csv"]
	if a.Error != "line 3: bad quote" || a.Plugin != "upper" || a.Pipeline != "csv" || a.Attempts != 2 || !a.Finished.Equal(failedAt) || a.Folder != folder.Dir {
		t.Errorf("a.csv restored as %+v", a)
	}
	if b := failed["b.txt"]; b.Error != "no error report beside it" {
		t.Errorf("b.txt restored as %+v", b)
	}
	if c := failed["c.txt"]; !strings.HasPrefix(c.Error, "unreadable error report") {
		t.Errorf("c.txt restored as %+v", c)
	}
	// History 6, 3 failed: the three newest results.
	processed := byName(t, tr, tracker.Processed)
	if len(processed) != 3 || processed["p4.txt"].BytesOut != 4 || processed["p3.csv"].Pipeline != "csv" || processed["p2.txt"].BytesOut != 2 {
		t.Errorf("processed restored: %+v, want p2.txt, p3.csv and p4.txt", processed)
	}
	if s := tr.Snapshot(); s.Totals.InFailed != 3 || s.Totals.Failed != 0 || s.Last == nil || s.Last.Name != "p4.txt" {
		t.Errorf("snapshot after restore: %+v", s)
	}

	rep, err := svc.Report(a.ID)
	if err != nil || !strings.Contains(string(rep), "line 3: bad quote") {
		t.Errorf("Report = %q, %v", rep, err)
	}
	orig, fi, err := svc.OpenFailed(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(orig)
	orig.Close()
	if string(data) != "a,b\n" || fi.Size() != 4 {
		t.Errorf("OpenFailed = %q", data)
	}
	if _, err := svc.Report(failed["b.txt"].ID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Report of a file without one: %v", err)
	}

	if err := svc.DeleteFailed(failed["b.txt"].ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteFailed(a.ID); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, folder.Failed); !slices.Equal(got, []string{"c.txt", "c.txt.error.json", "lonely.error.json"}) {
		t.Errorf("failed/ after two deletes: %v", got)
	}
	if err := svc.DeleteFailed(a.ID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second delete: %v", err)
	}
	if _, ok := tr.Get(a.ID); ok {
		t.Error("the deleted file is still tracked")
	}
	if err := svc.Retry(failed["c.txt"].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(folder.Unprocessed, "c.txt")); err != nil {
		t.Errorf("retried file not in unprocessed/: %v", err)
	}
}

// The download and view API never serves a symbolic link put in
// processed/ (issue 10, hole 4), nor a processed/ that is a link.
func TestDashboardOpenResultRefusesLinks(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("private"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, folder := dashboardService(t, 100, func(f paths) {
		writeAt(t, filepath.Join(f.Processed, "r.txt"), "RESULT", time.Now())
		writeAt(t, filepath.Join(f.Processed, "pipe.txt"), "x", time.Now())
	})
	recs := byName(t, svc.Tracker(), tracker.Processed)
	id := recs["r.txt"].ID
	f, _, err := svc.OpenResult(id)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	res := filepath.Join(folder.Processed, "r.txt")
	os.Remove(res)
	if err := os.Symlink(secret, res); err != nil {
		t.Fatal(err)
	}
	if f, _, err := svc.OpenResult(id); err == nil {
		data, _ := io.ReadAll(f)
		f.Close()
		t.Fatalf("a symlink in processed/ was served: %q", data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("symlink: %v, want not found", err)
	}

	// A FIFO in a result's place neither blocks nor is served.
	pipe := filepath.Join(folder.Processed, "pipe.txt")
	os.Remove(pipe)
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.OpenResult(recs["pipe.txt"].ID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FIFO: %v, want not found", err)
	}

	// processed/ itself swapped for a link to a folder holding r.txt.
	elsewhere := t.TempDir()
	os.WriteFile(filepath.Join(elsewhere, "r.txt"), []byte("private"), 0o600)
	os.Remove(res)
	os.Remove(pipe)
	if err := os.Remove(folder.Processed); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, folder.Processed); err != nil {
		t.Fatal(err)
	}
	if f, _, err := svc.OpenResult(id); err == nil {
		f.Close()
		t.Fatal("a file behind a symlinked processed/ was served")
	}
}

func TestDashboardDeposit(t *testing.T) {
	svc, folder := dashboardService(t, 100, func(f paths) {
		put(t, filepath.Join(f.Unprocessed, ".host-tmp-upload-cut-short"), "half") // from a run that stopped mid-upload
	})
	dirs := svc.Folders()
	if len(dirs) != 1 || dirs[0] != folder.Dir {
		t.Fatalf("Folders = %v", dirs)
	}
	for _, want := range []string{"up.txt", "up-1.txt"} {
		path, err := svc.Deposit(folder.Dir, "up.txt", strings.NewReader("hello"), 5)
		if err != nil || path != filepath.Join(folder.Unprocessed, want) {
			t.Fatalf("Deposit = %q, %v; want %s", path, err, want)
		}
	}
	if _, err := svc.Deposit(folder.Dir, "big.txt", strings.NewReader("123456"), 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := svc.Deposit(t.TempDir(), "x.txt", strings.NewReader("x"), 5); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("to a folder not watched: %v", err)
	}
	if got := listDir(t, folder.Unprocessed); !slices.Equal(got, []string{"up-1.txt", "up.txt"}) {
		t.Errorf("unprocessed/ = %v: nothing partial may be left", got)
	}
}

func TestDashboardIgnored(t *testing.T) {
	h, dir := newHost(t, `
[run]
settle = "50ms"
sync = false
[[pipeline]]
name = "text"
plugins = ["upper"]
`, map[string]string{"upper": wasmtest.Plugin(t, "upper")})
	svc, _ := startService(t, h)
	folder, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	os.Mkdir(filepath.Join(folder.Unprocessed, "sub"), 0o755)
	os.Symlink("/etc/hostname", filepath.Join(folder.Unprocessed, "link"))
	syscall.Mkfifo(filepath.Join(folder.Unprocessed, "fifo"), 0o644)
	put(t, filepath.Join(folder.Unprocessed, "draft.part"), "x")
	waitFor(t, "the ignored names listed", func() bool {
		why := map[string]string{}
		for _, ig := range svc.Ignored() {
			why[ig.Name] = ig.Why
		}
		return why["sub"] == "directory" && why["link"] == "symlink" && why["fifo"] == "named pipe (FIFO)" &&
			strings.HasPrefix(why["draft.part"], "temporary name")
	})
}

// runService runs watch mode for h, without the config watch, until the
// test's end; adjust may change the Service's fields before it runs.
func runService(t *testing.T, h *Host, adjust func(*Service)) *Service {
	t.Helper()
	svc, err := NewService(h, ServiceOptions{NoConfigWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	adjust(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; svc.Close() })
	waitFor(t, "ready", func() bool { return svc.Ready() == nil })
	return svc
}

// failingPipeline fails every file. With settle 0, tests drop files in
// whole, by rename.
const failingPipeline = `
[run]
settle = "0s"
sync = false
[[pipeline]]
name = "bad"
plugins = ["faulty"]
`

// failedNames is the names and outputs of the failed records the tracker
// offers to act on, sorted.
func failedNames(svc *Service) []string {
	files, _ := svc.Tracker().Files(tracker.Failed, 0, 0)
	var out []string
	for _, f := range files {
		if !f.Retried {
			out = append(out, f.Name+"="+filepath.Base(f.Output))
		}
	}
	slices.Sort(out)
	return out
}

// The failed list follows failed/: a file deleted there by hand, or moved
// back to unprocessed/ by hand, leaves it; of two records of one failed/
// name, the older leaves; an action on a file found gone drops its record.
func TestFailedListFollowsTheFolder(t *testing.T) {
	h, dir := newHost(t, failingPipeline, testPlugins(t))
	svc := runService(t, h, func(s *Service) { s.failedCheckEvery = time.Hour })
	f, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
	for _, name := range []string{"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"} {
		drop(t, dir, name, "fail\n")
	}
	waitFor(t, "five failures", func() bool { return svc.Tracker().Snapshot().Totals.InFailed == 5 })

	os.Remove(filepath.Join(f.Failed, "a.txt")) // deleted by hand, report and all
	os.Remove(filepath.Join(f.Failed, "a.txt.error.json"))
	os.Rename(filepath.Join(f.Failed, "b.txt"), filepath.Join(f.Unprocessed, "b.txt")) // retried by hand: fails again as b-1.txt
	os.Remove(filepath.Join(f.Failed, "c.txt"))                                        // deleted, then failed again under its old name
	os.Remove(filepath.Join(f.Failed, "c.txt.error.json"))
	drop(t, dir, "c.txt", "fail\n")
	waitFor(t, "seven failures", func() bool { return svc.Tracker().Snapshot().Totals.Failed == 7 })
	svc.forgetGoneFailed()
	want := []string{"b.txt=b-1.txt", "c.txt=c.txt", "d.txt=d.txt", "e.txt=e.txt"}
	if got := failedNames(svc); !slices.Equal(got, want) {
		t.Errorf("failed list %q, want %q", got, want)
	}
	if n := svc.Tracker().Snapshot().Totals.InFailed; n != 4 {
		t.Errorf("in_failed = %d, want 4", n)
	}
	// The c.txt record kept is the second failure's (ids grow).
	files, _ := svc.Tracker().Query(tracker.Filter{State: tracker.Failed, Name: "c.txt"}, 0, 0)
	if len(files) != 1 || files[0].ID <= 5 {
		t.Errorf("c.txt records %+v, want the second failure's", files)
	}

	// Between checks, acting on a file found gone drops its record; a
	// missing report alone does not.
	id := func(name string) uint64 {
		files, _ := svc.Tracker().Query(tracker.Filter{State: tracker.Failed, Name: name}, 0, 0)
		return files[0].ID
	}
	d, e := id("d.txt"), id("e.txt")
	os.Remove(filepath.Join(f.Failed, "d.txt"))
	if err := svc.Retry(d); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("retry of a file gone: %v, want not found", err)
	}
	os.Remove(filepath.Join(f.Failed, "e.txt.error.json"))
	if _, err := svc.Report(e); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("report gone: %v, want not found", err)
	}
	want = []string{"b.txt=b-1.txt", "c.txt=c.txt", "e.txt=e.txt"}
	if got := failedNames(svc); !slices.Equal(got, want) {
		t.Errorf("failed list %q, want %q", got, want)
	}
}

// Watch mode checks the failed list every failedCheckEvery, and at once
// after retention deleted failed files.
func TestFailedListChecked(t *testing.T) {
	t.Run("periodically", func(t *testing.T) {
		h, dir := newHost(t, failingPipeline, testPlugins(t))
		svc := runService(t, h, func(s *Service) { s.failedCheckEvery = 20 * time.Millisecond })
		f, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
		drop(t, dir, "a.txt", "fail\n")
		waitFor(t, "the failure", func() bool { return svc.Tracker().Snapshot().Totals.InFailed == 1 })
		os.Remove(filepath.Join(f.Failed, "a.txt"))
		waitFor(t, "the record gone", func() bool { return len(failedNames(svc)) == 0 })
	})
	t.Run("after retention", func(t *testing.T) {
		h, dir := newHost(t, failingPipeline+`
[retention]
every = "50ms"
[retention.failed]
max_files = 1
`, testPlugins(t))
		svc := runService(t, h, func(s *Service) { s.failedCheckEvery = time.Hour })
		f, _ := OpenFolder(filepath.Join(dir, "watch_dir"))
		drop(t, dir, "a.txt", "fail\n")
		waitFor(t, "the first failure", func() bool { return svc.Tracker().Snapshot().Totals.InFailed == 1 })
		drop(t, dir, "b.txt", "fail\n")
		waitFor(t, "a.txt swept and its record gone", func() bool {
			names, _ := readNames(f.Failed)
			return slices.Equal(names, []string{"b.txt", "b.txt.error.json"}) && slices.Equal(failedNames(svc), []string{"b.txt=b.txt"})
		})
	})
}
