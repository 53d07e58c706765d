package folder

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames old in od to new in nd unless new exists, when
// it fails with unix.EEXIST. One renameat2 does both where the filesystem
// supports it; on this folder's filesystem without it, new is looked up
// first, which is atomic only against this host.
func (f *Folder) renameNoReplace(od int, old string, nd int, new string) error {
	if !f.noReplace.Load() {
		err := f.sys.renameNoReplace(od, old, nd, new)
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.ENOTSUP) {
			return err
		}
		f.noReplace.Store(true)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(nd, new, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return unix.EEXIST
	} else if !errors.Is(err, unix.ENOENT) {
		return err
	}
	return f.sys.rename(od, old, nd, new)
}

// noLinks reports a filesystem without hard links.
func noLinks(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EMLINK) || errors.Is(err, unix.ENOSYS)
}

// place puts the file old of od into nd under the first name of names(i)
// that is free, and never replaces a file: link(2) fails on an existing
// name. With keep, old stays (a second link); else it is removed. On a
// filesystem without hard links it renames instead (moved is then true:
// old is gone whatever keep says). free, if set, must also hold for a
// name to be taken.
func (f *Folder) place(od int, old string, nd int, names func(int) string, keep bool, free func(string) bool) (name string, moved bool, err error) {
	for i := 0; i < 100000; i++ {
		name := names(i)
		if free != nil && !free(name) {
			continue
		}
		err := f.sys.link(od, old, nd, name)
		if err == nil {
			if !keep {
				if err := unix.Unlinkat(od, old, 0); err != nil && !errors.Is(err, unix.ENOENT) {
					_ = unix.Unlinkat(nd, name, 0)
					return "", false, err
				}
			}
			return name, false, nil
		}
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if !noLinks(err) {
			return "", false, err
		}
		err = f.renameNoReplace(od, old, nd, name)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", false, err
		}
		return name, true, nil
	}
	return "", false, errors.New("no free name")
}

// createTemp creates a new temp file in the directory open as dir, named
// tempPrefix, tag and a random number, with mode perm exactly (not less
// the umask). It does not use the network poller, which for a regular
// file costs four system calls that fail or are undone.
func createTemp(dir int, tag string, perm uint32) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := tempPrefix + tag + strconv.FormatUint(uint64(rand.Uint32()), 10)
		fd, err := unix.Openat(dir, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, perm)
		if err == nil {
			if perm&umask() == 0 {
				// The umask took nothing off: the mode is already perm.
				return os.NewFile(uintptr(fd), name), name, nil
			}
			if err := unix.Fchmod(fd, perm); err != nil {
				_ = unix.Close(fd)
				_ = unix.Unlinkat(dir, name, 0)
				return nil, "", err
			}
			return os.NewFile(uintptr(fd), name), name, nil
		}
		if !errors.Is(err, unix.EEXIST) || try == 100 {
			return nil, "", fmt.Errorf("create %s: %w", name, err)
		}
	}
}

// umask is the process's file mode creation mask, read once from
// /proc/self/status (reading it with umask(2) means setting it, which races
// with files created meanwhile). Where it cannot be read it is taken as
// 0o777, so that every temp file gets its mode by fchmod. The host never
// changes its umask.
var umask = sync.OnceValue(func() uint32 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	return parseUmask(string(data))
})

// parseUmask finds the "Umask:" line of a /proc/PID/status text (Linux
// 4.7 and later), else returns 0o777.
func parseUmask(status string) uint32 {
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil || m > 0o777 {
				return 0o777
			}
			return uint32(m)
		}
	}
	return 0o777
}

// writeTemp writes a new temp file in dir with write, syncs it unless
// NoSync, and returns its name and the file, still open and (see
// fileLocks) locked so that another host's Recover leaves it alone: close
// it once the temp is linked or removed. On error nothing is left.
//
// Where the filesystem has O_TMPFILE and hard links, the file is written
// unnamed and gets its temp name once written (and synced): its inode is
// then allocated without holding the directory's lock, which every other
// create, link and removal in that directory waits on, and a crash while
// it is written leaves nothing behind. Elsewhere it is created by name.
func (f *Folder) writeTemp(dir int, tag string, perm uint32, write func(*os.File) error) (string, *os.File, error) {
	unnamed := f.unnamedTemps(dir)
	var file *os.File
	var name string
	var err error
	if unnamed {
		file, err = f.openUnnamed(dir, tag, perm)
	} else {
		file, name, err = createTemp(dir, tag, perm)
	}
	if err != nil {
		return "", nil, err
	}
	if f.fileLocks() {
		_ = unix.Flock(int(file.Fd()), unix.LOCK_EX|unix.LOCK_NB) // a new file: no one else holds it
	}
	err = write(file)
	if err == nil && !f.opts.NoSync {
		err = file.Sync()
	}
	if err == nil && unnamed {
		name, err = f.nameTemp(file, dir, tag)
	}
	if err != nil {
		file.Close()
		if !unnamed {
			_ = unix.Unlinkat(dir, name, 0) // Leave no partial output.
		}
		return "", nil, err
	}
	return name, file, nil
}

// unnamedTemps reports whether temp files in the directory open as dir
// are written unnamed (O_TMPFILE). The first call for a directory finds
// out, with an unnamed file linked and removed at once: its filesystem
// must both create one and link it, which must be known before a result
// is written into it. (A subfolder may be another filesystem.)
func (f *Folder) unnamedTemps(dir int) bool {
	if ok, known := f.tmpfile.Load(dir); known {
		return ok.(bool)
	}
	ok := f.probeTmpfile(dir)
	f.tmpfile.Store(dir, ok)
	return ok
}

func (f *Folder) probeTmpfile(dir int) bool {
	if f.sys.tmpfile == nil || f.sys.linkFD == nil {
		return false
	}
	fd, err := f.sys.tmpfile(dir, 0o600)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	name := tempPrefix + "probe-" + strconv.FormatUint(uint64(rand.Uint32()), 10)
	if err := f.sys.linkFD(fd, dir, name); err != nil {
		return false
	}
	_ = unix.Unlinkat(dir, name, 0)
	return true
}

// openUnnamed opens an unnamed temp file in dir with mode perm exactly.
func (f *Folder) openUnnamed(dir int, tag string, perm uint32) (*os.File, error) {
	fd, err := f.sys.tmpfile(dir, perm)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", tempPrefix+tag+"*", err)
	}
	if perm&umask() != 0 {
		if err := unix.Fchmod(fd, perm); err != nil {
			_ = unix.Close(fd)
			return nil, err
		}
	}
	return os.NewFile(uintptr(fd), tempPrefix+tag+"*"), nil
}

// nameTemp links the unnamed file as tempPrefix, tag and a random number
// in dir, and returns that name.
func (f *Folder) nameTemp(file *os.File, dir int, tag string) (string, error) {
	for try := 0; ; try++ {
		name := tempPrefix + tag + strconv.FormatUint(uint64(rand.Uint32()), 10)
		err := f.sys.linkFD(int(file.Fd()), dir, name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, unix.EEXIST) || try == 100 {
			return "", fmt.Errorf("link %s: %w", name, err)
		}
	}
}

func exists(dir int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}
