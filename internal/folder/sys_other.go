//go:build !linux

package folder

import "golang.org/x/sys/unix"

// renameat2NoReplace: only Linux has renameat2; elsewhere the fallback
// (look up, then rename) is used.
func renameat2NoReplace(od int, o string, nd int, n string) error { return unix.ENOSYS }
