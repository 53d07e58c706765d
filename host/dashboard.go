package host

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/filehost/host/internal/folder"
	"github.com/filehost/host/internal/tracker"
)

// What the dashboard (internal/web) reads and does through the Service:
// its folders, uploads, results, failed files and their reports, and the
// names the watchers ignore. Every file it opens or removes is named by a
// tracker record and opened without following a symbolic link.

// ErrTooLarge is returned by Deposit when the upload passes its limit.
var ErrTooLarge = folder.ErrTooLarge

// Folders returns the watched folders, in config order.
func (s *Service) Folders() []string {
	out := make([]string, len(s.folders))
	for i, wd := range s.folders {
		out[i] = wd.cfg.Dir
	}
	return out
}

// Deposit writes r into dir's unprocessed/ as name, or a free variant of
// it, whole or not at all (folder.Deposit). More than limit bytes fail
// with ErrTooLarge. It returns the path the file got.
func (s *Service) Deposit(dir, name string, r io.Reader, limit int64) (string, error) {
	wd := s.folderOf(dir)
	if wd == nil {
		return "", fmt.Errorf("upload: %w: %q is not a watched folder", fs.ErrNotExist, dir)
	}
	got, err := wd.folder.Deposit(name, r, limit)
	if err != nil {
		return "", err
	}
	return filepath.Join(wd.folder.Path(folder.Unprocessed), got), nil
}

// OpenResult opens a processed file's result for reading. It refuses a
// symbolic link put in the result's place or in processed/'s, and
// anything that is not a regular file.
func (s *Service) OpenResult(id uint64) (*os.File, fs.FileInfo, error) {
	f, wd, err := s.record(id, tracker.Processed)
	if err != nil {
		return nil, nil, err
	}
	name := wd.folder.ResultName(f.Output)
	if name == "" {
		return nil, nil, fmt.Errorf("file %d: %w: not in processed/", id, fs.ErrNotExist)
	}
	return wd.folder.OpenResult(name)
}

// OpenFailed opens a failed file's original, as OpenResult does.
func (s *Service) OpenFailed(id uint64) (*os.File, fs.FileInfo, error) {
	f, wd, err := s.record(id, tracker.Failed)
	if err != nil {
		return nil, nil, err
	}
	file, err := wd.folder.OpenFailed(filepath.Base(f.Output))
	if err != nil {
		s.forgetIfGone(id, err)
		return nil, nil, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, fi, nil
}

// Report returns a failed file's error report (JSON).
func (s *Service) Report(id uint64) ([]byte, error) {
	f, wd, err := s.record(id, tracker.Failed)
	if err != nil {
		return nil, err
	}
	data, err := wd.folder.ReadReport(filepath.Base(f.Output))
	if err != nil {
		s.forgetIfGone(id, err)
	}
	return data, err
}

// DeleteFailed removes a failed file and its report from failed/, and its
// record from the tracker.
func (s *Service) DeleteFailed(id uint64) error {
	f, wd, err := s.record(id, tracker.Failed)
	if err != nil {
		return err
	}
	if err := wd.folder.Delete(filepath.Base(f.Output)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.tracker.Forget(id)
	s.logger.Info("failed file deleted from the dashboard", "file", f.Output)
	return nil
}

// failedCheckEvery is how often the failed list is checked against the
// failed/ folders (forgetGoneFailed).
const failedCheckEvery = time.Minute

// keepFailedList runs forgetGoneFailed every s.failedCheckEvery until ctx
// is done.
func (s *Service) keepFailedList(ctx context.Context) {
	s.every(ctx, s.failedCheckEvery, s.forgetGoneFailed)
}

// forgetGoneFailed takes out of the tracker the failed records whose file
// is no longer in failed/: deleted by retention or by hand, or moved back
// to unprocessed/ by hand. The folders are the truth; without this the
// dashboard would list, count and offer to retry files that are not
// there until the next start. Of two records of one failed/ name (the
// first file went and a later failure took its name), the older goes. A
// folder that is not usable now is left alone: its files may come back.
func (s *Service) forgetGoneFailed() {
	files, _ := s.tracker.Files(tracker.Failed, 0, 0)
	newest := map[string]uint64{}
	for _, f := range files {
		if !f.Retried && f.Output != "" && f.ID > newest[f.Output] {
			newest[f.Output] = f.ID
		}
	}
	gone := 0
	for _, f := range files {
		if f.Retried || f.Output == "" {
			continue
		}
		if newest[f.Output] != f.ID || s.failedGone(f) {
			if s.tracker.Forget(f.ID) {
				gone++
			}
		}
	}
	if gone > 0 {
		s.logger.Info("failed files no longer in failed/ left the dashboard", "files", gone)
	}
}

// failedGone reports whether f's file is known to be gone from failed/.
func (s *Service) failedGone(f tracker.File) bool {
	wd := s.folderOf(f.Folder)
	if wd == nil || wd.health.Load() != nil || filepath.Dir(f.Output) != wd.folder.Path(folder.Failed) {
		return false
	}
	there, err := wd.folder.InFailed(filepath.Base(f.Output))
	return err == nil && !there
}

// forgetIfGone forgets record id after an action on it failed with err,
// if its file is gone from failed/, so that the dashboard drops its row.
func (s *Service) forgetIfGone(id uint64, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if f, ok := s.tracker.Get(id); ok && f.State == tracker.Failed && !f.Retried && s.failedGone(f) {
		s.tracker.Forget(id)
	}
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
			if folder.IsTemp(sk.Name) {
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

// dashboardStart is called by NewService once the folders are locked and
// recovered (which removed uploads an earlier run left half-written): it
// rebuilds the tracker's history from the folders.
func (s *Service) dashboardStart() { s.restoreHistory() }

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
	list, err := wd.folder.Failed()
	if err != nil {
		s.logger.Warn("cannot read failed/ to restore the dashboard", "folder", wd.cfg.Dir, "error", err)
		return nil
	}
	out := make([]tracker.File, 0, len(list))
	for _, ff := range list {
		rec := tracker.File{
			Folder: wd.cfg.Dir, Name: ff.Name, State: tracker.Failed, Output: filepath.Join(wd.folder.Path(folder.Failed), ff.Name),
			Size: ff.Size, Finished: ff.ModTime,
		}
		switch {
		case errors.Is(ff.ReportErr, fs.ErrNotExist):
			rec.Error = "no error report beside it"
		case ff.ReportErr != nil:
			rec.Error = "unreadable error report: " + ff.ReportErr.Error()
		}
		if rep := ff.Report; rep != nil {
			if rep.File != "" {
				rec.Name = rep.File
			}
			rec.Pipeline, rec.Plugin, rec.Error, rec.Attempts = rep.Pipeline, rep.Plugin, rep.Error, rep.Attempts
			rec.Started, rec.Queued = rep.Started, rep.Started
			if !rep.Failed.IsZero() {
				rec.Finished = rep.Failed
			}
		}
		out = append(out, rec)
	}
	return out
}

// processedRecords reads processed/: its newest n results by modification
// time.
func (s *Service) processedRecords(wd *watched, n int) []tracker.File {
	if n <= 0 {
		return nil
	}
	list, err := wd.folder.Processed(n)
	if err != nil {
		s.logger.Warn("cannot read processed/ to restore the dashboard", "folder", wd.cfg.Dir, "error", err)
	}
	cfg := s.gen.Load().h.cfg
	out := make([]tracker.File, 0, len(list))
	for _, r := range list {
		rec := tracker.File{
			Folder: wd.cfg.Dir, Name: path.Base(r.Name), State: tracker.Processed,
			Output: filepath.Join(wd.folder.Path(folder.Processed), filepath.FromSlash(r.Name)), BytesOut: r.Size, Finished: r.ModTime,
		}
		// A guess from the result's name: the folders keep no record of it.
		if pc := cfg.PipelineFor(wd.cfg, rec.Name, nil); pc != nil {
			rec.Pipeline = pc.Name
		}
		out = append(out, rec)
	}
	return out
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
