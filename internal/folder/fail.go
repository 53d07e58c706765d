package folder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Report is a failed file's error report, failed/NAME.error.json.
type Report struct {
	File     string    `json:"file"`               // the original name
	Pipeline string    `json:"pipeline,omitempty"` // "" when none matched
	Plugin   string    `json:"plugin,omitempty"`   // the plugin at fault, if one was
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Failed   time.Time `json:"failed"`
	Host     string    `json:"host_version"`
}

// ReportName is the name of the report of failed/name.
func ReportName(name string) string { return name + ReportSuffix }

func (r Report) encode() []byte {
	data, _ := json.MarshalIndent(r, "", "  ")
	return append(data, '\n')
}

// Fail moves the claimed file into failed/ under a free name with its
// report beside it, and returns the failed file's path. The report is
// written first, so that a file never reaches failed/ without one:
//
//  1. the report is written to failed/.host-tmp-ID-r-RAND and fsynced;
//  2. the input is hard-linked as failed/NAME (or a variant), never
//     replacing a file, with NAME.error.json free too;
//  3. the report is linked as failed/NAME.error.json; the folder is fsynced;
//  4. the claimed link in underprocess/ and the report's temp name go.
//
// A crash between steps leaves the file in underprocess/ (and maybe in
// failed/ too), which Recover completes. A claim from ClaimExternal is not
// moved: Fail then writes nothing and returns "".
//
// On a transient error (Transient: no descriptors, no space...) the claim
// is kept, with nothing left in failed/, so that Fail can be called again;
// otherwise the claim is released.
func (c *Claim) Fail(rep Report) (out string, err error) {
	if c.external {
		c.Release()
		return "", nil
	}
	defer func() {
		if err == nil || !Transient(err) && !errors.Is(err, ErrFolderGone) {
			c.Release()
		}
	}()
	f, d := c.f, c.d
	if rep.File == "" {
		rep.File = c.Orig
	}
	data := rep.encode()
	tmp, tf, err := f.writeTemp(d.failed.fd, c.id+"-r-", uint32(c.Info.Mode().Perm()), func(w *os.File) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("write report: %w", gone(d.failed.fd, err))
	}
	defer tf.Close()
	defer unix.Unlinkat(d.failed.fd, tmp, 0)
	free := func(name string) bool { return !exists(d.failed.fd, ReportName(name)) }
	for i := 0; ; {
		name, moved, err := f.place(d.underprocess.fd, c.Name, d.failed.fd, func(j int) string { return failedName(c.Orig, i+j) }, true, free)
		if err != nil {
			return "", err
		}
		if err := f.linkReport(d, tmp, name); err != nil {
			if moved {
				// No hard links here: the file is in failed/ already and
				// cannot go back; its report is written by Recover.
				return filepath.Join(f.Dir, Failed, name), err
			}
			// Never leave a file in failed/ without its report: take the
			// link back; the claim stays in underprocess/.
			_ = unix.Unlinkat(d.failed.fd, name, 0)
			if errors.Is(err, unix.EEXIST) { // taken meanwhile: the next name
				i++
				continue
			}
			return "", fmt.Errorf("link report: %w", err)
		}
		out := filepath.Join(f.Dir, Failed, name)
		if err := f.syncDir(d, &d.failed); err != nil {
			return out, err
		}
		if !moved {
			if c.stillOurs() {
				if err := unix.Unlinkat(d.underprocess.fd, c.Name, 0); err != nil {
					return out, err
				}
			}
		}
		return out, f.syncDir(d, &d.underprocess)
	}
}

// linkReport links the report temp file as name's report.
func (f *Folder) linkReport(d *dirs, tmp, name string) error {
	err := f.sys.link(d.failed.fd, tmp, d.failed.fd, ReportName(name))
	if err != nil && noLinks(err) {
		err = f.renameNoReplace(d.failed.fd, tmp, d.failed.fd, ReportName(name))
	}
	return err
}

// writeReport writes a report for failed/name (recovery, when the reason
// was lost).
func (f *Folder) writeReport(d *dirs, name string, rep Report, perm uint32) error {
	data := rep.encode()
	tmp, tf, err := f.writeTemp(d.failed.fd, "r-", perm, func(w *os.File) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	defer tf.Close()
	defer unix.Unlinkat(d.failed.fd, tmp, 0)
	if err := f.linkReport(d, tmp, name); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return f.syncDir(d, &d.failed)
}

// FailedFile is a file in failed/ with its report.
type FailedFile struct {
	Name    string // in failed/
	Size    int64
	ModTime time.Time
	Report  *Report // nil if missing or unreadable
	// ReportErr says why Report is nil.
	ReportErr error
}

// Failed lists failed/: every failed file with its report, oldest first.
func (f *Folder) Failed() ([]FailedFile, error) {
	d, err := f.current()
	if err != nil {
		return nil, err
	}
	dir, err := openDirFile(d.failed.fd, filepath.Join(f.Dir, Failed))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var out []FailedFile
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || IsTemp(name) || name == ".gitkeep" || strings.HasSuffix(name, ReportSuffix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		ff := FailedFile{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}
		data, err := readAt(d.failed.fd, ReportName(name), 1<<20)
		if err == nil {
			var r Report
			if err = json.Unmarshal(data, &r); err == nil {
				ff.Report = &r
			}
		}
		ff.ReportErr = err
		out = append(out, ff)
	}
	sortByTime(out, func(x FailedFile) (time.Time, string) { return x.ModTime, x.Name })
	return out, nil
}

// OpenFailed opens failed/name, refusing anything but a regular file.
func (f *Folder) OpenFailed(name string) (*os.File, error) {
	d, err := f.current()
	if err != nil {
		return nil, err
	}
	if err := plainName(name); err != nil {
		return nil, err
	}
	file, _, err := openRegular(d.failed.fd, name, filepath.Join(f.Dir, Failed, name))
	return file, asMissing(err)
}

// ReadReport returns failed/name's report as written.
func (f *Folder) ReadReport(name string) ([]byte, error) {
	d, err := f.current()
	if err != nil {
		return nil, err
	}
	if err := plainName(name); err != nil {
		return nil, err
	}
	return readAt(d.failed.fd, ReportName(name), 1<<20)
}

// Retry moves failed/name back to unprocessed/ under its original name
// (from its report), or a free variant, and removes its report. It
// returns the new name.
func (f *Folder) Retry(name string) (string, error) {
	d, err := f.current()
	if err != nil {
		return "", err
	}
	if err := plainName(name); err != nil {
		return "", err
	}
	orig := name
	if data, err := readAt(d.failed.fd, ReportName(name), 1<<20); err == nil {
		var r Report
		if json.Unmarshal(data, &r) == nil && r.File != "" && plainName(r.File) == nil {
			orig = r.File
		}
	}
	if _, _, err := openRegular(d.failed.fd, name, filepath.Join(f.Dir, Failed, name)); err != nil {
		return "", err
	}
	got, _, err := f.place(d.failed.fd, name, d.unprocessed.fd, func(i int) string { return Variant(orig, i) }, false, nil)
	if err != nil {
		return "", err
	}
	if err := f.syncDir(d, &d.unprocessed); err != nil {
		return got, err
	}
	_ = unix.Unlinkat(d.failed.fd, ReportName(name), 0)
	return got, f.syncDir(d, &d.failed)
}

// InFailed reports whether anything named name is in failed/. An error
// means it cannot be told: the folder is closed, or stat failed otherwise.
func (f *Folder) InFailed(name string) (bool, error) {
	d, err := f.current()
	if err != nil {
		return false, err
	}
	if err := plainName(name); err != nil {
		return false, err
	}
	var st unix.Stat_t
	switch err := unix.Fstatat(d.failed.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	default:
		return false, &os.PathError{Op: "stat", Path: filepath.Join(f.Dir, Failed, name), Err: err}
	}
}

// Delete removes failed/name and its report.
func (f *Folder) Delete(name string) error {
	d, err := f.current()
	if err != nil {
		return err
	}
	if err := plainName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.failed.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: filepath.Join(f.Dir, Failed, name), Err: err}
	}
	if err := unix.Unlinkat(d.failed.fd, ReportName(name), 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return f.syncDir(d, &d.failed)
}

// plainName refuses a name that is not one entry of a folder.
func plainName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > maxName {
		return fmt.Errorf("%q: %w", name, os.ErrNotExist)
	}
	return nil
}
