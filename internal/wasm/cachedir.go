package wasm

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// The compilation cache's folder (cache_dir) holds a folder per runtime
// version and platform, wazy-VERSION-ARCH-OS, of entries named by a hash of
// each compiled module. A compile writes its entry to ENTRY.*.tmp and
// renames it into place. The runtime never removes an entry, so a host that
// runs for months, its plugins rebuilt now and then, would keep every
// build's 4-7 MB; PruneCache removes what no host uses any more.

// CacheKeep is how long an entry that no host has used stays in the cache.
const CacheKeep = 30 * 24 * time.Hour

const (
	// An entry in use is touched once its mtime is older than this, so
	// that its mtime says when it was last used, give or take a day.
	cacheTouchAfter = 24 * time.Hour
	// A temporary file older than this was left by a compile that did not
	// finish (a crash, a full disk): one takes seconds.
	cacheTempKeep = time.Hour
)

var (
	cacheEntryName  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	cacheTempName   = regexp.MustCompile(`^[0-9a-f]{64}\..*\.tmp$`)
	cacheFolderName = regexp.MustCompile(`^(wazy|wazero)-v?[^/]+-[a-z0-9]+-[a-z0-9]+$`)
)

// CachePruned is what a PruneCache removed.
type CachePruned struct {
	Entries int   // entries unused for CacheKeep
	Temps   int   // temporary files of compiles that did not finish
	Folders int   // folders of other runtime versions, wholly unused
	Bytes   int64 // the size of all of them
	Touched int   // entries in use whose mtime was brought up to date
}

// cacheFolder is the folder of the cache the runtime uses under dir, named
// as wazy names it (its ensuresFileCache).
func cacheFolder(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(abs, "wazy-"+runtimeVersion()+"-"+runtime.GOARCH+"-"+runtime.GOOS), nil
}

// runtimeVersion is wazy's version as wazy reads it (its version package):
// from the build's module list, "dev" if absent.
func runtimeVersion() string {
	v := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/samyfodil/wazy") {
				v = dep.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// PruneCache removes, from the engine's cache folder:
//
//   - entries of this runtime no host has used for CacheKeep: the entries
//     this process runs from are touched instead (where the system lists a
//     process's mapped files, as Linux does), as are those of every host
//     sharing the folder that prunes, so an entry in use never ages;
//   - temporary files of compiles that did not finish, an hour old;
//   - folders of other runtime versions (an upgraded host's old cache)
//     whose every entry is CacheKeep old. A folder holding any other file
//     keeps it, and itself.
//
// Nothing else in the folder is touched. It does nothing for an engine
// without a cache folder. A removed entry that some host still had in use
// is compiled again on its next start.
func (e *Engine) PruneCache(now time.Time) (CachePruned, error) {
	var res CachePruned
	if e.dir == "" {
		return res, nil
	}
	current, err := cacheFolder(e.dir)
	if err != nil {
		return res, err
	}
	if _, err := os.Stat(current); err != nil {
		// The runtime names its folder otherwise: prune nothing rather
		// than take its folder for another version's.
		return res, fmt.Errorf("compilation cache: the runtime's folder: %w", err)
	}
	inUse := mappedFiles(current)
	var errs []error
	entries, err := os.ReadDir(current)
	if err != nil {
		return res, err
	}
	for _, de := range entries {
		path := filepath.Join(current, de.Name())
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue // gone meanwhile, or not ours
		}
		age := now.Sub(info.ModTime())
		switch {
		case cacheEntryName.MatchString(de.Name()) && inUse[de.Name()]:
			if age > cacheTouchAfter {
				if err := os.Chtimes(path, time.Time{}, now); err == nil {
					res.Touched++
				} else if !refused(err) {
					errs = append(errs, err)
				}
			}
		case cacheEntryName.MatchString(de.Name()) && age > CacheKeep:
			if removeFile(path, &errs) {
				res.Entries++
				res.Bytes += info.Size()
			}
		case cacheTempName.MatchString(de.Name()) && age > cacheTempKeep:
			if removeFile(path, &errs) {
				res.Temps++
				res.Bytes += info.Size()
			}
		}
	}
	others, err := os.ReadDir(e.dir)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for _, de := range others {
		path := filepath.Join(filepath.Dir(current), de.Name())
		if !de.IsDir() || path == current || !cacheFolderName.MatchString(de.Name()) {
			continue
		}
		n, ok := pruneOldFolder(path, now, &errs)
		res.Bytes += n
		if ok {
			res.Folders++
		}
	}
	return res, errors.Join(errs...)
}

// pruneOldFolder removes the folder of another runtime version if it holds
// only entries and temporary files, all CacheKeep old, and has itself not
// changed for as long (a host of that version that has just made it, and
// not yet written its first entry, keeps it). It returns the bytes removed
// and whether the folder went.
func pruneOldFolder(dir string, now time.Time, errs *[]error) (int64, bool) {
	if info, err := os.Stat(dir); err != nil || now.Sub(info.ModTime()) <= CacheKeep {
		return 0, false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !refused(err) {
			*errs = append(*errs, err)
		}
		return 0, false
	}
	for _, de := range entries {
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() ||
			!(cacheEntryName.MatchString(de.Name()) || cacheTempName.MatchString(de.Name())) ||
			now.Sub(info.ModTime()) <= CacheKeep {
			return 0, false
		}
	}
	var n int64
	for _, de := range entries {
		if info, err := de.Info(); err == nil && removeFile(filepath.Join(dir, de.Name()), errs) {
			n += info.Size()
		}
	}
	if err := os.Remove(dir); err != nil {
		if !refused(err) {
			*errs = append(*errs, err)
		}
		return n, false
	}
	return n, true
}

func removeFile(path string, errs *[]error) bool {
	err := os.Remove(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !refused(err) {
		*errs = append(*errs, err)
	}
	return err == nil
}

// refused reports a cache folder that is not this host's to change (read
// only, or another user's): the runtime reads from it all the same, and
// the load already warned if it could not write, so pruning passes over
// it without a warning a day.
func refused(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// mappedFiles returns the names of the files in dir that this process has
// mapped: the runtime runs a cached module's code from its entry's pages.
// It is empty where /proc/self/maps is not there to say. The maps name
// files by their real paths, so dir is resolved first (a cache_dir
// through a symbolic link).
func mappedFiles(dir string) map[string]bool {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	files := map[string]bool{}
	prefix := dir + string(filepath.Separator)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		line := sc.Text()
		i := strings.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		if path := line[i:]; strings.HasPrefix(path, prefix) {
			files[path[len(prefix):]] = true
		}
	}
	return files
}
