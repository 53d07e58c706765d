package folder

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Claim is a file taken for processing: moved into underprocess/ (or, for
// a file outside the folder, left where it is), open, and locked so that
// no other host's recovery touches it while this one works on it.
type Claim struct {
	f    *Folder
	d    *dirs
	file *os.File
	// Name is the file's name in underprocess/: the user's name, or a
	// free variant of it.
	Name string
	// Orig is the name the user gave the file.
	Orig string
	// Info is the file as claimed.
	Info fs.FileInfo
	id   string
	// external: a file outside the folder, read in place and left there.
	external bool
	path     string // of an external file
	// err is why the claimed file cannot be read (permission): every
	// attempt fails with it.
	err      error
	released bool // the folder's hold on its handles is given back
}

// Err returns why the claimed file cannot be read, or nil.
func (c *Claim) Err() error { return c.err }

// ErrNotRegular refuses a claim of anything but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrSameFS is returned when a claim would cross filesystems.
var ErrSameFS = errors.New("unprocessed/ and underprocess/ must be on one filesystem")

// Claim takes unprocessed/name: it opens the file without following a
// symbolic link and without blocking on a FIFO, checks it is a regular
// file, locks it, and only then renames it into underprocess/ under a
// free name, atomically. If the file is gone, the error wraps
// fs.ErrNotExist; a non-regular file is refused (ErrNotRegular) and left.
func (f *Folder) Claim(name string) (c *Claim, err error) {
	d, err := f.hold()
	if err != nil {
		return nil, err
	}
	defer func() {
		if c == nil {
			f.unhold()
		}
	}()
	file, fi, err := openLocked(d.unprocessed.fd, name, filepath.Join(f.Dir, Unprocessed, name), f.fileLocks())
	var openErr error
	if errors.Is(err, fs.ErrPermission) {
		// Unreadable by the host: claim it all the same, so that it
		// fails with the reason instead of waiting in unprocessed/ forever.
		if fi, err = os.Lstat(filepath.Join(f.Dir, Unprocessed, name)); err == nil && !fi.Mode().IsRegular() {
			err = &fs.PathError{Op: "open", Path: filepath.Join(f.Dir, Unprocessed, name), Err: ErrNotRegular}
		}
		openErr = &fs.PathError{Op: "open", Path: filepath.Join(f.Dir, Unprocessed, name), Err: fs.ErrPermission}
	}
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		dst := Variant(name, i)
		err := f.renameNoReplace(d.unprocessed.fd, name, d.underprocess.fd, dst)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			if file != nil {
				file.Close()
			}
			if errors.Is(err, unix.EXDEV) {
				err = ErrSameFS
			}
			return nil, &fs.PathError{Op: "claim", Path: filepath.Join(f.Dir, Unprocessed, name), Err: err}
		}
		claim := &Claim{f: f, d: d, file: file, Name: dst, Orig: name, Info: fi, id: idOf(dst, fi), err: openErr}
		if err := f.syncDir(d, &d.underprocess); err != nil {
			// The claim may not be durable: give the file back rather
			// than process it on an uncertain footing.
			claim.released = true // the deferred unhold gives the hold back
			_, _ = claim.Requeue()
			return nil, err
		}
		return claim, nil
	}
}

// ClaimExternal takes a file that is not in the folder (host --input of
// a file elsewhere): it is read where it is and never moved, removed or
// copied into failed/. Its result goes to processed/.
func (f *Folder) ClaimExternal(path string) (*Claim, error) {
	d, err := f.hold()
	if err != nil {
		return nil, err
	}
	file, fi, err := openLocked(unix.AT_FDCWD, path, path, f.fileLocks())
	if err != nil {
		f.unhold()
		return nil, err
	}
	name := filepath.Base(path)
	return &Claim{f: f, d: d, file: file, Name: name, Orig: name, Info: fi, id: idOf(name, fi), external: true, path: path}, nil
}

// Inside reports whether path names a file directly in this folder's
// unprocessed/, whatever way the path is spelt.
func (f *Folder) Inside(path string) bool {
	d, err := f.current()
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if unix.Stat(filepath.Dir(path), &st) != nil {
		return false
	}
	return d.unprocessed.same(&st)
}

// openLocked opens a file for reading so that nothing can block or
// redirect the open: no following of a final symbolic link, no waiting
// on a FIFO or device (O_NONBLOCK). It then refuses what is not a regular
// file and, with lock, takes a shared lock on it, which Recover honours.
func openLocked(dir int, name, path string, lock bool) (*os.File, fs.FileInfo, error) {
	file, fi, err := openRegular(dir, name, path)
	if err != nil {
		return nil, nil, err
	}
	if !lock {
		return file, fi, nil
	}
	if err := unix.Flock(int(file.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil && !errors.Is(err, unix.ENOLCK) && !errors.Is(err, unix.ENOTSUP) {
		file.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, &fs.PathError{Op: "claim", Path: path, Err: errors.New("locked by another process")}
		}
		return nil, nil, &fs.PathError{Op: "lock", Path: path, Err: err}
	}
	return file, fi, nil
}

// TypeName names the type of a file that is not regular, in the words of
// logs, error reports and the API's skipped list (docs/API.md): directory,
// symlink, named pipe (FIFO), socket, device, or not a regular file. It is
// "" for a regular file.
func TypeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "not a regular file"
}

// File is the claimed file, open for reading from its start.
func (c *Claim) File() *os.File { return c.file }

// Rewind positions the claimed file at its start, for another attempt.

// Path is where the claimed file is now.
func (c *Claim) Path() string {
	if c.external {
		return c.path
	}
	return filepath.Join(c.f.Dir, Underprocess, c.Name)
}

// External reports a file read in place (ClaimExternal).
func (c *Claim) External() bool { return c.external }

// ErrChanged fails an attempt whose input changed while it was read.
var ErrChanged = errors.New("the file changed while it was processed")

// Changed returns an error wrapping ErrChanged if the claimed file's size
// or modification time differ from the claim's: it was written to, or
// truncated, under the host, and a result would not match any content it
// ever had. Retrying reads it again.
func (c *Claim) Changed() error {
	if c.file == nil {
		return c.err
	}
	fi, err := c.file.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != c.Info.Size() || !fi.ModTime().Equal(c.Info.ModTime()) {
		err := fmt.Errorf("%w (size %d -> %d bytes, modified %s -> %s)", ErrChanged,
			c.Info.Size(), fi.Size(), c.Info.ModTime().Format(time.RFC3339Nano), fi.ModTime().Format(time.RFC3339Nano))
		c.Info = fi // the next attempt reads the file as it is now
		return err
	}
	return nil
}

// Release closes the claimed file without moving it: it stays in
// underprocess/ for the next start's recovery. The protocol's end points
// (Commit, Fail, Requeue) release it themselves.
func (c *Claim) Release() {
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
	if !c.released {
		c.released = true
		c.f.unhold()
	}
}

// stillOurs reports whether underprocess/c.Name is still the claimed file:
// the host removes only what it claimed.
func (c *Claim) stillOurs() bool {
	var st unix.Stat_t
	if err := unix.Fstatat(c.d.underprocess.fd, c.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	sys, ok := c.Info.Sys().(*syscallStat)
	return !ok || uint64(sys.Ino) == uint64(st.Ino) && uint64(sys.Dev) == uint64(st.Dev)
}

// idOf identifies a claimed file by a digest of its name and its inode
// number; it is put in the names of its temporary outputs so Recover can
// match them to it after a crash.
func idOf(name string, fi fs.FileInfo) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("%016x.%x", h.Sum64(), inode(fi))
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscallStat); ok {
		return uint64(st.Ino)
	}
	return 0
}
