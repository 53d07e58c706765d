package host

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RetentionConfig deletes old results from processed/ and old failures
// from failed/ so that a long-running host does not fill its disk. It is
// off unless a policy sets a limit.
type RetentionConfig struct {
	// Every is how often the folders are swept.
	Every     Duration        `toml:"every"`
	Processed RetentionPolicy `toml:"processed"`
	Failed    RetentionPolicy `toml:"failed"`
}

// RetentionPolicy bounds one folder. Zero values mean no limit; the
// oldest files go first.
type RetentionPolicy struct {
	MaxAge   Duration `toml:"max_age"`
	MaxFiles int      `toml:"max_files"`
	MaxSize  ByteSize `toml:"max_size"`
}

// Off reports whether the policy keeps everything.
func (p RetentionPolicy) Off() bool { return p.MaxAge == 0 && p.MaxFiles == 0 && p.MaxSize == 0 }

func (k *checker) retention() {
	r := k.c.Retention
	for _, p := range []struct {
		key string
		p   RetentionPolicy
	}{{"retention.processed", r.Processed}, {"retention.failed", r.Failed}} {
		if p.p.MaxAge < 0 {
			k.bad(p.key+".max_age", "must not be negative")
		}
		if p.p.MaxFiles < 0 {
			k.bad(p.key+".max_files", "must not be negative")
		}
		if p.p.MaxSize < 0 {
			k.bad(p.key+".max_size", "must not be negative")
		}
	}
	if r.Every <= 0 {
		k.bad("retention.every", "must be more than 0s")
	}
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

const reportSuffix = ".error.json"

// Sweep applies p to the folder dir (a processed/ or failed/ folder, with
// its subfolders), as of now. It never touches a name starting with '.'
// (temporary files being written, the lock, .gitkeep), and in failed/
// (reports true) a failed file and its report are deleted together; a
// failed file whose report is not there yet is a failure in progress and
// is left alone. The age of a failed pair is its report's: the failed file
// keeps the mtime the input had.
func Sweep(dir string, p RetentionPolicy, reports bool, now time.Time) (Swept, error) {
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
			key = strings.TrimSuffix(path, reportSuffix)
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
		old := p.MaxAge > 0 && now.Sub(it.time) > time.Duration(p.MaxAge)
		many := p.MaxFiles > 0 && count > p.MaxFiles
		big := p.MaxSize > 0 && total > int64(p.MaxSize)
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
		if p == key+reportSuffix {
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

// RunRetention sweeps the processed/ and failed/ folders of every watched
// folder at once and then every cfg.Retention.Every, until ctx is done.
// It returns at once if retention is off.
func RunRetention(ctx context.Context, cfg Config, logger *slog.Logger) {
	r := cfg.Retention
	if r.Processed.Off() && r.Failed.Off() {
		return
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(time.Duration(r.Every))
	defer tick.Stop()
	for {
		for _, w := range cfg.Watch {
			for _, f := range []struct {
				dir     string
				p       RetentionPolicy
				reports bool
			}{{filepath.Join(w.Dir, "processed"), r.Processed, false}, {filepath.Join(w.Dir, "failed"), r.Failed, true}} {
				s, err := Sweep(f.dir, f.p, f.reports, time.Now())
				if err != nil {
					logger.Warn("retention", "folder", f.dir, "error", err)
				}
				if s.Files > 0 {
					logger.Info("retention deleted old files", "folder", f.dir, "files", s.Files, "bytes", s.Bytes)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
