package folder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func open(t *testing.T, dir string, opts Options) *Folder {
	t.Helper()
	f, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func put(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// ls lists a subfolder's entries, sorted.
func ls(t *testing.T, f *Folder, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(f.Path(sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func claim(t *testing.T, f *Folder, name, data string) *Claim {
	t.Helper()
	put(t, filepath.Join(f.Path(Unprocessed), name), data)
	c, err := f.Claim(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func copyTo(c *Claim) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.Copy(w, io.NewSectionReader(c.File(), 0, 1<<40))
		return err
	}
}

func fail(t *testing.T, c *Claim) string {
	t.Helper()
	out, err := c.Fail(Report{Error: "boom"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCommitAndFail(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "a.txt", "hello\n")
	out, err := c.Commit("a.txt", copyTo(c))
	if err != nil || read(t, out) != "hello\n" {
		t.Fatalf("commit: %v", err)
	}
	c = claim(t, f, "a.txt", "again\n")
	out2, _ := c.Commit("a.txt", copyTo(c))
	if filepath.Base(out2) != "a-1.txt" || read(t, out) != "hello\n" {
		t.Errorf("second result %s; the first must stay", out2)
	}
	c = claim(t, f, "b.txt", "bad\n")
	dst := fail(t, c)
	var rep Report
	if err := json.Unmarshal([]byte(read(t, dst+ReportSuffix)), &rep); err != nil || rep.File != "b.txt" || rep.Error != "boom" {
		t.Errorf("report %+v, %v", rep, err)
	}
	if got := ls(t, f, Underprocess); len(got) != 0 {
		t.Errorf("underprocess/ = %v", got)
	}
	if got := ls(t, f, Processed); !slices.Equal(got, []string{"a-1.txt", "a.txt"}) {
		t.Errorf("processed/ = %v (no temp may remain)", got)
	}
}

// Hole 1: a report never replaces another file, and a failed input named
// like a report is never taken for one.
func TestFailReportNeverReplacesAFile(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	fail(t, claim(t, f, "y.csv.error.json", "the first file\n"))
	fail(t, claim(t, f, "y.csv", "the second file\n"))
	got := ls(t, f, Failed)
	want := []string{"y.csv", "y.csv.error-1.json", "y.csv.error-1.json.error.json", "y.csv.error.json"}
	if !slices.Equal(got, want) {
		t.Fatalf("failed/ = %v, want %v", got, want)
	}
	if read(t, filepath.Join(f.Path(Failed), "y.csv.error-1.json")) != "the first file\n" {
		t.Error("the first file's original was replaced")
	}
	list, err := f.Failed()
	if err != nil || len(list) != 2 {
		t.Fatalf("Failed() = %+v, %v", list, err)
	}
	for _, ff := range list {
		if ff.Report == nil {
			t.Errorf("%s: no report", ff.Name)
		}
	}
}

// Hole 2: a 251-byte name fails with a report, in failed/ only.
func TestFailLongName(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	long := strings.Repeat("x", 247) + ".csv"
	dst := fail(t, claim(t, f, long, "data\n"))
	if len(filepath.Base(dst))+len(ReportSuffix) > 255 {
		t.Errorf("failed name %d bytes: its report cannot fit", len(filepath.Base(dst)))
	}
	var rep Report
	if err := json.Unmarshal([]byte(read(t, dst+ReportSuffix)), &rep); err != nil || rep.File != long {
		t.Errorf("report %+v, %v: want the full original name", rep, err)
	}
	if got := ls(t, f, Underprocess); len(got) != 0 {
		t.Errorf("underprocess/ = %v", got)
	}
	// Retry restores the original name.
	name, err := f.Retry(filepath.Base(dst))
	if err != nil || name != long {
		t.Errorf("Retry = %q, %v", name, err)
	}
}

// Hole 3: an input named *.error.json caught mid-failure is completed by
// recovery, not processed again.
func TestRecoverReportLikeName(t *testing.T) {
	dir := t.TempDir()
	f := open(t, dir, Options{})
	put(t, filepath.Join(f.Path(Underprocess), "z.error.json"), "{}")
	os.Link(filepath.Join(f.Path(Underprocess), "z.error.json"), filepath.Join(f.Path(Failed), "z.error-1.json"))
	rec, err := f.Recover("test")
	if err != nil || len(rec.Failed) != 1 || len(rec.Requeued) != 0 {
		t.Fatalf("Recover = %+v, %v", rec, err)
	}
	if got := ls(t, f, Failed); !slices.Equal(got, []string{"z.error-1.json", "z.error-1.json.error.json"}) {
		t.Errorf("failed/ = %v", got)
	}
	if got := ls(t, f, Unprocessed); len(got) != 0 {
		t.Errorf("unprocessed/ = %v: requeued a failed file", got)
	}
}

// A crash after the input was linked into failed/ and before its report
// was: recovery links the report the host had written.
func TestRecoverKeepsWrittenReport(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "d.txt", "d\n")
	os.Link(filepath.Join(f.Path(Underprocess), "d.txt"), filepath.Join(f.Path(Failed), "d.txt"))
	put(t, filepath.Join(f.Path(Failed), tempPrefix+c.id+"-r-1"), `{"file":"d.txt","error":"the real reason"}`)
	c.Release()
	if _, err := f.Recover("test"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(f.Path(Failed), "d.txt.error.json")); !strings.Contains(got, "the real reason") {
		t.Errorf("report = %s", got)
	}
	if got := ls(t, f, Failed); len(got) != 2 {
		t.Errorf("failed/ = %v", got)
	}
}

// Every crash point of the protocol, recovered: each input ends in one place.
func TestRecover(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	up := f.Path(Underprocess)
	// Crashed while processing: the claimed input goes back.
	put(t, filepath.Join(up, "a.txt"), "a")
	// Crashed after the result was linked, before the input was removed.
	cb := claim(t, f, "b.txt", "b")
	tmpB := filepath.Join(f.Path(Processed), tempPrefix+cb.id+"-123")
	put(t, tmpB, "B")
	os.Link(tmpB, filepath.Join(f.Path(Processed), "b.txt"))
	cb.Release()
	// Crashed while writing a result: the partial output goes.
	cc := claim(t, f, "c.txt", "c")
	put(t, filepath.Join(f.Path(Processed), tempPrefix+cc.id+"-456"), "partial")
	cc.Release()
	// A name already back in unprocessed/ is not overwritten.
	put(t, filepath.Join(f.Path(Unprocessed), "a.txt"), "newer a")

	rec, err := f.Recover("test")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Requeued) != 2 || len(rec.Completed) != 1 || len(rec.Removed) != 2 {
		t.Errorf("Recover = %+v", rec)
	}
	if got := ls(t, f, Unprocessed); !slices.Equal(got, []string{"a-1.txt", "a.txt", "c.txt"}) {
		t.Errorf("unprocessed/ = %v", got)
	}
	if got := ls(t, f, Processed); !slices.Equal(got, []string{"b.txt"}) {
		t.Errorf("processed/ = %v", got)
	}
	if got := ls(t, f, Underprocess); len(got) != 0 {
		t.Errorf("underprocess/ = %v", got)
	}
	if rec, _ := f.Recover("test"); rec.Any() {
		t.Errorf("second Recover did %+v", rec)
	}
}

// Hole 4: a subfolder that is a symbolic link is never followed.
func TestSymlinkedSubfolders(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(dir, Unprocessed), 0o755)
	os.Symlink(elsewhere, filepath.Join(dir, Processed))
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), "processed/") {
		t.Fatalf("Open = %v, want a refusal naming processed/", err)
	}
	os.Remove(filepath.Join(dir, Processed))
	f := open(t, dir, Options{})

	// processed/ swapped for a link while running: results never reach
	// its target, and Refresh reports it.
	os.Rename(f.Path(Processed), filepath.Join(dir, "old-processed"))
	os.Symlink(elsewhere, f.Path(Processed))
	c := claim(t, f, "a.txt", "a\n")
	if _, err := c.Commit("a.txt", copyTo(c)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("the link's target got %d files", len(ents))
	}
	if _, err := f.Refresh(); !errors.Is(err, ErrSymlink) {
		t.Errorf("Refresh = %v, want ErrSymlink", err)
	}
	os.Remove(f.Path(Processed))
	os.Rename(filepath.Join(dir, "old-processed"), f.Path(Processed))
	if _, err := f.Refresh(); err != nil {
		t.Errorf("Refresh after repair = %v", err)
	}

	// A result replaced by a link is not served.
	secret := filepath.Join(elsewhere, "secret")
	put(t, secret, "secret")
	os.Remove(filepath.Join(f.Path(Processed), "a.txt"))
	os.Symlink(secret, filepath.Join(f.Path(Processed), "a.txt"))
	if file, _, err := f.OpenResult("a.txt"); err == nil {
		file.Close()
		t.Error("OpenResult served a symbolic link")
	}
	// unprocessed/ a link: refused too.
	os.RemoveAll(f.Path(Unprocessed))
	os.Symlink(elsewhere, f.Path(Unprocessed))
	if _, err := f.Refresh(); !errors.Is(err, ErrSymlink) {
		t.Errorf("Refresh with unprocessed/ a link = %v", err)
	}
	if _, err := f.Claim("secret"); err == nil {
		t.Error("claimed a file through a linked unprocessed/")
	}
	if read(t, secret) != "secret" {
		t.Error("the link's target lost its file")
	}
}

// Hole 5: a file truncated while it is processed is not committed.
func TestCommitRefusesChangedInput(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "big.log", strings.Repeat("line\n", 1000))
	_, err := c.Commit("big.log", func(w io.Writer) error {
		io.CopyN(w, c.File(), 100)
		os.Truncate(filepath.Join(f.Path(Underprocess), "big.log"), 10)
		_, err := io.Copy(w, c.File())
		return err
	})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Commit = %v, want ErrChanged", err)
	}
	if got := ls(t, f, Processed); len(got) != 0 {
		t.Errorf("processed/ = %v, want nothing", got)
	}
	// The next attempt reads the file as it now is.
	out, err := c.Commit("big.log", copyTo(c))
	if err != nil || read(t, out) != "line\nline\n" {
		t.Errorf("second attempt: %v", err)
	}
}

// Hole 6: a claim held by another process (host --input) is left alone by
// a watching host's recovery, with its temp files.
func TestRecoverLeavesLiveClaims(t *testing.T) {
	dir := t.TempDir()
	input := open(t, dir, Options{})
	c := claim(t, input, "mine.txt", "mine\n")
	started := make(chan struct{})
	finish := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := c.Commit("mine.txt", func(w io.Writer) error {
			io.WriteString(w, "MINE\n")
			close(started)
			<-finish
			return nil
		})
		done <- err
	}()
	<-started
	watcher := open(t, dir, Options{})
	if err := watcher.Lock(); err != nil {
		t.Fatal(err)
	}
	rec, err := watcher.Recover("test")
	if err != nil || len(rec.Busy) != 1 || rec.Any() {
		t.Fatalf("Recover = %+v, %v: want the live claim left alone", rec, err)
	}
	close(finish)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := ls(t, input, Processed); !slices.Equal(got, []string{"mine.txt"}) {
		t.Errorf("processed/ = %v", got)
	}
	if got := ls(t, input, Underprocess); len(got) != 0 {
		t.Errorf("underprocess/ = %v", got)
	}
}

// Hole 7: the whole folder deleted and recreated: Refresh reopens it and
// takes the lock again, so a second host cannot start on it.
func TestRefreshRecreatedFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	f := open(t, dir, Options{})
	if err := f.Lock(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, Unprocessed), 0o755)
	put(t, filepath.Join(dir, Unprocessed, "new.txt"), "new\n")
	if _, err := f.Claim("new.txt"); err == nil {
		t.Fatal("claimed through the old handles")
	}
	changed, err := f.Refresh()
	if err != nil || !changed {
		t.Fatalf("Refresh = %v, %v", changed, err)
	}
	c, err := f.Claim("new.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit("new.txt", copyTo(c)); err != nil {
		t.Fatal(err)
	}
	other := open(t, dir, Options{})
	if err := other.Lock(); !errors.Is(err, ErrLocked) {
		t.Errorf("second host's Lock = %v, want ErrLocked", err)
	}
	// Another host took the new folder first: Refresh says so.
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	third := open(t, dir, Options{})
	if err := third.Lock(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Refresh(); !errors.Is(err, ErrLocked) {
		t.Errorf("Refresh = %v, want ErrLocked", err)
	}
}

// Hole 8: a FIFO in a claimed file's place never blocks, and is left.
func TestClaimRefusesFIFO(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	fifo := filepath.Join(f.Path(Unprocessed), "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error)
	go func() { _, err := f.Claim("pipe"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("Claim = %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Claim blocked on a FIFO")
	}
	if _, err := os.Lstat(fifo); err != nil {
		t.Errorf("FIFO moved: %v", err)
	}
	os.Symlink("/etc/passwd", filepath.Join(f.Path(Unprocessed), "link"))
	if _, err := f.Claim("link"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Claim of a link = %v", err)
	}
}

// Hole 9: a file never reaches failed/ without its report; descriptor
// shortages are transient.
func TestFailNeverWithoutReport(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "x.txt", "x\n")
	link := f.sys.link
	f.sys = &sysOps{link: func(od int, o string, nd int, n string) error {
		if strings.HasSuffix(n, ReportSuffix) {
			return unix.EMFILE
		}
		return link(od, o, nd, n)
	}, renameNoReplace: defaultSys.renameNoReplace, rename: defaultSys.rename, fsync: defaultSys.fsync}
	_, err := c.Fail(Report{Error: "boom"})
	if err == nil || !Transient(err) {
		t.Fatalf("Fail = %v, want a transient error", err)
	}
	if got := ls(t, f, Failed); len(got) != 0 {
		t.Errorf("failed/ = %v, want nothing without a report", got)
	}
	if got := ls(t, f, Underprocess); !slices.Equal(got, []string{"x.txt"}) {
		t.Errorf("underprocess/ = %v, want the claim kept", got)
	}
	// The claim is kept for another try, which succeeds once the
	// shortage has passed.
	f.sys = defaultSys
	dst, err := c.Fail(Report{Error: "boom"})
	if err != nil || read(t, dst) != "x\n" || !strings.Contains(read(t, dst+ReportSuffix), "boom") {
		t.Fatalf("second Fail = %s, %v", dst, err)
	}
	if got := ls(t, f, Underprocess); len(got) != 0 {
		t.Errorf("underprocess/ = %v after the second try", got)
	}
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOSPC, &fs.PathError{Op: "open", Err: unix.EMFILE}} {
		if !Transient(e) {
			t.Errorf("Transient(%v) = false", e)
		}
	}
}

// Hole 11: a result keeps its input's permission bits, whatever the umask.
func TestResultKeepsMode(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "private.txt", "secret\n")
	os.Chmod(filepath.Join(f.Path(Underprocess), "private.txt"), 0o600)
	c.Info, _ = c.File().Stat()
	out, err := c.Commit("private.txt", copyTo(c))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("result mode %v, want 0600", fi.Mode().Perm())
	}
	c = claim(t, f, "private2.txt", "x\n")
	os.Chmod(filepath.Join(f.Path(Underprocess), "private2.txt"), 0o640)
	c.Info, _ = c.File().Stat()
	dst := fail(t, c)
	if fi, _ := os.Stat(dst + ReportSuffix); fi.Mode().Perm() != 0o640 {
		t.Errorf("report mode %v, want the input's 0640", fi.Mode().Perm())
	}
}

// Hole 12: directory fsync errors are reported; the fallbacks work and
// are per folder.
func TestFsyncErrorReported(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "a.txt", "a\n")
	f.sys = &sysOps{link: defaultSys.link, renameNoReplace: defaultSys.renameNoReplace, rename: defaultSys.rename,
		fsync: func(int) error { return unix.EIO }}
	if _, err := c.Commit("a.txt", copyTo(c)); !errors.Is(err, unix.EIO) {
		t.Errorf("Commit = %v, want EIO", err)
	}
	f.sys.fsync = func(int) error { return unix.EINVAL } // cannot sync a folder here: not an error
	c2 := claim(t, f, "b.txt", "b\n")
	if _, err := c2.Commit("b.txt", copyTo(c2)); err != nil {
		t.Errorf("Commit = %v", err)
	}
}

func TestFallbacks(t *testing.T) {
	noLink := func(int, string, int, string) error { return unix.EPERM }
	noRename2 := func(int, string, int, string) error { return unix.EINVAL }
	for _, tt := range []struct {
		name string
		sys  sysOps
	}{
		{"no hard links", sysOps{link: noLink, renameNoReplace: defaultSys.renameNoReplace, rename: defaultSys.rename, fsync: defaultSys.fsync}},
		{"no renameat2", sysOps{link: defaultSys.link, renameNoReplace: noRename2, rename: defaultSys.rename, fsync: defaultSys.fsync}},
		{"neither", sysOps{link: noLink, renameNoReplace: noRename2, rename: defaultSys.rename, fsync: defaultSys.fsync}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := open(t, t.TempDir(), Options{})
			f.sys = &tt.sys
			other := open(t, t.TempDir(), Options{})
			put(t, filepath.Join(f.Path(Unprocessed), "a.txt"), "a\n")
			put(t, filepath.Join(f.Path(Underprocess), "a.txt"), "taken\n")
			c, err := f.Claim("a.txt")
			if err != nil || c.Name != "a-1.txt" {
				t.Fatalf("Claim = %v, %v", c, err)
			}
			if _, err := c.Commit("a.txt", copyTo(c)); err != nil {
				t.Fatal(err)
			}
			put(t, filepath.Join(f.Path(Processed), "b.txt"), "existing\n")
			c = claim(t, f, "b.txt", "b\n")
			out, err := c.Commit("b.txt", copyTo(c))
			if err != nil || filepath.Base(out) != "b-1.txt" || read(t, filepath.Join(f.Path(Processed), "b.txt")) != "existing\n" {
				t.Errorf("Commit = %s, %v; an existing result must stay", out, err)
			}
			dst := fail(t, claim(t, f, "c.txt", "c\n"))
			if read(t, dst) != "c\n" || !strings.Contains(read(t, dst+ReportSuffix), "boom") {
				t.Error("Fail without the fast paths")
			}
			if _, err := f.Deposit("up.txt", strings.NewReader("up\n"), 0); err != nil {
				t.Error(err)
			}
			if got := ls(t, f, Underprocess); !slices.Equal(got, []string{"a.txt"}) {
				t.Errorf("underprocess/ = %v", got)
			}
			if other.noReplace.Load() {
				t.Error("one folder's fallback spread to another")
			}
		})
	}
}

func TestClaimAcrossFilesystems(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	f.sys = &sysOps{link: defaultSys.link, renameNoReplace: func(int, string, int, string) error { return unix.EXDEV },
		rename: defaultSys.rename, fsync: defaultSys.fsync}
	put(t, filepath.Join(f.Path(Unprocessed), "a.txt"), "a\n")
	if _, err := f.Claim("a.txt"); !errors.Is(err, ErrSameFS) {
		t.Errorf("Claim = %v, want ErrSameFS", err)
	}
	if read(t, filepath.Join(f.Path(Unprocessed), "a.txt")) != "a\n" {
		t.Error("the file left unprocessed/")
	}
}

func TestDeposit(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	put(t, filepath.Join(f.Path(Unprocessed), "u.txt"), "first\n")
	name, err := f.Deposit("u.txt", strings.NewReader("second\n"), 0)
	if err != nil || name != "u-1.txt" {
		t.Fatalf("Deposit = %q, %v", name, err)
	}
	if _, err := f.Deposit("big.txt", strings.NewReader("0123456789"), 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if got := ls(t, f, Unprocessed); !slices.Equal(got, []string{"u-1.txt", "u.txt"}) {
		t.Errorf("unprocessed/ = %v (nothing partial may remain)", got)
	}
	for _, bad := range []string{"", "..", "a/b", "x\x00y"} {
		if _, err := f.Deposit(bad, strings.NewReader("x"), 0); err == nil {
			t.Errorf("Deposit(%q) accepted", bad)
		}
	}
}

func TestCommitSubfolder(t *testing.T) {
	f := open(t, t.TempDir(), Options{})
	c := claim(t, f, "p.csv", "a,b\n")
	out, err := c.Commit("json/p.jsonl", copyTo(c))
	if err != nil || out != filepath.Join(f.Path(Processed), "json", "p.jsonl") {
		t.Fatalf("Commit = %s, %v", out, err)
	}
	res, _ := f.Processed(10)
	if len(res) != 1 || res[0].Name != "json/p.jsonl" {
		t.Errorf("Processed = %+v", res)
	}
	for _, bad := range []string{"../x", "/abs", "a//b", "."} {
		c := claim(t, f, "q.csv", "x\n")
		if _, err := c.Commit(bad, copyTo(c)); err == nil {
			t.Errorf("Commit(%q) accepted", bad)
		}
		c.Requeue()
	}
}

func TestArchiveAndInputKept(t *testing.T) {
	dir := t.TempDir()
	f := open(t, dir, Options{Archive: true})
	c := claim(t, f, "a.txt", "a\n")
	if _, err := c.Commit("a.txt", copyTo(c)); err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(f.Path(Archive), "a.txt")) != "a\n" {
		t.Error("input not archived")
	}
	// archive/ unusable: the result is committed, the input kept, and the
	// next Recover completes the commit.
	os.RemoveAll(f.Path(Archive))
	put(t, f.Path(Archive), "a file where the folder should be")
	c = claim(t, f, "b.txt", "b\n")
	if _, err := c.Commit("b.txt", copyTo(c)); !errors.Is(err, ErrInputKept) {
		t.Fatalf("Commit = %v, want ErrInputKept", err)
	}
	os.Remove(f.Path(Archive))
	g := open(t, dir, Options{Archive: true})
	rec, err := g.Recover("test")
	if err != nil || len(rec.Completed) != 1 {
		t.Fatalf("Recover = %+v, %v", rec, err)
	}
	if read(t, filepath.Join(g.Path(Archive), "b.txt")) != "b\n" {
		t.Error("input not archived by recovery")
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	f := open(t, dir, Options{})
	if err := f.Lock(); err != nil {
		t.Fatal(err)
	}
	g := open(t, dir, Options{})
	if err := g.Lock(); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid") {
		t.Errorf("second Lock = %v", err)
	}
	f.Close()
	if err := g.Lock(); err != nil {
		t.Errorf("Lock after Close = %v", err)
	}
}

func TestVariant(t *testing.T) {
	long := strings.Repeat("é", 125) + ".txt" // 254 bytes
	tests := map[string]string{
		"report.csv":   "report-2.csv",
		"data":         "data-2",
		".bashrc":      ".bashrc-2",
		"a.tar.gz":     "a.tar-2.gz",
		"with space.t": "with space-2.t",
	}
	for in, want := range tests {
		if got := Variant(in, 2); got != want {
			t.Errorf("Variant(%q, 2) = %q, want %q", in, got, want)
		}
	}
	if got := Variant("x", 0); got != "x" {
		t.Errorf("Variant(x, 0) = %q", got)
	}
	v := Variant(long, 12)
	if len(v) > 255 || !strings.HasSuffix(v, "-12.txt") || !strings.HasPrefix(v, "éé") || strings.ContainsRune(v, '\uFFFD') {
		t.Errorf("Variant(long) = %q (%d bytes)", v, len(v))
	}
	if got := failedName("r.error.json", 0); strings.HasSuffix(got, ReportSuffix) {
		t.Errorf("failedName = %q ends like a report", got)
	}
}

// Close keeps the handles a claim in flight uses until it is released, so
// a host stopping past its grace period never has a stuck file's later
// steps run on descriptors reused for something else.
func TestCloseWaitsForClaims(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Lock(); err != nil {
		t.Fatal(err)
	}
	c := claim(t, f, "late.txt", "late\n")
	f.Close()
	other := open(t, dir, Options{})
	if err := other.Lock(); err != nil {
		t.Errorf("the lock is not released at Close: %v", err)
	}
	if _, err := f.Claim("x"); err == nil {
		t.Error("a closed folder took a new claim")
	}
	out, err := c.Commit("late.txt", copyTo(c))
	if err != nil || read(t, out) != "late\n" {
		t.Fatalf("Commit after Close: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.d != nil {
		t.Error("handles still open after the last claim was released")
	}
}

// lockedBySomeone reports whether another open file description holds a
// flock on path: an exclusive, non-blocking lock of our own is refused.
func lockedBySomeone(t *testing.T, path string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		_ = unix.Flock(fd, unix.LOCK_UN)
		return false
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatal(err)
	}
	return true
}

// Claimed and temporary files are flocked one by one for another
// process's Recover only while this one does not hold the folder's lock
// (host --input); under the lock (watch mode) no Recover can run, and the
// two flock calls per file are spared.
func TestFileLocksOnlyWithoutFolderLock(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		t.Run(fmt.Sprintf("folder_lock=%t", exclusive), func(t *testing.T) {
			f := open(t, t.TempDir(), Options{})
			if exclusive {
				if err := f.Lock(); err != nil {
					t.Fatal(err)
				}
			}
			c := claim(t, f, "a.txt", "a\n")
			if got := lockedBySomeone(t, c.Path()); got != !exclusive {
				t.Errorf("claimed file locked = %t, want %t", got, !exclusive)
			}
			_, err := c.Commit("a.txt", func(w io.Writer) error {
				fd := w.(*os.File).Fd()
				if got := lockedBySomeone(t, fmt.Sprintf("/proc/self/fd/%d", fd)); got != !exclusive {
					t.Errorf("temp file locked = %t, want %t", got, !exclusive)
				}
				_, err := io.WriteString(w, "A\n")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := read(t, filepath.Join(f.Path(Processed), "a.txt")); got != "A\n" {
				t.Errorf("result %q", got)
			}
		})
	}
}

// A temp file's mode is the input's exactly: created with it, and fixed by
// fchmod only when the umask took bits off (0666 under 022), which
// createTemp knows from the umask read at start.
func TestTempModeUnderUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	if umask() != 0o022 && umask() != 0o777 {
		// Read before this test set it: make the process agree with it.
		syscall.Umask(int(umask()))
	}
	f := open(t, t.TempDir(), Options{})
	for _, perm := range []os.FileMode{0o666, 0o644, 0o600, 0o755} {
		name := fmt.Sprintf("m%o.txt", perm)
		c := claim(t, f, name, "x\n")
		os.Chmod(filepath.Join(f.Path(Underprocess), name), perm)
		c.Info, _ = c.File().Stat()
		out, err := c.Commit(name, copyTo(c))
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm() != perm {
			t.Errorf("result mode %v, want the input's %v", fi.Mode().Perm(), perm)
		}
	}
}

func TestParseUmask(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"Name:\thost\nUmask:\t0022\nState:\tR\n", 0o022},
		{"Umask:\t0077\n", 0o077},
		{"Umask:\t0000\n", 0},
		{"Name:\thost\n", 0o777}, // kernels before 4.7
		{"Umask:\tzz\n", 0o777},
	} {
		if got := parseUmask(c.in); got != c.want {
			t.Errorf("parseUmask(%q) = %o, want %o", c.in, got, c.want)
		}
	}
}

// Where the filesystem has O_TMPFILE and hard links, a result is written
// unnamed and its temp name appears only once it is whole; the other
// filesystems get a named temp file from the start. Either way the commit
// leaves the result alone in processed/.
func TestUnnamedTemp(t *testing.T) {
	noTmpfile := func(int, uint32) (int, error) { return -1, unix.EOPNOTSUPP }
	noLinkFD := func(int, int, string) error { return unix.EPERM }
	for _, tt := range []struct {
		name    string
		tmpfile func(int, uint32) (int, error)
		linkFD  func(int, int, string) error
		unnamed bool
	}{
		{"O_TMPFILE", defaultSys.tmpfile, defaultSys.linkFD, true},
		{"no O_TMPFILE", noTmpfile, defaultSys.linkFD, false},
		{"O_TMPFILE without links", defaultSys.tmpfile, noLinkFD, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := open(t, t.TempDir(), Options{})
			sys := *defaultSys
			sys.tmpfile, sys.linkFD = tt.tmpfile, tt.linkFD
			f.sys = &sys
			for _, name := range []string{"a.txt", "b.txt"} {
				c := claim(t, f, name, "x\n")
				out, err := c.Commit(name, func(w io.Writer) error {
					names := ls(t, f, Processed)
					if tt.unnamed && len(names) != 0 || !tt.unnamed && (len(names) != 1 || !IsTemp(names[0])) {
						t.Errorf("processed/ while writing %s = %v (unnamed temp: %t)", name, names, tt.unnamed)
					}
					_, err := io.WriteString(w, "X\n")
					return err
				})
				if err != nil || read(t, out) != "X\n" {
					t.Fatalf("Commit = %s, %v", out, err)
				}
				os.Remove(out)
			}
			if got := ls(t, f, Processed); len(got) != 0 {
				t.Errorf("processed/ after = %v", got)
			}
			// A failed write leaves nothing, named or not.
			c := claim(t, f, "c.txt", "x\n")
			if _, err := c.Commit("c.txt", func(io.Writer) error { return errors.New("boom") }); err == nil {
				t.Fatal("Commit of a failed write succeeded")
			}
			if got := ls(t, f, Processed); len(got) != 0 {
				t.Errorf("processed/ after a failed write = %v", got)
			}
		})
	}
}

// processed/ or failed/ deleted and made again while a file is claimed:
// the commit or the failure says ErrFolderGone and leaves the claim as it
// was, so that after Refresh the file can go back and be taken again.
func TestFolderGoneWhileClaimed(t *testing.T) {
	for _, sub := range []string{Processed, Failed} {
		t.Run(sub, func(t *testing.T) {
			f := open(t, t.TempDir(), Options{})
			c := claim(t, f, "a.txt", "hello\n")
			if err := os.RemoveAll(f.Path(sub)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(f.Path(sub), 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			if sub == Processed {
				_, err = c.Commit("a.txt", copyTo(c))
			} else {
				_, err = c.Fail(Report{Error: "boom"})
			}
			if !errors.Is(err, ErrFolderGone) {
				t.Fatalf("error %v, want ErrFolderGone", err)
			}
			if got := ls(t, f, Underprocess); !slices.Equal(got, []string{"a.txt"}) {
				t.Fatalf("underprocess/ = %v, want the claim kept", got)
			}
			if changed, err := f.Refresh(); !changed || err != nil {
				t.Fatalf("Refresh = %v, %v; want the folder reopened", changed, err)
			}
			if name, err := c.Requeue(); err != nil || name != "a.txt" {
				t.Fatalf("Requeue = %q, %v", name, err)
			}
			c, err = f.Claim("a.txt")
			if err != nil {
				t.Fatal(err)
			}
			if sub == Processed {
				out, err := c.Commit("a.txt", copyTo(c))
				if err != nil || read(t, out) != "hello\n" {
					t.Fatalf("commit after the reopen: %v", err)
				}
			} else {
				fail(t, c)
			}
			if got := ls(t, f, sub); len(got) == 0 {
				t.Errorf("%s/ is empty after the reopen", sub)
			}
		})
	}
}

// InFailed tells what is in failed/ without following a link, and refuses
// a name that is not a plain one.
func TestInFailed(t *testing.T) {
	dir := t.TempDir()
	f := open(t, dir, Options{})
	put(t, filepath.Join(dir, Failed, "x.txt"), "x")
	os.Symlink("/nonexistent", filepath.Join(dir, Failed, "dangling"))
	for name, want := range map[string]bool{"x.txt": true, "dangling": true, "y.txt": false} {
		if got, err := f.InFailed(name); err != nil || got != want {
			t.Errorf("InFailed(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := f.InFailed("../unprocessed"); err == nil {
		t.Error("InFailed took a path")
	}
	f.Close()
	if _, err := f.InFailed("x.txt"); err == nil {
		t.Error("InFailed on a closed folder: no error")
	}
}
