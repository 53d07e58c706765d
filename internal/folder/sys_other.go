//go:build !linux

package folder

import "golang.org/x/sys/unix"

// renameat2NoReplace: only Linux has renameat2; elsewhere the fallback
// (look up, then rename) is used.
func renameat2NoReplace(od int, o string, nd int, n string) error { return unix.ENOSYS }

// Only Linux has O_TMPFILE: elsewhere temp files are created by name.
func openTmpfile(int, uint32) (int, error) { return -1, unix.ENOTSUP }

func linkFD(int, int, string) error { return unix.ENOTSUP }
