package folder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by Lock when another host holds the folder.
var ErrLocked = errors.New("watch folder in use by another host")

// Lock takes the folder's lock file, DIR/.host.lock, so two watching
// hosts never recover or process the same folder. It is held until Close
// or the end of the process, however it ends; Refresh takes it again if
// the folder is deleted and recreated. (host --input does not take it:
// it locks each file it claims instead, which Recover honours.)
func (f *Folder) Lock() error {
	d, err := f.current()
	if err != nil {
		return err
	}
	lock, err := takeLock(d.root.fd, f.Dir)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.lock = lock
	f.exclusive.Store(true)
	f.mu.Unlock()
	return nil
}

// fileLocks reports whether claimed and temporary files are locked one by
// one. Their locks are for another process's Recover, which runs only
// under the folder's lock: while this process holds it (watch mode), no
// such Recover can run until this process is gone, and its locks with it,
// so the two flock calls per file would protect nothing. host --input,
// which does not take the folder's lock, locks every file.
func (f *Folder) fileLocks() bool { return !f.exclusive.Load() }

func takeLock(root int, dir string) (*os.File, error) {
	p := filepath.Join(dir, LockName)
	fd, err := unix.Openat(root, LockName, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	file := os.NewFile(uintptr(fd), p)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		buf := make([]byte, 32)
		n, _ := file.ReadAt(buf, 0)
		file.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (pid %s)", ErrLocked, dir, strings.TrimSpace(string(buf[:n])))
		}
		return nil, &os.PathError{Op: "lock", Path: p, Err: err}
	}
	_ = file.Truncate(0)
	_, _ = file.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return file, nil
}
