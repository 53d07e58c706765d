package host

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filehost/host/internal/tracker"
)

// What the dashboard (internal/web) reads and does through the Service:
// its folders, uploads, results, failed files and their reports, and the
// names the watchers ignore. Every file it opens or removes is named by a
// tracker record and opened without following a symbolic link.

// ErrTooLarge is returned by Deposit when the upload passes its limit.
var ErrTooLarge = errors.New("host: upload larger than the limit")

// maxReport bounds the error report Report reads.
const maxReport = 1 << 20

// reportSuffix ends the name of a failed file's report beside it.
const reportSuffix = ".error.json"

// Folders returns the watched folders, in config order.
func (s *Service) Folders() []string {
	out := make([]string, len(s.folders))
	for i, wd := range s.folders {
		out[i] = wd.cfg.Dir
	}
	return out
}

// Deposit writes r into folder's unprocessed/ as name, or a free variant
// of it, whole or not at all: it goes to a temporary dotfile (which the
// watcher skips), is synced, then linked under the name without replacing
// anything. More than limit bytes fail with ErrTooLarge. It returns the
// path the file got.
func (s *Service) Deposit(folder, name string, r io.Reader, limit int64) (string, error) {
	wd := s.folderOf(folder)
	if wd == nil {
		return "", fmt.Errorf("upload: %w: %q is not a watched folder", fs.ErrNotExist, folder)
	}
	f := wd.folder
	tmp, err := f.writeTemp(f.Unprocessed, tempPrefix, func(w io.Writer) error {
		n, err := io.Copy(w, io.LimitReader(r, limit+1))
		if err == nil && n > limit {
			err = fmt.Errorf("%s: %w of %d bytes", name, ErrTooLarge, limit)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp) // Linked under the real name, or given up.
	dst, _, err := linkNoClobber(tmp, f.Unprocessed, name)
	if err != nil {
		return "", err
	}
	f.syncDir(f.Unprocessed)
	return dst, nil
}

// OpenResult opens a processed file's result for reading. It refuses a
// symbolic link put in the result's place or in processed/'s, and
// anything that is not a regular file.
func (s *Service) OpenResult(id uint64) (*os.File, fs.FileInfo, error) {
	f, wd, err := s.record(id, tracker.Processed)
	if err != nil {
		return nil, nil, err
	}
	return openIn(wd.folder.Processed, f.Output)
}

// OpenFailed opens a failed file's original, as OpenResult does.
func (s *Service) OpenFailed(id uint64) (*os.File, fs.FileInfo, error) {
	f, wd, err := s.record(id, tracker.Failed)
	if err != nil {
		return nil, nil, err
	}
	return openIn(wd.folder.Failed, f.Output)
}

// Report returns a failed file's error report (JSON).
func (s *Service) Report(id uint64) ([]byte, error) {
	f, wd, err := s.record(id, tracker.Failed)
	if err != nil {
		return nil, err
	}
	in, _, err := openIn(wd.folder.Failed, f.Output+reportSuffix)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	return io.ReadAll(io.LimitReader(in, maxReport))
}

// DeleteFailed removes a failed file and its report from failed/, and its
// record from the tracker.
func (s *Service) DeleteFailed(id uint64) error {
	f, wd, err := s.record(id, tracker.Failed)
	if err != nil {
		return err
	}
	dir, err := openDir(wd.folder.Failed)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	name := filepath.Base(f.Output)
	if err := unix.Unlinkat(dir, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: f.Output, Err: err}
	}
	if err := unix.Unlinkat(dir, name+reportSuffix, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: f.Output + reportSuffix, Err: err}
	}
	wd.folder.syncDir(wd.folder.Failed)
	s.tracker.Forget(id)
	s.logger.Info("failed file deleted from the dashboard", "file", f.Output)
	return nil
}

// Ignored is a name in a watched folder's unprocessed/ that the watcher
// does not take, and why.
type Ignored struct {
	Folder string    `json:"folder"`
	Name   string    `json:"name"`
	Why    string    `json:"why"`
	Since  time.Time `json:"since"`
}

// Ignored lists what the watchers ignore in unprocessed/, folder by
// folder, leaving out the host's own temporary files.
func (s *Service) Ignored() []Ignored {
	var out []Ignored
	for _, wd := range s.folders {
		for _, sk := range wd.w.Skipped() {
			if IsTemp(sk.Name) {
				continue
			}
			out = append(out, Ignored{Folder: wd.cfg.Dir, Name: sk.Name, Why: sk.Why, Since: sk.Since})
		}
	}
	return out
}

// record returns a record in state and its folder, or an error wrapping
// fs.ErrNotExist.
func (s *Service) record(id uint64, state tracker.State) (tracker.File, *watched, error) {
	f, ok := s.tracker.Get(id)
	if !ok || f.State != state || f.Output == "" || (state == tracker.Failed && f.Retried) {
		return f, nil, fmt.Errorf("file %d: %w: not a %s file", id, fs.ErrNotExist, state)
	}
	wd := s.folderOf(f.Folder)
	if wd == nil {
		return f, nil, fmt.Errorf("file %d: %w: its folder is not watched", id, fs.ErrNotExist)
	}
	return f, wd, nil
}

// openDir opens dir itself, refusing a symbolic link in its place.
func openDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// openIn opens path, which must be directly in dir, for reading: neither
// dir nor the file may be a symbolic link, and the file must be regular.
// O_NONBLOCK keeps a FIFO put there from blocking the open.
func openIn(dir, path string) (*os.File, fs.FileInfo, error) {
	if filepath.Dir(path) != dir {
		return nil, nil, fmt.Errorf("%s: %w: not in %s", path, fs.ErrNotExist, dir)
	}
	dfd, err := openDir(dir)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, filepath.Base(path), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = fs.ErrNotExist // a symbolic link: as if there were no file
		}
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &os.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// dashboardStart is called by NewService once the folders are locked and
// recovered: it removes uploads an earlier run left half-written, and
// rebuilds the tracker's history from the folders.
func (s *Service) dashboardStart() {
	for _, wd := range s.folders {
		var rec Recovered
		if err := removeTemps(wd.folder.Unprocessed, &rec); err != nil {
			s.logger.Warn("cannot remove unfinished uploads", "folder", wd.cfg.Dir, "error", err)
		}
		if len(rec.Removed) > 0 {
			s.logger.Info("removed unfinished uploads", "folder", wd.cfg.Dir, "files", len(rec.Removed))
		}
	}
	s.restoreHistory()
}

// restoreHistory rebuilds the tracker's failed list and processed history
// from the folders at start: the folders are the truth, the tracker only
// remembers. Failed files come first, then the newest results, within
// run.history.
func (s *Service) restoreHistory() {
	var failed, processed []tracker.File
	for _, wd := range s.folders {
		failed = append(failed, s.failedRecords(wd)...)
	}
	room := s.cfg.Run.History - len(failed)
	for _, wd := range s.folders {
		processed = append(processed, s.processedRecords(wd, room)...)
	}
	if len(processed) > room {
		heap.Init((*newestFiles)(&processed)) // several folders: keep the newest overall
		for len(processed) > max(room, 0) {
			heap.Pop((*newestFiles)(&processed))
		}
	}
	s.tracker.Restore(append(failed, processed...))
	if n := len(failed) + len(processed); n > 0 {
		s.logger.Info("history restored from the folders", "failed", len(failed), "processed", len(processed))
	}
}

// failedRecords reads failed/: each file with its report.
func (s *Service) failedRecords(wd *watched) []tracker.File {
	entries, err := os.ReadDir(wd.folder.Failed)
	if err != nil {
		s.logger.Warn("cannot read failed/ to restore the dashboard", "folder", wd.cfg.Dir, "error", err)
		return nil
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	var out []tracker.File
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || isReport(name, names) {
			continue
		}
		path := filepath.Join(wd.folder.Failed, name)
		fi, err := e.Info()
		if err != nil {
			continue
		}
		rec := tracker.File{
			Folder: wd.cfg.Dir, Name: name, State: tracker.Failed, Output: path,
			Size: fi.Size(), Finished: fi.ModTime(), Error: "no error report beside it",
		}
		if data, err := os.ReadFile(path + reportSuffix); err == nil {
			applyReport(&rec, data)
		}
		out = append(out, rec)
	}
	return out
}

// isReport reports whether name in failed/ is the report of another file
// there (an input may itself end in .error.json).
func isReport(name string, names map[string]bool) bool {
	base, ok := strings.CutSuffix(name, reportSuffix)
	return ok && names[base]
}

// applyReport fills a failed record from its ErrorReport. A report that
// does not parse leaves the record as it is, saying so.
func applyReport(rec *tracker.File, data []byte) {
	var rep ErrorReport
	if err := json.Unmarshal(data, &rep); err != nil {
		rec.Error = "unreadable error report: " + err.Error()
		return
	}
	if rep.File != "" {
		rec.Name = rep.File
	}
	rec.Pipeline, rec.Plugin, rec.Error, rec.Attempts = rep.Pipeline, rep.Plugin, rep.Error, rep.Attempts
	rec.Started, rec.Queued = rep.Started, rep.Started
	if !rep.Failed.IsZero() {
		rec.Finished = rep.Failed
	}
}

// processedRecords reads processed/: its newest n results by modification
// time, however many there are.
func (s *Service) processedRecords(wd *watched, n int) []tracker.File {
	if n <= 0 {
		return nil
	}
	d, err := os.Open(wd.folder.Processed)
	if err != nil {
		s.logger.Warn("cannot read processed/ to restore the dashboard", "folder", wd.cfg.Dir, "error", err)
		return nil
	}
	defer d.Close()
	var keep newestFiles
	for {
		entries, err := d.ReadDir(1024)
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if len(keep) == n && !fi.ModTime().After(keep[0].Finished) {
				continue
			}
			rec := tracker.File{
				Folder: wd.cfg.Dir, Name: name, State: tracker.Processed,
				Output: filepath.Join(wd.folder.Processed, name), BytesOut: fi.Size(), Finished: fi.ModTime(),
			}
			if pc := s.cfg.PipelineFor(wd.cfg, name); pc != nil {
				rec.Pipeline = pc.Name
			}
			heap.Push(&keep, rec)
			if len(keep) > n {
				heap.Pop(&keep)
			}
		}
		if err != nil {
			break // io.EOF, or a folder that cannot be read further
		}
	}
	return keep
}

// newestFiles is a min-heap by finish time: its top is the oldest kept.
type newestFiles []tracker.File

func (h newestFiles) Len() int           { return len(h) }
func (h newestFiles) Less(i, j int) bool { return h[i].Finished.Before(h[j].Finished) }
func (h newestFiles) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newestFiles) Push(x any)        { *h = append(*h, x.(tracker.File)) }
func (h *newestFiles) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}
