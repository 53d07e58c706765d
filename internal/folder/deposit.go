package folder

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrTooLarge is returned by Deposit for content over its limit.
var ErrTooLarge = errors.New("file too large")

// Deposit writes r into unprocessed/ as name, or a free variant of it,
// whole or not at all: under a temp name the watcher ignores, synced,
// then linked into place without replacing anything. limit > 0 caps the
// size (ErrTooLarge). It returns the name given.
func (f *Folder) Deposit(name string, r io.Reader, limit int64) (string, error) {
	d, err := f.current()
	if err != nil {
		return "", err
	}
	if err := plainName(name); err != nil {
		return "", fmt.Errorf("bad file name %q", name)
	}
	tmp, tf, err := f.writeTemp(d.unprocessed.fd, "up-", 0o644, func(w *os.File) error {
		src := r
		if limit > 0 {
			src = io.LimitReader(r, limit+1)
		}
		n, err := io.Copy(w, src)
		if err == nil && limit > 0 && n > limit {
			return ErrTooLarge
		}
		return err
	})
	if err != nil {
		return "", err
	}
	defer tf.Close()
	defer unix.Unlinkat(d.unprocessed.fd, tmp, 0)
	got, _, err := f.place(d.unprocessed.fd, tmp, d.unprocessed.fd, func(i int) string { return Variant(name, i) }, true, nil)
	if err != nil {
		return "", err
	}
	return got, f.syncDir(d, &d.unprocessed)
}

// RemoveStaleDeposits removes temp files of deposits cut short (a crash
// during an upload).
func (f *Folder) RemoveStaleDeposits() {
	d, err := f.current()
	if err != nil {
		return
	}
	_ = removeTemps(f, d.unprocessed.fd, filepath.Join(f.Dir, Unprocessed), nil, nil)
}

// WriteFile writes a file at path whole or not at all: under a temp name
// in its folder, synced, then renamed over path (host --input with
// --output names a file the user chose, which may be replaced).
func WriteFile(path string, perm os.FileMode, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	f := &Folder{sys: defaultSys}
	tmp, tf, err := f.writeTemp(fd, "out-", uint32(perm.Perm()), func(w *os.File) error { return write(w) })
	if err != nil {
		return err
	}
	defer tf.Close()
	if err := unix.Renameat(fd, tmp, fd, base); err != nil {
		_ = unix.Unlinkat(fd, tmp, 0)
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	return defaultSys.fsyncDir(fd)
}
