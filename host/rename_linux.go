package host

import (
	"errors"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// noReplaceUnsupported is set once a filesystem refuses RENAME_NOREPLACE,
// so the fallback is used from then on.
var noReplaceUnsupported atomic.Bool

// renameNoReplace renames src to dst unless dst exists, in which case it
// fails with an error matching fs.ErrExist. One renameat2 call does both
// where the filesystem supports it (ext4, xfs, btrfs, tmpfs...); elsewhere
// dst is looked up first, which is not atomic against other writers.
func renameNoReplace(src, dst string) error {
	if !noReplaceUnsupported.Load() {
		err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
		if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOSYS) {
			return wrapRename(src, dst, err)
		}
		noReplaceUnsupported.Store(true)
	}
	return renameChecked(src, dst)
}
