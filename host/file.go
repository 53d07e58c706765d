package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/filehost/host/internal/folder"
)

// ErrorReport is a failed file's report, failed/NAME.error.json.
type ErrorReport = folder.Report

// fileRun is one file on the per-file path that --input and watch mode
// share: claimed, run through its pipeline (once per attempt), then
// committed to processed/ or failed into failed/ with its report.
type fileRun struct {
	h       *Host
	folder  *folder.Folder
	wc      WatchConfig
	claim   *folder.Claim
	started time.Time
	// enter, if set, is called as the chain is about to run and returns
	// what to call when it has (watch mode: a CPU token, the tracker).
	enter func(ctx context.Context, pipeline string, size int64, attempt int) (leave func(), err error)
	// wrap, if set, wraps the input as the chain reads it (progress).
	wrap func(io.Reader) io.Reader
}

// smallRead is the size up to which a claimed file is read whole, in one
// system call, before its pipeline is chosen: its first bytes choose the
// pipeline and the chain then reads from memory, instead of reading the
// head and then the whole file again (three reads for a 4 KiB file).
const smallRead = 64 << 10

var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallRead); return &b }}

// input is the claimed file's content as one attempt reads it: head, its
// first bytes, for choosing the pipeline, and the reader the chain reads.
type input struct {
	head []byte
	r    io.Reader
	buf  *[]byte // from smallBufs, given back by free
}

// read starts reading the claimed file: a file that was at most smallRead
// bytes at its claim is read in one go, asking for a byte more than its
// size, so that a short read shows it whole; a larger one, or one that
// grew meanwhile, is read from where that read stopped. (A file written
// to under the host fails the commit's size and time check anyway.)
func (r *fileRun) read() (*input, error) {
	f := r.claim.File()
	if f == nil {
		return &input{}, nil
	}
	want := r.claim.Info.Size() + 1
	if want > smallRead {
		head := make([]byte, HeadSize)
		n, err := f.ReadAt(head, 0)
		if err != nil && err != io.EOF {
			return nil, err
		}
		return &input{head: head[:n], r: io.NewSectionReader(f, 0, 1<<62)}, nil
	}
	buf := smallBufs.Get().(*[]byte)
	b := (*buf)[:want]
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		smallBufs.Put(buf)
		return nil, err
	}
	in := &input{head: b[:min(n, HeadSize)], buf: buf}
	if n < len(b) {
		in.r = bytes.NewReader(b[:n])
	} else {
		in.r = io.MultiReader(bytes.NewReader(b[:n]), io.NewSectionReader(f, int64(n), 1<<62))
	}
	return in, nil
}

func (in *input) free() {
	if in.buf != nil {
		smallBufs.Put(in.buf)
		in.buf = nil
	}
}

// choose returns the file's pipeline, by name and content (or the one
// the host was told to use, host --pipeline).
func (r *fileRun) choose(head []byte) (*PipelineConfig, error) {
	if pc := r.h.pipelineFor(r.wc, r.claim.Orig, head); pc != nil {
		return pc, nil
	}
	return nil, r.h.cfg.NoPipeline(r.wc, r.claim.Orig, head)
}

// attempt runs the claimed file through its pipeline once and commits
// the result.
func (r *fileRun) attempt(ctx context.Context, attempt int) (string, Result, error) {
	var res Result
	in, err := r.read()
	if err != nil {
		return "", res, err
	}
	defer in.free()
	pc, err := r.choose(in.head)
	if err != nil {
		return "", res, err
	}
	res.Pipeline = pc.Name
	if err := r.claim.Err(); err != nil {
		return "", res, err
	}
	name := r.claim.Orig // the user's name, not a variant in underprocess/
	out, err := r.claim.Commit(pc.ResultName(name), func(w io.Writer) error {
		if r.claim.Info.Size() >= waitCompileFrom {
			if err := r.h.awaitCompiled(ctx, pc.Name); err != nil {
				return err
			}
		}
		if r.enter != nil {
			leave, err := r.enter(ctx, pc.Name, r.claim.Info.Size(), attempt)
			if err != nil {
				return err
			}
			defer leave()
		}
		src := in.r
		if r.wrap != nil {
			src = r.wrap(src)
		}
		var err error
		res, err = r.h.Process(ctx, pc.Name, name, src, w)
		return err
	})
	res.Pipeline = pc.Name
	return out, res, err
}

// fail moves the claimed file to failed/ with a report of cause.
func (r *fileRun) fail(cause error, pipeline string, attempts int) (string, error) {
	return r.claim.Fail(ErrorReport{
		File:     r.claim.Orig,
		Pipeline: pipeline,
		Plugin:   pluginOf(cause),
		Error:    cause.Error(),
		Attempts: attempts,
		Started:  r.started.UTC(),
		Failed:   time.Now().UTC(),
		Host:     VersionString(),
	})
}

// ProcessFile runs the file at path through the folder protocol: a file
// in a watched folder's unprocessed/ is claimed into underprocess/, its
// result committed to processed/, or the original moved to failed/ with
// an error report. Any other file is read where it is and left there; its
// result goes to the first watched folder's processed/, and on failure
// nothing is written. It returns the path of the result.
func (h *Host) ProcessFile(ctx context.Context, path string) (string, Result, error) {
	if err := checkInput(path); err != nil {
		return "", Result{}, err
	}
	f, wc, err := h.inputFolder(path)
	if err != nil {
		return "", Result{}, err
	}
	defer f.Close()
	var claim *folder.Claim
	if f.Inside(path) {
		claim, err = f.Claim(filepath.Base(path))
	} else {
		claim, err = f.ClaimExternal(path)
	}
	if err != nil {
		return "", Result{}, fmt.Errorf("%s: claim: %w", path, err)
	}
	run := &fileRun{h: h, folder: f, wc: wc, claim: claim, started: time.Now()}
	out, res, err := run.attempt(ctx, 1)
	if errors.Is(err, folder.ErrInputKept) {
		h.logger.Error("result committed; the input stays in underprocess/ until the next start", "file", claim.Path(), "output", out, "error", err)
		return out, res, nil
	}
	if err == nil {
		return out, res, nil
	}
	if ctx.Err() != nil {
		// Interrupted: the file goes back, untouched.
		if _, rerr := claim.Requeue(); rerr != nil {
			return "", res, errors.Join(&FileError{File: path, Err: err}, rerr)
		}
		return "", res, &FileError{File: path, Pipeline: res.Pipeline, Err: err}
	}
	ferr := &FileError{File: path, Pipeline: res.Pipeline, Plugin: pluginOf(err), Err: err}
	dst, fe := run.fail(err, res.Pipeline, 1)
	ferr.Failed = dst
	if fe != nil {
		claim.Release() // it stays in underprocess/ for the next start
		return "", res, errors.Join(ferr, fmt.Errorf("move to failed/: %w", fe))
	}
	return "", res, ferr
}

// inputFolder opens the watched folder whose unprocessed/ holds path, or
// else the first one. --input always syncs: run.sync is for watch mode.
func (h *Host) inputFolder(path string) (*folder.Folder, WatchConfig, error) {
	var first *folder.Folder
	for i, w := range h.cfg.Watch {
		f, err := openWatch(w, true, false)
		if err != nil {
			if first != nil {
				first.Close()
			}
			return nil, w, err
		}
		if f.Inside(path) {
			if first != nil {
				first.Close()
			}
			return f, w, nil
		}
		if i == 0 {
			first = f
		} else {
			f.Close()
		}
	}
	return first, h.cfg.Watch[0], nil
}

// openWatch opens a [[watch]] entry's folder. group is for watch mode.
func openWatch(wc WatchConfig, sync, group bool) (*folder.Folder, error) {
	return folder.Open(wc.Dir, folder.Options{Archive: wc.Archive, NoSync: !sync, Group: group})
}

func checkInput(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("input %s: no such file", path)
		}
		return fmt.Errorf("input %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("input %s: is a directory, not a file", path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("input %s: not a regular file", path)
	}
	return nil
}
