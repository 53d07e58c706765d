package folder

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Recovered lists what Recover did, for the log.
type Recovered struct {
	Requeued  []string // inputs moved back to unprocessed/
	Completed []string // inputs whose result was already in processed/
	Failed    []string // inputs already in failed/ whose move had not finished
	Removed   []string // temporary files removed
	Busy      []string // claims another live process holds (host --input), left alone
}

// Any reports whether Recover found anything to do.
func (r Recovered) Any() bool {
	return len(r.Requeued)+len(r.Completed)+len(r.Failed)+len(r.Removed) > 0
}

// entry is a claimed file found by Recover.
type entry struct {
	name string
	st   unix.Stat_t
}

// Recover puts a folder back in order after a host stopped without
// finishing (a crash, kill -9, power loss). Run it before processing,
// with the folder locked. A claimed file that another live process holds
// locked (host --input) is left alone, with its temp files. See
// docs/FOLDERS.md for the cases.
func (f *Folder) Recover(version string) (Recovered, error) {
	var rec Recovered
	d, err := f.current()
	if err != nil {
		return rec, err
	}
	claimed, err := entries(d.underprocess.fd, f.Path(Underprocess))
	if err != nil {
		return rec, err
	}
	byID := map[string]*entry{}
	busy := map[string]bool{} // ids of claims held by a live process
	var mine []*entry
	for _, e := range claimed {
		if IsTemp(e.name) { // a partial copy from an older host
			if err := unlink(d.underprocess.fd, e.name); err != nil {
				return rec, err
			}
			rec.Removed = append(rec.Removed, filepath.Join(f.Dir, Underprocess, e.name))
			continue
		}
		id := idOfStat(e.name, &e.st)
		if e.st.Mode&unix.S_IFMT == unix.S_IFREG && heldElsewhere(d.underprocess.fd, e.name) {
			busy[id] = true
			rec.Busy = append(rec.Busy, e.name)
			continue
		}
		byID[id] = e
		mine = append(mine, e)
	}
	done := map[string]bool{}

	// A temp result also linked under its real name is a committed result:
	// its input is done. Any other is partial.
	temps, err := entries(d.processed.fd, f.Path(Processed))
	if err != nil {
		return rec, err
	}
	for _, t := range temps {
		if !IsTemp(t.name) {
			continue
		}
		id := tempID(t.name)
		if busy[id] || heldElsewhere(d.processed.fd, t.name) {
			continue
		}
		if t.st.Nlink >= 2 {
			if in, ok := byID[id]; ok && !done[in.name] {
				c := &Claim{f: f, d: d, Name: in.name, Orig: in.name, Info: nil}
				if err := c.retireRecovered(&in.st); err != nil && !errors.Is(err, unix.ENOENT) {
					return rec, err
				}
				done[in.name] = true
				rec.Completed = append(rec.Completed, in.name)
			}
		}
		if err := unlink(d.processed.fd, t.name); err != nil {
			return rec, err
		}
		rec.Removed = append(rec.Removed, filepath.Join(f.Dir, Processed, t.name))
	}
	if d.archive.fd >= 0 {
		if err := removeTemps(f, d.archive.fd, f.Path(Archive), busy, &rec); err != nil {
			return rec, err
		}
	}

	// failed/: reports being written are kept for the claims they belong
	// to; other temp files are removed.
	failed, err := entries(d.failed.fd, f.Path(Failed))
	if err != nil {
		return rec, err
	}
	reportTemp := map[string]string{} // claim id -> temp report
	byInode := map[[2]uint64]string{}
	for _, e := range failed {
		if IsTemp(e.name) {
			id := tempID(e.name)
			if busy[id] || heldElsewhere(d.failed.fd, e.name) {
				continue
			}
			if strings.HasPrefix(strings.TrimPrefix(e.name, tempPrefix+id), "-r-") {
				if _, ok := byID[id]; ok {
					reportTemp[id] = e.name
					continue
				}
			}
			if err := unlink(d.failed.fd, e.name); err != nil {
				return rec, err
			}
			rec.Removed = append(rec.Removed, filepath.Join(f.Dir, Failed, e.name))
			continue
		}
		if e.st.Mode&unix.S_IFMT == unix.S_IFREG {
			byInode[[2]uint64{uint64(e.st.Dev), uint64(e.st.Ino)}] = e.name
		}
	}

	for _, e := range mine {
		if done[e.name] {
			continue
		}
		id := idOfStat(e.name, &e.st)
		if e.st.Nlink >= 2 {
			if dst, ok := byInode[[2]uint64{uint64(e.st.Dev), uint64(e.st.Ino)}]; ok {
				if err := f.finishFail(d, e, dst, reportTemp[id], version); err != nil {
					return rec, err
				}
				delete(reportTemp, id)
				rec.Failed = append(rec.Failed, e.name)
				continue
			}
		}
		if _, _, err := f.place(d.underprocess.fd, e.name, d.unprocessed.fd, func(i int) string { return Variant(e.name, i) }, false, nil); err != nil {
			return rec, fmt.Errorf("requeue %s: %w", filepath.Join(f.Dir, Underprocess, e.name), err)
		}
		rec.Requeued = append(rec.Requeued, e.name)
	}
	for _, tmp := range reportTemp { // reports of files that never reached failed/
		if err := unlink(d.failed.fd, tmp); err != nil {
			return rec, err
		}
		rec.Removed = append(rec.Removed, filepath.Join(f.Dir, Failed, tmp))
	}
	if err := removeTemps(f, d.unprocessed.fd, f.Path(Unprocessed), busy, &rec); err != nil {
		return rec, err
	}
	for _, h := range []*handle{&d.unprocessed, &d.underprocess, &d.processed, &d.failed} {
		if err := f.syncDir(d, h); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// retireRecovered retires a claimed input found by Recover whose result
// is committed.
func (c *Claim) retireRecovered(st *unix.Stat_t) error {
	f, d := c.f, c.d
	if f.opts.Archive && d.archive.fd >= 0 {
		_, _, err := f.place(d.underprocess.fd, c.Name, d.archive.fd, func(i int) string { return Variant(c.Name, i) }, false, nil)
		return err
	}
	return unix.Unlinkat(d.underprocess.fd, c.Name, 0)
}

// finishFail completes a move to failed/ cut short: the report may be
// missing (its temp file may hold it), the claimed link is still there.
func (f *Folder) finishFail(d *dirs, e *entry, dst, tmpReport, version string) error {
	if !exists(d.failed.fd, ReportName(dst)) {
		linked := false
		if tmpReport != "" {
			if err := f.linkReport(d, tmpReport, dst); err == nil {
				linked = true
			}
		}
		if !linked {
			now := time.Now().UTC()
			err := f.writeReport(d, dst, Report{
				File:     e.name,
				Error:    "the host stopped while moving this file to failed/; the reason was lost",
				Attempts: 1,
				Started:  now,
				Failed:   now,
				Host:     version,
			}, uint32(e.st.Mode&0o777))
			if err != nil {
				return err
			}
		}
	}
	if tmpReport != "" {
		if err := unlink(d.failed.fd, tmpReport); err != nil {
			return err
		}
	}
	return unlink(d.underprocess.fd, e.name)
}

// heldElsewhere reports whether another process holds a lock on the file
// (a claim of host --input in progress).
func heldElsewhere(dir int, name string) bool {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	return errors.Is(err, unix.EWOULDBLOCK)
}

// tempID returns the claim id in a temp name, tempPrefix+ID+"-"...
func tempID(name string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(name, tempPrefix), "-")
	return id
}

func idOfStat(name string, st *unix.Stat_t) string {
	return idOf(name, statInfo{st})
}

// entries lists a directory's entries (not subfolders) with their lstat.
func entries(dir int, p string) ([]*entry, error) {
	file, err := openDirFile(dir, p)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	names, err := file.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var out []*entry
	for _, name := range names {
		if name == ".gitkeep" {
			continue
		}
		e := &entry{name: name}
		if err := unix.Fstatat(dir, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue
		}
		if e.st.Mode&unix.S_IFMT == unix.S_IFDIR {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func unlink(dir int, name string) error {
	if err := unix.Unlinkat(dir, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

func removeTemps(f *Folder, dir int, p string, busy map[string]bool, rec *Recovered) error {
	es, err := entries(dir, p)
	if err != nil {
		return err
	}
	for _, e := range es {
		if !IsTemp(e.name) || busy[tempID(e.name)] || heldElsewhere(dir, e.name) {
			continue
		}
		if err := unlink(dir, e.name); err != nil {
			return err
		}
		if rec != nil {
			rec.Removed = append(rec.Removed, filepath.Join(p, e.name))
		}
	}
	return nil
}

// statInfo adapts a unix.Stat_t to what idOf reads.
type statInfo struct{ st *unix.Stat_t }

func (s statInfo) Name() string       { return "" }
func (s statInfo) Size() int64        { return s.st.Size }
func (s statInfo) Mode() fs.FileMode  { return 0 }
func (s statInfo) ModTime() time.Time { return time.Time{} }
func (s statInfo) IsDir() bool        { return false }
func (s statInfo) Sys() any           { return &syscallStat{Ino: s.st.Ino, Dev: s.st.Dev} }
