package folder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Policy bounds what retention keeps in processed/ or failed/. Zero values
// mean no limit; the oldest files go first.
type Policy struct {
	MaxAge   time.Duration
	MaxFiles int
	MaxSize  int64
}

// Off reports whether the policy keeps everything.
func (p Policy) Off() bool { return p.MaxAge == 0 && p.MaxFiles == 0 && p.MaxSize == 0 }

// Sweep deletes the oldest results in processed/ (and its subfolders) and
// the oldest failed files with their reports in failed/, as of now, until
// each folder is within its policy. See sweep for what is never deleted.
func (f *Folder) Sweep(processed, failed Policy, now time.Time) (results, failures Swept, err error) {
	results, err1 := sweep(f.Path(Processed), processed, false, now)
	failures, err2 := sweep(f.Path(Failed), failed, true, now)
	return results, failures, errors.Join(err1, err2)
}

// Swept is what one sweep deleted.
type Swept struct {
	Files int   // files deleted (a failed file and its report count as one)
	Bytes int64 // their size
}

// retained is one unit of retention: a result, or a failed file with its
// NAME.error.json report, which go together.
type retained struct {
	paths []string // the file first, then its report
	size  int64
	time  time.Time // the newest mtime of its paths
}

// sweep applies p to the folder dir (a processed/ or failed/ folder, with
// its subfolders), as of now. It never touches a name starting with '.'
// (temporary files being written, the lock, .gitkeep), and in failed/
// (reports true) a failed file and its report are deleted together; a
// failed file whose report is not there yet is a failure in progress and
// is left alone. The age of a failed pair is its report's: the failed file
// keeps the mtime the input had.
func sweep(dir string, p Policy, reports bool, now time.Time) (Swept, error) {
	var done Swept
	if p.Off() {
		return done, nil
	}
	items := map[string]*retained{}
	var errs []error
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			errs = append(errs, err)
			return nil
		}
		if path == dir {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		key := path
		if reports {
			key = strings.TrimSuffix(path, ReportSuffix)
		}
		it := items[key]
		if it == nil {
			it = &retained{}
			items[key] = it
		}
		if key == path {
			it.paths = append([]string{path}, it.paths...)
		} else {
			it.paths = append(it.paths, path)
		}
		it.size += fi.Size()
		if reports && key == path {
			return nil // the pair's time is its report's
		}
		if fi.ModTime().After(it.time) {
			it.time = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	var list []*retained
	var total int64
	for key, it := range items {
		if reports && !hasReport(it, key) {
			continue // a failure in progress: its report comes next
		}
		list = append(list, it)
		total += it.size
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].time.Equal(list[j].time) {
			return list[i].time.Before(list[j].time)
		}
		return list[i].paths[0] < list[j].paths[0]
	})
	count := len(list)
	for _, it := range list {
		old := p.MaxAge > 0 && now.Sub(it.time) > p.MaxAge
		many := p.MaxFiles > 0 && count > p.MaxFiles
		big := p.MaxSize > 0 && total > p.MaxSize
		if !old && !many && !big {
			// Oldest first: once one is kept for age, count and size are
			// already within bounds, and all later ones are newer.
			break
		}
		if err := removeAll(it.paths); err != nil {
			errs = append(errs, err)
			continue
		}
		count--
		total -= it.size
		done.Files++
		done.Bytes += it.size
	}
	return done, errors.Join(errs...)
}

func hasReport(it *retained, key string) bool {
	for _, p := range it.paths {
		if p == key+ReportSuffix {
			return true
		}
	}
	return false
}

// removeAll deletes a unit's files in order: a failed file before its
// report, so an interruption leaves at most a report without its file,
// which the next sweep deletes, and never a file that looks in progress.
func removeAll(paths []string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
