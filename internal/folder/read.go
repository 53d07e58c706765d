package folder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// openRegular opens name in dir for reading without following a symbolic
// link or blocking, and refuses anything but a regular file.
func openRegular(dir int, name, p string) (*os.File, fs.FileInfo, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%w: %s", ErrNotRegular, TypeName(fs.ModeSymlink))
		}
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	file := os.NewFile(uintptr(fd), p)
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: %s", ErrNotRegular, TypeName(fi.Mode()))}
	}
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, fi, nil
}

// readAt reads a regular file of at most limit bytes.
func readAt(dir int, name string, limit int64) ([]byte, error) {
	file, fi, err := openRegular(dir, name, name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return io.ReadAll(io.LimitReader(file, limit))
}

// openDirFile opens a second descriptor on the directory dir, for reading
// its entries.
func openDirFile(dir int, p string) (*os.File, error) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

func sortByTime[T any](s []T, key func(T) (time.Time, string)) {
	slices.SortFunc(s, func(a, b T) int {
		ta, na := key(a)
		tb, nb := key(b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return strings.Compare(na, nb)
	})
}

// Result is a file in processed/.
type Result struct {
	Name    string // relative to processed/, "a.jsonl" or "json/a.jsonl"
	Size    int64
	ModTime time.Time
}

// Processed lists the newest results in processed/ and its subfolders,
// at most limit of them, newest first. Symbolic links are not followed.
func (f *Folder) Processed(limit int) ([]Result, error) {
	var out []Result
	root := f.Path(Processed)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil
		}
		if e.IsDir() || !e.Type().IsRegular() || IsTemp(e.Name()) || e.Name() == ".gitkeep" {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, Result{Name: filepath.ToSlash(rel), Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	sortByTime(out, func(r Result) (time.Time, string) { return r.ModTime, r.Name })
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// OpenResult opens processed/name (name as Processed lists it) for
// reading. No element of the path may be a symbolic link, and the file
// must be a regular one: a link put in processed/ is never served.
func (f *Folder) OpenResult(name string) (*os.File, fs.FileInfo, error) {
	d, err := f.current()
	if err != nil {
		return nil, nil, err
	}
	sub, base, err := splitResultName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", os.ErrNotExist, err)
	}
	dir := d.processed.fd
	for _, part := range strings.Split(sub, "/") {
		if part == "" {
			continue
		}
		fd, err := unix.Openat(dir, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if dir != d.processed.fd {
			_ = unix.Close(dir)
		}
		if err != nil {
			return nil, nil, &fs.PathError{Op: "open", Path: path.Join(f.Dir, Processed, name), Err: err}
		}
		dir = fd
	}
	if dir != d.processed.fd {
		defer unix.Close(dir)
	}
	file, fi, err := openRegular(dir, base, path.Join(f.Dir, Processed, name))
	return file, fi, asMissing(err)
}

// asMissing makes a refusal to read something that is not a regular file
// (a link put in a result's place) look like no file at all to readers.
func asMissing(err error) error {
	if errors.Is(err, ErrNotRegular) {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}

// ResultName returns the name of a result path relative to processed/, or
// "" if p is not in this folder's processed/.
func (f *Folder) ResultName(p string) string {
	rel, err := filepath.Rel(f.Path(Processed), p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return ""
	}
	return filepath.ToSlash(rel)
}
