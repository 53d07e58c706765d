// Package folder is the folder protocol (docs/FOLDERS.md): claiming a file
// from unprocessed/ into underprocess/, committing its result to
// processed/ or failing it into failed/ with a report, depositing uploads,
// recovering after a crash, and the lock that keeps one host per folder.
// It is the only code that writes a watched folder.
//
// Every operation works relative to directory handles opened once, without
// following symbolic links, so a subfolder replaced by a link is never
// written through; Refresh notices a swapped, deleted or recreated folder
// and reopens what can safely be reopened.
package folder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The subfolders of a watched folder.
const (
	Unprocessed  = "unprocessed"
	Underprocess = "underprocess"
	Processed    = "processed"
	Failed       = "failed"
	Archive      = "archive"
)

// LockName is the lock file in a watched folder.
const LockName = ".host.lock"

// Options tune a Folder.
type Options struct {
	// Archive keeps inputs in archive/ after success instead of removing them.
	Archive bool
	// NoSync skips fsync of results and folders: still safe if the host
	// crashes, not if the machine loses power.
	NoSync bool
	// Group, in watch mode, lets concurrent fsyncs of one subfolder share
	// one fsync, and defers the removal of committed temp names to the
	// next fsync of underprocess/ (see Commit).
	Group bool
}

// Folder is an open watched folder.
type Folder struct {
	// Dir is the folder's path as given.
	Dir  string
	opts Options
	sys  *sysOps

	mu   sync.Mutex
	d    *dirs   // replaced by Refresh; a claim keeps the dirs it was made with
	old  []*dirs // replaced handles, closed by Close
	lock *os.File
	// claims counts the claims not yet released; with closing set, the
	// last one to go closes the handles, which claims in flight still use
	// (a host stopping while a file is stuck must not have its
	// descriptors reused under that file's remaining steps).
	claims  int
	closing bool

	// noReplace is set once this folder's filesystem refuses
	// RENAME_NOREPLACE; only this folder then uses the fallback.
	noReplace atomic.Bool
	// exclusive is set while this process holds the folder's lock (Lock):
	// no other process then recovers the folder, so its claimed and
	// temporary files need no flock of their own (see fileLocks).
	exclusive atomic.Bool
	// tmpfile holds, by directory descriptor, whether temp files there
	// are written unnamed, found at the first one (see unnamedTemps).
	tmpfile sync.Map
	reap    reaper
	syncs   sharedSyncs
}

// dirs are the handles of one incarnation of a folder's subfolders.
type dirs struct {
	root         handle
	unprocessed  handle
	underprocess handle
	processed    handle
	failed       handle
	archive      handle // fd -1 without Options.Archive
}

// handle is an open directory and the identity it had when opened.
type handle struct {
	name string // "" for the root
	fd   int
	dev  uint64
	ino  uint64
}

func (d *dirs) all() []*handle {
	hs := []*handle{&d.root, &d.unprocessed, &d.underprocess, &d.processed, &d.failed}
	if d.archive.fd >= 0 {
		hs = append(hs, &d.archive)
	}
	return hs
}

func (d *dirs) close() {
	for _, h := range d.all() {
		if h.fd >= 0 {
			_ = unix.Close(h.fd)
			h.fd = -1
		}
	}
}

// Open opens the watched folder at dir, creating it and its subfolders as
// needed. dir itself may be reached through a symbolic link; a subfolder
// that is one is refused.
func Open(dir string, opts Options) (*Folder, error) {
	f := &Folder{Dir: dir, opts: opts, sys: defaultSys}
	d, err := f.openDirs()
	if err != nil {
		return nil, err
	}
	f.d = d
	return f, nil
}

// Close releases the folder's lock at once, and its handles once the
// last claim in flight is released.
func (f *Folder) Close() error {
	f.Flush()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock != nil {
		f.exclusive.Store(false)
		f.lock.Close()
		f.lock = nil
	}
	f.closing = true
	if f.claims == 0 {
		f.closeDirs()
	}
	return nil
}

// closeDirs closes every handle. f.mu must be held.
func (f *Folder) closeDirs() {
	if f.d != nil {
		f.d.close()
		f.d = nil
	}
	for _, d := range f.old {
		d.close()
	}
	f.old = nil
}

// hold returns the folder's handles for a new claim, counted until the
// claim is released.
func (f *Folder) hold() (*dirs, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.d == nil || f.closing {
		return nil, fmt.Errorf("watch folder %s: closed", f.Dir)
	}
	f.claims++
	return f.d, nil
}

// unhold ends a claim's hold on the handles.
func (f *Folder) unhold() {
	f.mu.Lock()
	f.claims--
	last := f.claims == 0 && f.closing && f.d != nil
	f.mu.Unlock()
	if last {
		f.Flush()
		f.mu.Lock()
		f.closeDirs()
		f.mu.Unlock()
	}
}

// Path returns the path of a subfolder (Unprocessed...) of the folder.
func (f *Folder) Path(sub string) string { return filepath.Join(f.Dir, sub) }

// current returns the folder's handles.
func (f *Folder) current() (*dirs, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.d == nil {
		return nil, fmt.Errorf("watch folder %s: closed", f.Dir)
	}
	return f.d, nil
}

func (f *Folder) openDirs() (*dirs, error) {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("watch folder %s: %w", f.Dir, err)
	}
	d := &dirs{archive: handle{fd: -1}}
	for _, h := range d.all() {
		h.fd = -1
	}
	rootFD, err := unix.Open(f.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("watch folder %s: %w", f.Dir, err)
	}
	d.root = handle{fd: rootFD}
	if err := d.root.stat(); err != nil {
		d.close()
		return nil, fmt.Errorf("watch folder %s: %w", f.Dir, err)
	}
	subs := []struct {
		h    *handle
		name string
	}{{&d.unprocessed, Unprocessed}, {&d.underprocess, Underprocess}, {&d.processed, Processed}, {&d.failed, Failed}}
	if f.opts.Archive {
		subs = append(subs, struct {
			h    *handle
			name string
		}{&d.archive, Archive})
	}
	for _, s := range subs {
		h, err := openSub(rootFD, s.name)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("watch folder %s: %w", f.Dir, err)
		}
		*s.h = h
	}
	return d, nil
}

// ErrSymlink is returned when a subfolder is a symbolic link.
var ErrSymlink = errors.New("is a symbolic link; the host does not follow it (replace it by a real folder)")

// openSub opens (creating if missing) the subfolder name of the folder
// open as parent, without following a symbolic link.
func openSub(parent int, name string) (handle, error) {
	for try := 0; ; try++ {
		fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			h := handle{name: name, fd: fd}
			if err := h.stat(); err != nil {
				_ = unix.Close(fd)
				return handle{fd: -1}, fmt.Errorf("%s/: %w", name, err)
			}
			return h, nil
		}
		switch {
		case errors.Is(err, unix.ENOENT) && try < 3:
			if err := unix.Mkdirat(parent, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return handle{fd: -1}, fmt.Errorf("%s/: %w", name, err)
			}
			continue
		case errors.Is(err, unix.ELOOP):
			return handle{fd: -1}, fmt.Errorf("%s/ %w", name, ErrSymlink)
		case errors.Is(err, unix.ENOTDIR):
			var st unix.Stat_t
			if unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return handle{fd: -1}, fmt.Errorf("%s/ %w", name, ErrSymlink)
			}
			return handle{fd: -1}, fmt.Errorf("%s/: not a folder", name)
		}
		return handle{fd: -1}, fmt.Errorf("%s/: %w", name, err)
	}
}

func (h *handle) stat() error {
	var st unix.Stat_t
	if err := unix.Fstat(h.fd, &st); err != nil {
		return err
	}
	h.dev, h.ino = uint64(st.Dev), uint64(st.Ino)
	return nil
}

// same reports whether st is the directory h was opened on.
func (h *handle) same(st *unix.Stat_t) bool {
	return uint64(st.Dev) == h.dev && uint64(st.Ino) == h.ino && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// Refresh checks that the folder's path and subfolders are still the
// directories it has open. A subfolder deleted or replaced by another
// folder, or the whole folder deleted and recreated, is reopened (and
// created again); with Lock held, the lock is taken again in a recreated
// folder. It reports whether it reopened anything. It returns an error,
// and keeps the old handles, while it cannot (a subfolder is a symbolic
// link, another host holds the new lock).
func (f *Folder) Refresh() (changed bool, err error) {
	d, err := f.current()
	if err != nil {
		return false, err
	}
	if f.intact(d) {
		return false, nil
	}
	nd, err := f.openDirs()
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	locked := f.lock != nil
	f.mu.Unlock()
	var lock *os.File
	if locked && !(sameDir(&nd.root, &d.root)) {
		if lock, err = takeLock(nd.root.fd, f.Dir); err != nil {
			nd.close()
			return false, err
		}
	}
	f.mu.Lock()
	old := f.d
	f.d = nd
	if lock != nil {
		f.lock.Close()
		f.lock = lock
	}
	f.mu.Unlock()
	// Claims in flight keep using the old handles until they finish; the
	// kernel keeps a directory alive while it is open, so nothing breaks,
	// and the few descriptors are freed when the folder is closed.
	f.retired(old)
	return true, nil
}

func sameDir(a, b *handle) bool { return a.dev == b.dev && a.ino == b.ino }

// intact reports whether every path of the folder still leads to the
// directory open for it.
func (f *Folder) intact(d *dirs) bool {
	var st unix.Stat_t
	if unix.Stat(f.Dir, &st) != nil || !d.root.same(&st) {
		return false
	}
	for _, h := range d.all()[1:] {
		if unix.Fstatat(d.root.fd, h.name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || !h.same(&st) {
			return false
		}
	}
	return true
}

// retired keeps replaced handles until Close, since claims may use them.
func (f *Folder) retired(d *dirs) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.old = append(f.old, d)
}

// errno returns the syscall error number in err, or 0.
func errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
