package folder

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// sysOps are the system calls whose absence on some filesystems the
// protocol works around. Tests replace them to take the fallback paths.
type sysOps struct {
	// link is linkat(2) without following links.
	link func(olddir int, old string, newdir int, new string) error
	// renameNoReplace is renameat2(2) with RENAME_NOREPLACE; it returns
	// unix.EINVAL or unix.ENOSYS where the filesystem or kernel lacks it.
	renameNoReplace func(olddir int, old string, newdir int, new string) error
	// rename is renameat(2).
	rename func(olddir int, old string, newdir int, new string) error
	// fsync is fsync(2) of a directory.
	fsync func(fd int) error
	// tmpfile opens an unnamed regular file in dir for writing
	// (O_TMPFILE); it fails (EOPNOTSUPP, EISDIR, EINVAL) where the
	// filesystem or kernel lacks it. Nil, with linkFD, means lacking.
	tmpfile func(dir int, perm uint32) (int, error)
	// linkFD gives the unnamed file open as fd the name new in newdir,
	// never replacing a file (EEXIST).
	linkFD func(fd, newdir int, new string) error
}

var defaultSys = &sysOps{
	link:            func(od int, o string, nd int, n string) error { return unix.Linkat(od, o, nd, n, 0) },
	renameNoReplace: renameat2NoReplace,
	rename:          unix.Renameat,
	fsync:           unix.Fsync,
	tmpfile:         openTmpfile,
	linkFD:          linkFD,
}

// tempPrefix starts the names of files the host is writing. They are
// dotfiles, so watchers and users skip them, and carry no part of the real
// name, so a 255-byte name still fits.
const tempPrefix = ".host-tmp-"

// IsTemp reports whether name is one of the host's temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// maxName is the longest file name on the filesystems the host supports.
const maxName = 255

// ReportSuffix ends the name of every error report in failed/, and of
// nothing else there: a failed input whose name ends so is given a
// variant (see failedName).
const ReportSuffix = ".error.json"

// Variant returns name for i == 0, else name with "-i" before its
// extension ("report.csv" -> "report-2.csv"), shortened on a UTF-8
// boundary to fit 255 bytes.
func Variant(name string, i int) string { return variant(name, i, maxName) }

// variant is Variant with a length limit of n bytes.
func variant(name string, i, n int) string {
	if i == 0 && len(name) <= n {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name || len(ext) > n/2 { // ".bashrc", or an "extension" that is most of the name
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	suffix := ""
	if i > 0 {
		suffix = "-" + strconv.Itoa(i)
	}
	if over := len(stem) + len(suffix) + len(ext) - n; over > 0 {
		cut := len(stem) - over
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		stem = stem[:max(cut, 0)]
	}
	return stem + suffix + ext
}

// failedName is the i-th candidate name in failed/ for an input named
// name: short enough that its report's name fits too, and never ending
// in ReportSuffix, so that a report can never be mistaken for an input
// or take an input's place.
func failedName(name string, i int) string {
	if strings.HasSuffix(name, ReportSuffix) && i == 0 {
		i = 1
	}
	for {
		v := variant(name, i, maxName-len(ReportSuffix))
		if !strings.HasSuffix(v, ReportSuffix) {
			return v
		}
		i++
	}
}

// fsyncDir makes the entries of the open directory fd durable. Some
// filesystems cannot sync a directory (EINVAL, ENOTSUP, EROFS...): their
// error is not one; any other (EIO) is returned.
func (s *sysOps) fsyncDir(fd int) error {
	err := s.fsync(fd)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOTSUP),
		errors.Is(err, unix.EROFS), errors.Is(err, unix.EBADF):
		return nil
	}
	return &os.PathError{Op: "fsync", Path: "folder", Err: err}
}

// Transient reports whether err is a shortage that may pass (no file
// descriptors, no memory, no space, an I/O error), so that the file is
// tried again rather than failed.
func Transient(err error) bool {
	switch errno(err) {
	case unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.ENOSPC, unix.EDQUOT, unix.EIO, unix.EAGAIN, unix.EINTR, unix.EBUSY:
		return true
	}
	return false
}

// syscallStat is what os.FileInfo.Sys holds on Unix.
type syscallStat = syscall.Stat_t
