package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Folder is a watched folder and its state subfolders (docs/FOLDERS.md).
type Folder struct {
	Dir          string
	Unprocessed  string
	Underprocess string
	Processed    string
	Failed       string
}

// OpenFolder returns the folder at dir, creating its subfolders.
func OpenFolder(dir string) (Folder, error) {
	f := Folder{
		Dir:          dir,
		Unprocessed:  filepath.Join(dir, "unprocessed"),
		Underprocess: filepath.Join(dir, "underprocess"),
		Processed:    filepath.Join(dir, "processed"),
		Failed:       filepath.Join(dir, "failed"),
	}
	for _, d := range []string{f.Unprocessed, f.Underprocess, f.Processed, f.Failed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Folder{}, err
		}
	}
	return f, nil
}

// tempPrefix starts the names of outputs being written. They are dotfiles,
// so watchers and users skip them, and carry no part of the real name, so
// a 255-byte name still fits.
const tempPrefix = ".host-tmp-"

// IsTemp reports whether name is one of the host's temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// Claim moves src into underprocess/ under a free name and returns the new
// path. The rename is atomic within a filesystem: of two claimers, one
// wins. Across filesystems the file is copied, synced, then removed.
func (f Folder) Claim(src string) (string, error) {
	return moveNoClobber(src, f.Underprocess, filepath.Base(src))
}

// Commit writes a claimed file's result into processed/ and only then
// removes the claimed input. write streams the result; if it fails, no
// output is left and the claimed input is untouched. The result is written
// to a temporary file, synced, and linked under a free name, so processed/
// never holds a partial file and never loses one it had.
func (f Folder) Commit(claimed string, write func(io.Writer) error) (string, error) {
	dst, err := writeAtomic(f.Processed, filepath.Base(claimed), write)
	if err != nil {
		return "", err
	}
	if err := os.Remove(claimed); err != nil {
		return dst, fmt.Errorf("remove claimed input: %w", err)
	}
	return dst, nil
}

// ErrorReport is written beside a failed file as NAME.error.json.
type ErrorReport struct {
	File     string    `json:"file"`               // the original name
	Pipeline string    `json:"pipeline,omitempty"` // "" when none matched
	Plugin   string    `json:"plugin,omitempty"`   // the plugin at fault, if one was
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Failed   time.Time `json:"failed"`
	Host     string    `json:"host_version"`
}

// Fail moves a claimed file into failed/ under a free name and writes the
// report beside it. It returns the failed file's path.
func (f Folder) Fail(claimed string, rep ErrorReport) (string, error) {
	dst, err := moveNoClobber(claimed, f.Failed, filepath.Base(claimed))
	if err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return dst, err
	}
	data = append(data, '\n')
	side := filepath.Base(dst) + ".error.json"
	_, err = writeAtomicAs(f.Failed, side, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, true)
	return dst, err
}

// writeAtomic writes a new file in dir under name or a free variant of it.
func writeAtomic(dir, name string, write func(io.Writer) error) (string, error) {
	return writeAtomicAs(dir, name, write, false)
}

func writeAtomicAs(dir, name string, write func(io.Writer) error, replace bool) (string, error) {
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName) // Leave no partial output.
		}
	}()
	if err := write(tmp); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	var dst string
	if replace {
		dst = filepath.Join(dir, name)
		err = os.Rename(tmpName, dst)
	} else {
		var linked bool
		dst, linked, err = linkNoClobber(tmpName, dir, name)
		if err == nil && linked {
			err = os.Remove(tmpName)
		}
	}
	if err != nil {
		return "", err
	}
	ok = true
	syncDir(dir)
	return dst, nil
}

// moveNoClobber renames src into dir as name or a free variant of it.
func moveNoClobber(src, dir, name string) (string, error) {
	dst, linked, err := linkNoClobber(src, dir, name)
	if err == nil {
		if !linked {
			syncDir(dir)
			return dst, nil
		}
		if err := os.Remove(src); err != nil {
			_ = os.Remove(dst)
			return "", err
		}
		syncDir(dir)
		return dst, nil
	}
	if !errors.Is(err, syscall.EXDEV) {
		return "", err
	}
	// Another filesystem: copy, sync, link, then remove the source.
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst, err = writeAtomic(dir, name, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return "", err
	}
	return dst, os.Remove(src)
}

// linkNoClobber hard-links src into dir under name, or name-1, name-2...
// (before the extension) when taken. link(2) fails on an existing name, so
// no file is ever overwritten, even by a concurrent writer. Where the
// filesystem has no hard links, it falls back to a checked rename, which
// moves src instead (linked is then false and src is gone).
func linkNoClobber(src, dir, name string) (dst string, linked bool, err error) {
	for i := 0; ; i++ {
		dst := filepath.Join(dir, Variant(name, i))
		err := os.Link(src, dst)
		if err == nil {
			return dst, true, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EMLINK) {
			dst, err := renameChecked(src, dir, name)
			return dst, false, err
		}
		return "", false, err
	}
}

func renameChecked(src, dir, name string) (string, error) {
	for i := 0; ; i++ {
		dst := filepath.Join(dir, Variant(name, i))
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		return dst, os.Rename(src, dst)
	}
}

// Variant returns name for i == 0, else name with "-i" before its
// extension ("report.csv" -> "report-2.csv"), shortened to fit 255 bytes.
func Variant(name string, i int) string {
	if i == 0 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name { // ".bashrc"
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	suffix := "-" + strconv.Itoa(i)
	if over := len(stem) + len(suffix) + len(ext) - 255; over > 0 {
		cut := len(stem) - over
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		stem = stem[:max(cut, 0)]
	}
	return stem + suffix + ext
}

// syncDir makes a rename in dir durable; errors are ignored because not
// every filesystem can sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
