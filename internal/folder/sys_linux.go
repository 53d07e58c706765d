package folder

import (
	"errors"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

func renameat2NoReplace(od int, o string, nd int, n string) error {
	return unix.Renameat2(od, o, nd, n, unix.RENAME_NOREPLACE)
}

func openTmpfile(dir int, perm uint32) (int, error) {
	return unix.Openat(dir, ".", unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, perm)
}

// procLink is set once linkat(AT_EMPTY_PATH) is refused (before Linux
// 6.10 it needs CAP_DAC_READ_SEARCH): the file is then linked through its
// /proc/self/fd entry, which needs no privilege.
var procLink atomic.Bool

func linkFD(fd, newdir int, new string) error {
	if !procLink.Load() {
		err := unix.Linkat(fd, "", newdir, new, unix.AT_EMPTY_PATH)
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EPERM) {
			return err
		}
		procLink.Store(true)
	}
	return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), newdir, new, unix.AT_SYMLINK_FOLLOW)
}
