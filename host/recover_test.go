package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func put(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) string {
	t.Helper()
	n, err := readNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

// Each case leaves a folder as a crash at one step of the protocol would,
// then checks Recover puts every input in exactly one place.
func TestRecover(t *testing.T) {
	f, err := OpenFolder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	// Crashed while processing: the claimed input goes back.
	put(t, filepath.Join(f.Underprocess, "a.txt"), "a")
	// Crashed after the result was linked, before the input was removed.
	put(t, filepath.Join(f.Underprocess, "b.txt"), "b")
	id, _ := claimID(filepath.Join(f.Underprocess, "b.txt"))
	tmpB := filepath.Join(f.Processed, tempPrefix+id+"-123")
	put(t, tmpB, "B")
	os.Link(tmpB, filepath.Join(f.Processed, "b.txt"))
	// Crashed while writing a result: the partial output goes.
	put(t, filepath.Join(f.Underprocess, "c.txt"), "c")
	idc, _ := claimID(filepath.Join(f.Underprocess, "c.txt"))
	put(t, filepath.Join(f.Processed, tempPrefix+idc+"-456"), "partial")
	// Crashed after the input was linked into failed/, before its report.
	put(t, filepath.Join(f.Underprocess, "d.txt"), "d")
	os.Link(filepath.Join(f.Underprocess, "d.txt"), filepath.Join(f.Failed, "d.txt"))
	put(t, filepath.Join(f.Failed, tempPrefix+"789"), "{")
	// A name already back in unprocessed/ is not overwritten.
	put(t, filepath.Join(f.Unprocessed, "a.txt"), "newer a")

	rec, err := f.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.Underprocess); got != "" {
		t.Errorf("underprocess/ = %s, want empty", got)
	}
	if got := names(t, f.Unprocessed); got != "a-1.txt,a.txt,c.txt" {
		t.Errorf("unprocessed/ = %s", got)
	}
	if got := names(t, f.Processed); got != "b.txt" {
		t.Errorf("processed/ = %s", got)
	}
	if got := names(t, f.Failed); got != "d.txt,d.txt.error.json" {
		t.Errorf("failed/ = %s", got)
	}
	if data, _ := os.ReadFile(filepath.Join(f.Unprocessed, "a.txt")); string(data) != "newer a" {
		t.Errorf("unprocessed/a.txt overwritten: %q", data)
	}
	if strings.Join(rec.Completed, ",") != "b.txt" || strings.Join(rec.Failed, ",") != "d.txt" || len(rec.Requeued) != 2 || len(rec.Removed) != 3 {
		t.Errorf("recovered = %+v", rec)
	}

	// Recovering a clean folder changes nothing.
	if rec, err := f.Recover(); err != nil || len(rec.Requeued)+len(rec.Completed)+len(rec.Failed)+len(rec.Removed) != 0 {
		t.Errorf("second recover: %+v, %v", rec, err)
	}
}

func TestCommitLeavesNothingOnError(t *testing.T) {
	f, _ := OpenFolder(t.TempDir())
	in := filepath.Join(f.Underprocess, "x")
	put(t, in, "x")
	_, err := f.Commit(in, "x", func(w io.Writer) error {
		io.WriteString(w, "half")
		return io.ErrUnexpectedEOF
	})
	if err == nil {
		t.Fatal("no error")
	}
	if got := names(t, f.Processed); got != "" {
		t.Errorf("processed/ = %s", got)
	}
	if got := names(t, f.Underprocess); got != "x" {
		t.Errorf("underprocess/ = %s, want the input untouched", got)
	}
}

func TestArchive(t *testing.T) {
	f, _ := OpenFolder(t.TempDir())
	f.Archive = filepath.Join(f.Dir, "archive")
	in := filepath.Join(f.Underprocess, "x")
	put(t, in, "x")
	if _, err := f.Commit(in, "x", func(w io.Writer) error { _, err := io.WriteString(w, "X"); return err }); err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.Archive); got != "x" {
		t.Errorf("archive/ = %s", got)
	}
	if got := names(t, f.Underprocess); got != "" {
		t.Errorf("underprocess/ = %s", got)
	}
}

// When the input cannot be retired after its result is linked, Commit
// reports ErrInputKept with the result, and the next Recover completes the
// commit instead of processing the input again.
func TestCommitInputKept(t *testing.T) {
	f, _ := OpenFolder(t.TempDir())
	f.Archive = filepath.Join(f.Dir, "archive")
	put(t, f.Archive, "a file where the archive folder should be")
	in := filepath.Join(f.Underprocess, "x-1")
	put(t, in, "x")
	dst, err := f.Commit(in, "x", func(w io.Writer) error { _, err := io.WriteString(w, "X"); return err })
	if !errors.Is(err, ErrInputKept) {
		t.Fatalf("got %v, want ErrInputKept", err)
	}
	if got, _ := os.ReadFile(dst); filepath.Base(dst) != "x" || string(got) != "X" {
		t.Errorf("result %s = %q, want x = X", dst, got)
	}
	if got := names(t, f.Underprocess); got != "x-1" {
		t.Errorf("underprocess/ = %s", got)
	}
	os.Remove(f.Archive)
	rec, err := f.Recover()
	if err != nil || len(rec.Completed) != 1 || len(rec.Requeued) != 0 {
		t.Fatalf("recover: %+v, %v", rec, err)
	}
	if got := names(t, f.Processed); got != "x" {
		t.Errorf("processed/ = %s", got)
	}
	if got := names(t, f.Underprocess) + names(t, f.Unprocessed); got != "" {
		t.Errorf("left: %s", got)
	}
}

func TestLock(t *testing.T) {
	f, _ := OpenFolder(t.TempDir())
	unlock, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	// flock is per open file description, so a second open in this process
	// contends like another process would.
	if _, err := f.Lock(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	unlock2, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

// With sync, a committed result's temp name stays until an fsync of
// underprocess/ has made its input's removal durable: the next claim's,
// the reaper's timer, or Flush. A crash before that is recovered like any
// leftover temp name.
func TestCommitDefersTempRemoval(t *testing.T) {
	f, _ := OpenFolder(t.TempDir())
	f.reap = &reaper{}
	in := filepath.Join(f.Underprocess, "a")
	put(t, in, "a")
	if _, err := f.Commit(in, "a", func(w io.Writer) error { _, err := io.WriteString(w, "A"); return err }); err != nil {
		t.Fatal(err)
	}
	got, _ := readNames(f.Processed)
	if len(got) != 2 || !IsTemp(got[0]) || got[1] != "a" {
		t.Fatalf("processed/ = %q, want the result and its temp name", got)
	}
	// A crash now: recovery removes the temp name and keeps the result.
	g := f
	g.reap = nil
	if rec, err := g.Recover(); err != nil || len(rec.Removed) != 1 || len(rec.Completed)+len(rec.Requeued) != 0 {
		t.Fatalf("recover: %+v, %v", rec, err)
	}
	if got := names(t, f.Processed); got != "a" {
		t.Errorf("after recovery, processed/ = %s", got)
	}

	// The next claim's fsync of underprocess/ removes held temp names.
	in = filepath.Join(f.Underprocess, "b")
	put(t, in, "b")
	if _, err := f.Commit(in, "b", func(w io.Writer) error { _, err := io.WriteString(w, "B"); return err }); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(f.Unprocessed, "c"), "c")
	if _, err := f.Claim(filepath.Join(f.Unprocessed, "c")); err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.Processed); got != "a,b" {
		t.Errorf("after the next claim, processed/ = %s", got)
	}

	// Without another claim, the timer does it.
	in = filepath.Join(f.Underprocess, "c")
	if _, err := f.Commit(in, "c", func(w io.Writer) error { _, err := io.WriteString(w, "C"); return err }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for names(t, f.Processed) != "a,b,c" {
		if time.Now().After(deadline) {
			t.Fatalf("temp name not removed: processed/ = %s", names(t, f.Processed))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := names(t, f.Underprocess); got != "" {
		t.Errorf("underprocess/ = %s", got)
	}
}

// A claim never replaces a file in underprocess/: it takes a free variant
// of the name, with renameat2 and with the lookup-first fallback.
func TestClaimTakesFreeName(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%t", fallback), func(t *testing.T) {
			if fallback {
				old := noReplaceUnsupported.Load()
				noReplaceUnsupported.Store(true)
				t.Cleanup(func() { noReplaceUnsupported.Store(old) })
			}
			f, err := OpenFolder(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			put(t, filepath.Join(f.Underprocess, "a.txt"), "already claimed")
			put(t, filepath.Join(f.Unprocessed, "a.txt"), "new")
			claimed, err := f.Claim(filepath.Join(f.Unprocessed, "a.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(f.Underprocess, "a-1.txt"); claimed != want {
				t.Errorf("claimed as %s, want %s", claimed, want)
			}
			for path, want := range map[string]string{filepath.Join(f.Underprocess, "a.txt"): "already claimed", claimed: "new"} {
				if got, _ := os.ReadFile(path); string(got) != want {
					t.Errorf("%s = %q, want %q", path, got, want)
				}
			}
			if _, err := f.Claim(filepath.Join(f.Unprocessed, "a.txt")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("second claim of the same file: %v, want fs.ErrNotExist", err)
			}
			if err := renameNoReplace(claimed, filepath.Join(f.Underprocess, "a.txt")); !errors.Is(err, fs.ErrExist) {
				t.Errorf("renameNoReplace onto an existing name: %v, want fs.ErrExist", err)
			}
		})
	}
}

// A symbolic link put in a claimed file's place is not followed, and the
// service does not retry it.
func TestOpenInputRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	put(t, secret, "not for plugins")
	link := filepath.Join(dir, "claimed.txt")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	f, err := openInput(link)
	if err == nil {
		f.Close()
		t.Fatal("openInput followed a symbolic link")
	}
	if Retryable(err) {
		t.Errorf("Retryable(%v) = true, want false", err)
	}
	put(t, filepath.Join(dir, "plain.txt"), "data")
	f, err = openInput(filepath.Join(dir, "plain.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if data, _ := io.ReadAll(f); string(data) != "data" {
		t.Errorf("read %q", data)
	}
}
