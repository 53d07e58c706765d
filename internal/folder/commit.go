package folder

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrInputKept is returned, wrapped, by Commit when the result is in
// processed/ but the claimed input could not be removed or archived. The
// file is done and must not be processed again: the input stays in
// underprocess/ with the temporary name beside the result, and Recover
// completes the commit at the next start.
var ErrInputKept = errors.New("result committed, but the claimed input could not be retired")

// ErrFolderGone is returned, wrapped, by Commit and Fail when processed/
// or failed/ was deleted while the host ran: its handle names a folder no
// longer in the watch folder, and nothing was written. The claim is as it
// was; once the folder is reopened (Refresh), Requeue puts the file back
// to be claimed again through the new handles.
var ErrFolderGone = errors.New("the folder was deleted while in use")

// gone wraps err in ErrFolderGone if it is ENOENT from creating in the
// folder dir while dir has been deleted.
func gone(dir int, err error) error {
	var st unix.Stat_t
	if errors.Is(err, unix.ENOENT) && unix.Fstat(dir, &st) == nil && st.Nlink == 0 {
		return fmt.Errorf("%w: %w", ErrFolderGone, err)
	}
	return err
}

// Commit writes the claim's result into processed/ as name (which may
// name a subfolder of processed/, "json/a.jsonl") and only then removes
// the claimed input (or moves it to archive/). write streams the result;
// if it fails, or the input changed meanwhile (ErrChanged), no output is
// left and the claimed input is untouched. The result keeps the input's
// permission bits. The steps, each durable before the next, are what
// Recover relies on:
//
//  1. write the result to processed/.host-tmp-ID-RAND and fsync it (ID
//     identifies the claimed input by name and inode);
//  2. hard-link it as processed/NAME, or a free variant of NAME;
//  3. remove (or archive) the claimed input;
//  4. remove the temporary name.
//
// It returns the result's path. An error in step 3 returns the path and
// ErrInputKept. A claim from ClaimExternal skips steps 3 and 4's wait.
func (c *Claim) Commit(name string, write func(io.Writer) error) (string, error) {
	f, d := c.f, c.d
	sub, base, err := splitResultName(name)
	if err != nil {
		return "", err
	}
	tmp, tf, err := f.writeTemp(d.processed.fd, c.id+"-", uint32(c.Info.Mode().Perm()), func(w *os.File) error {
		if err := write(w); err != nil {
			return err
		}
		return c.Changed()
	})
	if err != nil {
		return "", gone(d.processed.fd, err)
	}
	defer tf.Close()
	dir := d.processed.fd
	if sub != "" {
		if dir, err = openSubPath(d.processed.fd, sub); err != nil {
			_ = unix.Unlinkat(d.processed.fd, tmp, 0)
			return "", fmt.Errorf("processed/%s: %w", sub, gone(d.processed.fd, err))
		}
		defer unix.Close(dir)
	}
	got, moved, err := f.place(d.processed.fd, tmp, dir, func(i int) string { return Variant(base, i) }, true, nil)
	if err != nil {
		_ = unix.Unlinkat(d.processed.fd, tmp, 0)
		return "", gone(dir, err)
	}
	out := path.Join(f.Dir, Processed, sub, got)
	if err := f.syncResult(d, dir, sub != ""); err != nil {
		// The result is linked but perhaps not durable: leave the input
		// and the temp name, as after a crash at this step.
		c.Release()
		return out, fmt.Errorf("%w: %w", ErrInputKept, err)
	}
	if c.external {
		c.Release()
		if !moved {
			_ = unix.Unlinkat(d.processed.fd, tmp, 0)
		}
		return out, nil
	}
	if err := c.retire(); err != nil {
		c.Release()
		// Keep the linked temp name: Recover matches it to the input.
		return out, fmt.Errorf("%w: %w", ErrInputKept, err)
	}
	c.Release()
	if !moved {
		if f.deferring() {
			f.reap.add(f, d, tmp)
		} else {
			_ = unix.Unlinkat(d.processed.fd, tmp, 0)
		}
	}
	return out, nil
}

func (f *Folder) syncResult(d *dirs, dir int, sub bool) error {
	if sub && !f.opts.NoSync {
		if err := f.sys.fsyncDir(dir); err != nil {
			return err
		}
	}
	return f.syncDir(d, &d.processed)
}

// retire removes a claimed input whose result is committed, or moves it
// to archive/ when the folder keeps inputs. The removal must be durable
// before the temp name goes, or after a power loss the input could be back
// without it and be processed again. When deferring, retire does not wait
// for an fsync of underprocess/ of its own: Commit hands the temp name to
// the reaper, which removes it after the next one (the next claim's, or
// its timer's). That is one fsync less per file, with the same guarantees.
func (c *Claim) retire() error {
	f, d := c.f, c.d
	if !c.stillOurs() {
		return fmt.Errorf("underprocess/%s is no longer the file the host claimed", c.Name)
	}
	if f.opts.Archive && d.archive.fd >= 0 {
		if _, _, err := f.place(d.underprocess.fd, c.Name, d.archive.fd, func(i int) string { return Variant(c.Orig, i) }, false, nil); err != nil {
			return err
		}
		if err := f.syncDir(d, &d.archive); err != nil {
			return err
		}
	} else if err := unix.Unlinkat(d.underprocess.fd, c.Name, 0); err != nil {
		return err
	}
	if !f.deferring() {
		return f.syncDir(d, &d.underprocess)
	}
	return nil
}

// Requeue puts a claimed file back in unprocessed/ under its name or a
// free variant (at shutdown, before it was processed).
func (c *Claim) Requeue() (string, error) {
	defer c.Release()
	if c.external {
		return c.path, nil
	}
	f, d := c.f, c.d
	name, _, err := f.place(d.underprocess.fd, c.Name, d.unprocessed.fd, func(i int) string { return Variant(c.Orig, i) }, false, nil)
	if err != nil {
		return "", err
	}
	if err := f.syncDir(d, &d.unprocessed); err != nil {
		return name, err
	}
	return name, f.syncDir(d, &d.underprocess)
}

// splitResultName checks a result name relative to processed/.
func splitResultName(name string) (sub, base string, err error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\x00") {
		return "", "", fmt.Errorf("result name %q: not a relative file name", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || len(part) > maxName {
			return "", "", fmt.Errorf("result name %q: bad path element %q", name, part)
		}
	}
	sub, base = path.Split(name)
	return strings.TrimSuffix(sub, "/"), base, nil
}

// openSubPath opens (creating) the folder sub below dir, one element at a
// time without following symbolic links.
func openSubPath(dir int, sub string) (int, error) {
	fd := dir
	for _, part := range strings.Split(sub, "/") {
		h, err := openSub(fd, part)
		if fd != dir {
			_ = unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = h.fd
	}
	return fd, nil
}
