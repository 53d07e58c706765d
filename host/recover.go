package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Recovered lists what Recover did, for the log.
type Recovered struct {
	Requeued  []string // inputs moved back to unprocessed/
	Completed []string // inputs whose result was already in processed/
	Failed    []string // inputs already in failed/ whose move had not finished
	Removed   []string // temporary files removed
}

// Recover puts a folder back in order after the host stopped without
// finishing (a crash, kill -9, power loss). Run it before processing, with
// the folder locked. See docs/FOLDERS.md for the cases.
func (f Folder) Recover() (Recovered, error) {
	var rec Recovered
	claimed, err := readNames(f.Underprocess)
	if err != nil {
		return rec, err
	}
	byID := map[string]string{}
	for _, name := range claimed {
		if fi, err := os.Lstat(filepath.Join(f.Underprocess, name)); err == nil {
			byID[idOf(name, fi)] = name
		}
	}
	done := map[string]bool{}

	// A temporary output that is also linked under its real name is a
	// committed result: its input is done. Any other is partial.
	processed, err := readNames(f.Processed)
	if err != nil {
		return rec, err
	}
	for _, name := range processed {
		if !IsTemp(name) {
			continue
		}
		path := filepath.Join(f.Processed, name)
		if links(path) >= 2 {
			id, _, _ := strings.Cut(strings.TrimPrefix(name, tempPrefix), "-")
			if in, ok := byID[id]; ok && !done[in] {
				if err := f.retire(filepath.Join(f.Underprocess, in)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return rec, err
				}
				done[in] = true
				rec.Completed = append(rec.Completed, in)
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rec, err
		}
		rec.Removed = append(rec.Removed, path)
	}
	if f.Archive != "" {
		if err := removeTemps(f.Archive, &rec); err != nil {
			return rec, err
		}
	}
	if err := removeTemps(f.Failed, &rec); err != nil {
		return rec, err
	}
	failed, err := readNames(f.Failed)
	if err != nil {
		return rec, err
	}

	for _, name := range claimed {
		if done[name] {
			continue
		}
		path := filepath.Join(f.Underprocess, name)
		if IsTemp(name) { // a partial cross-filesystem claim
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rec, err
			}
			rec.Removed = append(rec.Removed, path)
			continue
		}
		if links(path) >= 2 {
			if dst := sameFileIn(f.Failed, failed, path); dst != "" {
				if err := f.finishFail(path, dst); err != nil {
					return rec, err
				}
				rec.Failed = append(rec.Failed, name)
				continue
			}
		}
		if _, err := f.moveNoClobber(path, f.Unprocessed, name); err != nil {
			return rec, fmt.Errorf("requeue %s: %w", path, err)
		}
		rec.Requeued = append(rec.Requeued, name)
	}
	return rec, nil
}

// finishFail completes a move to failed/ cut short: the report may be
// missing, the claimed link is still there.
func (f Folder) finishFail(claimed, dst string) error {
	if _, err := os.Stat(dst + ".error.json"); errors.Is(err, fs.ErrNotExist) {
		now := time.Now().UTC()
		err := f.writeReport(dst, ErrorReport{
			File:     filepath.Base(claimed),
			Error:    "the host stopped while moving this file to failed/; the reason was lost",
			Attempts: 1,
			Started:  now,
			Failed:   now,
			Host:     VersionString(),
		})
		if err != nil {
			return err
		}
	}
	if err := os.Remove(claimed); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f.syncDir(f.Underprocess)
	return nil
}

func removeTemps(dir string, rec *Recovered) error {
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		if IsTemp(name) {
			path := filepath.Join(dir, name)
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			rec.Removed = append(rec.Removed, path)
		}
	}
	return nil
}

func sameFileIn(dir string, names []string, path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return ""
	}
	for _, name := range names {
		if IsTemp(name) || strings.HasSuffix(name, ".error.json") {
			continue
		}
		other := filepath.Join(dir, name)
		if oi, err := os.Lstat(other); err == nil && os.SameFile(fi, oi) {
			return other
		}
	}
	return ""
}

func links(path string) uint64 {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

func readNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Name() == ".gitkeep" || e.IsDir() {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// ErrLocked is returned by Lock when another host holds the folder.
var ErrLocked = errors.New("host: watch folder in use by another host")

// Lock takes the folder's lock file, DIR/.host.lock, so two hosts never
// recover or process the same folder. The lock is released by unlock or
// when the process ends, however it ends.
func (f Folder) Lock() (unlock func(), err error) {
	path := filepath.Join(f.Dir, ".host.lock")
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		file.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (pid %s)", ErrLocked, f.Dir, strings.TrimSpace(string(pid)))
		}
		return nil, err
	}
	_ = file.Truncate(0)
	_, _ = file.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(file.Fd()), syscall.LOCK_UN)
		file.Close()
	}, nil
}
