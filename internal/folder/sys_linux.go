package folder

import "golang.org/x/sys/unix"

func renameat2NoReplace(od int, o string, nd int, n string) error {
	return unix.Renameat2(od, o, nd, n, unix.RENAME_NOREPLACE)
}
