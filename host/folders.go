package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Folder is a watched folder and its state subfolders (docs/FOLDERS.md).
type Folder struct {
	Dir          string
	Unprocessed  string
	Underprocess string
	Processed    string
	Failed       string
	Archive      string // "" unless inputs are kept after processing
	// NoSync skips fsync of results and folders: still safe if the host
	// crashes, not if the machine loses power.
	NoSync bool

	// reap, when set (watch mode, with sync), defers the removal of each
	// committed temp name to the next fsync of underprocess/; see retire.
	reap *reaper
	// shared, when set (watch mode), lets concurrent fsyncs of one folder
	// share a single fsync; see syncDir.
	shared *sharedSyncs
}

// OpenFolder returns the folder at dir, creating its subfolders.
func OpenFolder(dir string) (Folder, error) {
	f := Folder{
		Dir:          dir,
		Unprocessed:  filepath.Join(dir, "unprocessed"),
		Underprocess: filepath.Join(dir, "underprocess"),
		Processed:    filepath.Join(dir, "processed"),
		Failed:       filepath.Join(dir, "failed"),
	}
	for _, d := range []string{f.Unprocessed, f.Underprocess, f.Processed, f.Failed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Folder{}, err
		}
	}
	return f, nil
}

// tempPrefix starts the names of outputs being written. They are dotfiles,
// so watchers and users skip them, and carry no part of the real name, so
// a 255-byte name still fits.
const tempPrefix = ".host-tmp-"

// openWatch opens a [[watch]] entry's folder, with its archive/ when the
// entry keeps inputs.
func openWatch(wc WatchConfig) (Folder, error) {
	f, err := OpenFolder(wc.Dir)
	if err != nil {
		return f, fmt.Errorf("watch folder %s: %w", wc.Dir, err)
	}
	if wc.Archive {
		f.Archive = filepath.Join(wc.Dir, "archive")
		if err := os.MkdirAll(f.Archive, 0o755); err != nil {
			return f, fmt.Errorf("watch folder %s: archive: %w", wc.Dir, err)
		}
	}
	return f, nil
}

// IsTemp reports whether name is one of the host's temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// Claim moves src into underprocess/ under a free name and returns the new
// path. The rename is atomic within a filesystem: of two claimers, one
// wins, and the loser gets an error wrapping fs.ErrNotExist. Across
// filesystems (--input of a file elsewhere) the file is copied, synced,
// then removed.
func (f Folder) Claim(src string) (string, error) {
	name := filepath.Base(src)
	for i := 0; ; i++ {
		dst := filepath.Join(f.Underprocess, Variant(name, i))
		err := renameNoReplace(src, dst)
		switch {
		case err == nil:
			f.syncDir(f.Underprocess)
			return dst, nil
		case errors.Is(err, fs.ErrExist):
			continue
		case errors.Is(err, syscall.EXDEV):
			return f.moveNoClobber(src, f.Underprocess, name)
		}
		return "", err
	}
}

// renameChecked renames src to dst after checking that dst does not exist.
func renameChecked(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: fs.ErrExist}
	}
	return wrapRename(src, dst, syscall.Rename(src, dst))
}

func wrapRename(src, dst string, err error) error {
	if err == nil {
		return nil
	}
	return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
}

// openInput opens a claimed file for reading. It does not follow a
// symbolic link put in the file's place, and, unlike os.Open, does not
// try to register a regular file with the network poller, which costs
// four system calls that fail or are undone.
func openInput(path string) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// createTemp creates a new file in dir named prefix and a random number,
// for writing, as os.CreateTemp does but without the poller (see
// openInput). Its mode is 0666 less the umask, like any new file, as it
// becomes a result.
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		path := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o666)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, syscall.EEXIST) || try == 100 {
			return nil, &os.PathError{Op: "create", Path: path, Err: err}
		}
	}
}

// ErrInputKept is returned, wrapped, by Commit when the result is in
// processed/ but the claimed input could not be removed or archived. The
// file is done and must not be processed again: the input stays in
// underprocess/ with the temporary name beside the result, and Recover
// completes the commit at the next start.
var ErrInputKept = errors.New("result committed, but the claimed input could not be retired")

// Commit writes a claimed file's result into processed/ as name and only
// then removes the claimed input (or moves it to archive/). write streams
// the result; if it fails, no output is left and the claimed input is
// untouched. The steps, each durable before the next, are what Recover
// relies on:
//
//  1. write the result to processed/.host-tmp-ID-RAND and fsync it (ID
//     identifies the claimed input by name and inode);
//  2. hard-link it as processed/NAME, or a free variant of NAME;
//  3. remove (or archive) the claimed input;
//  4. remove the temporary name.
//
// An error in step 3 returns the result's path and ErrInputKept.
func (f Folder) Commit(claimed, name string, write func(io.Writer) error) (string, error) {
	id, err := claimID(claimed)
	if err != nil {
		return "", err
	}
	return f.commit(claimed, id, name, write)
}

// commit is Commit with the claimed input's ID already known: see
// CommitOpened.
func (f Folder) commit(claimed, id, name string, write func(io.Writer) error) (string, error) {
	tmp, err := f.writeTemp(f.Processed, tempPrefix+id+"-", write)
	if err != nil {
		return "", err
	}
	dst, linked, err := linkNoClobber(tmp, f.Processed, name)
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	f.syncDir(f.Processed)
	if err := f.retire(claimed); err != nil {
		// Keep the linked temp name: Recover matches it to the input.
		return dst, fmt.Errorf("%w: %w", ErrInputKept, err)
	}
	if linked {
		if f.deferring() {
			f.reap.add(f, tmp)
		} else {
			_ = os.Remove(tmp)
		}
	}
	return dst, nil
}

// retire removes a claimed input whose result is committed, or moves it
// to archive/ when the folder keeps inputs. The removal must be durable
// before the temp name goes, or after a power loss the input could be back
// without it and be processed again. When deferring, retire does not wait
// for an fsync of underprocess/ of its own: Commit hands the temp name to
// the reaper, which removes it after the next one (the next claim's, or
// its timer's). That is one fsync less per file, with the same guarantees.
func (f Folder) retire(claimed string) error {
	if f.Archive != "" {
		if err := os.MkdirAll(f.Archive, 0o755); err != nil {
			return err
		}
		if _, err := f.moveNoClobber(claimed, f.Archive, filepath.Base(claimed)); err != nil {
			return err
		}
	} else if err := os.Remove(claimed); err != nil {
		return err
	}
	if !f.deferring() {
		f.syncDir(f.Underprocess)
	}
	return nil
}

func (f Folder) deferring() bool { return f.reap != nil && !f.NoSync }

// reapAfter bounds how long a committed file's temp name stays when no
// other fsync of underprocess/ comes along.
const reapAfter = 100 * time.Millisecond

// reaper holds the temp names of committed results whose inputs' removal
// from underprocess/ is not yet known to be durable.
type reaper struct {
	mu    sync.Mutex
	temps []string
	timer *time.Timer
}

func (r *reaper) add(f Folder, tmp string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.temps = append(r.temps, tmp)
	if r.timer == nil {
		r.timer = time.AfterFunc(reapAfter, func() { f.syncDir(f.Underprocess) })
	}
}

// take returns the temp names added so far; an fsync of underprocess/
// that starts after take covers their inputs' removal.
func (r *reaper) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	temps := r.temps
	r.temps = nil
	return temps
}

// Flush makes pending removals durable and removes the temp names they
// hold back. The service calls it when it stops.
func (f Folder) Flush() {
	if f.deferring() {
		f.syncDir(f.Underprocess)
	}
}

// CommitOpened is Commit for a claimed input the caller has open as in,
// with fi from in.Stat(), which spares looking the input up again.
func (f Folder) CommitOpened(in *os.File, fi fs.FileInfo, name string, write func(io.Writer) error) (string, error) {
	return f.commit(in.Name(), idOf(filepath.Base(in.Name()), fi), name, write)
}

// claimID identifies a claimed file by a digest of its name and its inode
// number; it is put in the names of its temporary outputs so Recover can
// match them to it after a crash.
func claimID(claimed string) (string, error) {
	fi, err := os.Lstat(claimed)
	if err != nil {
		return "", err
	}
	return idOf(filepath.Base(claimed), fi), nil
}

func idOf(name string, fi os.FileInfo) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%016x.%x", h.Sum64(), ino)
}

// ErrorReport is written beside a failed file as NAME.error.json.
type ErrorReport struct {
	File     string    `json:"file"`               // the original name
	Pipeline string    `json:"pipeline,omitempty"` // "" when none matched
	Plugin   string    `json:"plugin,omitempty"`   // the plugin at fault, if one was
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
	Failed   time.Time `json:"failed"`
	Host     string    `json:"host_version"`
}

// Fail moves a claimed file into failed/ under a free name and writes the
// report beside it as NAME.error.json. It returns the failed file's path.
// The file is linked into failed/ before it leaves underprocess/, so a
// crash in between leaves it in both places, which Recover resolves.
func (f Folder) Fail(claimed string, rep ErrorReport) (string, error) {
	dst, linked, err := linkNoClobber(claimed, f.Failed, filepath.Base(claimed))
	if err != nil {
		return "", err
	}
	if err := f.writeReport(dst, rep); err != nil {
		return dst, err
	}
	if linked {
		if err := os.Remove(claimed); err != nil {
			return dst, err
		}
		f.syncDir(f.Underprocess)
	}
	return dst, nil
}

func (f Folder) writeReport(failed string, rep ErrorReport) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp, err := f.writeTemp(filepath.Dir(failed), tempPrefix, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, failed+".error.json"); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	f.syncDir(filepath.Dir(failed))
	return nil
}

// writeTemp writes a new temporary file in dir, named prefix and a random
// number, syncs it and returns its path. On error nothing is left.
func (f Folder) writeTemp(dir, prefix string, write func(io.Writer) error) (string, error) {
	tmp, err := createTemp(dir, prefix)
	if err != nil {
		return "", err
	}
	err = write(tmp)
	if err == nil && !f.NoSync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // Leave no partial output.
		return "", err
	}
	return tmp.Name(), nil
}

// writeAtomic writes a new file in dir under name or a free variant of it.
func (f Folder) writeAtomic(dir, name string, write func(io.Writer) error) (string, error) {
	tmp, err := f.writeTemp(dir, tempPrefix, write)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	dst, _, err := linkNoClobber(tmp, dir, name)
	if err != nil {
		return "", err
	}
	f.syncDir(dir)
	return dst, nil
}

// moveNoClobber renames src into dir as name or a free variant of it.
func (f Folder) moveNoClobber(src, dir, name string) (string, error) {
	dst, linked, err := linkNoClobber(src, dir, name)
	if err == nil {
		if !linked {
			f.syncDir(dir)
			return dst, nil
		}
		if err := os.Remove(src); err != nil {
			_ = os.Remove(dst)
			return "", err
		}
		f.syncDir(dir)
		return dst, nil
	}
	if !errors.Is(err, syscall.EXDEV) {
		return "", err
	}
	// Another filesystem: copy, sync, link, then remove the source.
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst, err = f.writeAtomic(dir, name, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return "", err
	}
	return dst, os.Remove(src)
}

// linkNoClobber hard-links src into dir under name, or name-1, name-2...
// (before the extension) when taken. link(2) fails on an existing name, so
// no file is ever overwritten, even by a concurrent writer. Where the
// filesystem has no hard links, it falls back to a no-clobber rename, which
// moves src instead (linked is then false and src is gone).
func linkNoClobber(src, dir, name string) (dst string, linked bool, err error) {
	for i := 0; ; i++ {
		dst := filepath.Join(dir, Variant(name, i))
		err := os.Link(src, dst)
		if err == nil {
			return dst, true, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EMLINK) {
			dst, err := renameFree(src, dir, name)
			return dst, false, err
		}
		return "", false, err
	}
}

func renameFree(src, dir, name string) (string, error) {
	for i := 0; ; i++ {
		dst := filepath.Join(dir, Variant(name, i))
		err := renameNoReplace(src, dst)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return dst, err
	}
}

// Variant returns name for i == 0, else name with "-i" before its
// extension ("report.csv" -> "report-2.csv"), shortened to fit 255 bytes.
func Variant(name string, i int) string {
	if i == 0 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name { // ".bashrc"
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	suffix := "-" + strconv.Itoa(i)
	if over := len(stem) + len(suffix) + len(ext) - 255; over > 0 {
		cut := len(stem) - over
		for cut > 0 && !utf8.RuneStart(stem[cut]) {
			cut--
		}
		stem = stem[:max(cut, 0)]
	}
	return stem + suffix + ext
}

// syncDir makes a rename in dir durable; errors are ignored because not
// every filesystem can sync a directory. With shared set, callers that
// ask while an fsync of dir is running wait for the next one, which then
// covers them all: group commit, so many files in flight cost a few
// fsyncs, not one each.
func (f Folder) syncDir(dir string) {
	if f.NoSync {
		return
	}
	if f.shared != nil {
		f.shared.of(dir).do(func() { f.fsyncDir(dir) })
		return
	}
	f.fsyncDir(dir)
}

func (f Folder) fsyncDir(dir string) {
	var reaped []string
	if dir == f.Underprocess && f.reap != nil {
		reaped = f.reap.take() // before the fsync, which then covers them
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	for _, tmp := range reaped {
		_ = os.Remove(tmp)
	}
}

// sharedSyncs holds a syncGroup per folder.
type sharedSyncs struct {
	mu     sync.Mutex
	groups map[string]*syncGroup
}

func (s *sharedSyncs) of(dir string) *syncGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[dir]
	if !ok {
		if s.groups == nil {
			s.groups = map[string]*syncGroup{}
		}
		g = &syncGroup{}
		g.cond.L = &g.mu
		s.groups[dir] = g
	}
	return g
}

// syncGroup runs one fsync at a time for every caller of do: a caller
// returns once an fsync that started after it called has finished.
type syncGroup struct {
	mu      sync.Mutex
	cond    sync.Cond
	asked   uint64 // calls so far
	covered uint64 // calls covered by a finished fsync
	running bool
}

func (g *syncGroup) do(fsync func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked++
	me := g.asked
	for g.covered < me {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		upto := g.asked // every call so far is made before this fsync starts
		g.mu.Unlock()
		fsync()
		g.mu.Lock()
		g.running = false
		g.covered = upto
		g.cond.Broadcast()
	}
}
