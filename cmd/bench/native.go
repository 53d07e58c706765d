package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// nativeMover is the ceiling for this machine: a Go program in this process
// that does only what the host's folder protocol must do, with no plugins
// and no settle delay. On each fsnotify Create in unprocessed/ a worker
// claims the file by rename into underprocess/, copies its bytes through
// user space into a temporary file in processed/, renames that into place
// and removes the claimed input. With sync it makes each step durable as
// the host does with run.sync = true: the output is fsynced, and each folder
// after a rename or removal in it (one file and three folder fsyncs per
// file; the host shares the third between files, see docs/FOLDERS.md).
type nativeMover struct {
	watch string
	sync  bool
	fsw   *fsnotify.Watcher
	queue chan string
	wg    sync.WaitGroup
	done  chan struct{} // never closed: the mover stops only when told

	mu        sync.Mutex
	processed map[string]time.Time
	errs      []error
	stopOnce  sync.Once
}

func startNative(watch string, workers int, sync bool, n int) (*nativeMover, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fsw.Add(filepath.Join(watch, "unprocessed")); err != nil {
		fsw.Close()
		return nil, err
	}
	m := &nativeMover{
		watch:     watch,
		sync:      sync,
		fsw:       fsw,
		queue:     make(chan string, 2*n+1024), // room for a rescan's duplicates
		done:      make(chan struct{}),
		processed: make(map[string]time.Time, n),
	}
	go m.events()
	for range workers {
		m.wg.Add(1)
		go m.worker()
	}
	return m, nil
}

// events queues every file that arrives; when the kernel's event queue
// overflowed it queues every file there (duplicates lose the claim).
func (m *nativeMover) events() {
	defer close(m.queue)
	for {
		select {
		case ev, ok := <-m.fsw.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				m.enqueue(filepath.Base(ev.Name))
			}
		case err, ok := <-m.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				names, _ := readNames(filepath.Join(m.watch, "unprocessed"))
				for _, name := range names {
					m.enqueue(name)
				}
			}
		}
	}
}

func (m *nativeMover) enqueue(name string) {
	select {
	case m.queue <- name:
	default:
		m.fail(fmt.Errorf("queue full, %s dropped", name))
	}
}

func (m *nativeMover) worker() {
	defer m.wg.Done()
	buf := make([]byte, 64<<10)
	for name := range m.queue {
		if err := m.move(name, buf); err != nil {
			m.fail(err)
		}
	}
}

func (m *nativeMover) move(name string, buf []byte) error {
	under := filepath.Join(m.watch, "underprocess")
	processed := filepath.Join(m.watch, "processed")
	claimed := filepath.Join(under, name)
	if err := os.Rename(filepath.Join(m.watch, "unprocessed", name), claimed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // claimed already, from a duplicate event
		}
		return err
	}
	m.syncDir(under)
	in, err := os.Open(claimed)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(processed, ".tmp-"+name)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	// Through user space, as the host reads and writes; io.Copy would use
	// copy_file_range and copy in the kernel.
	_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf)
	if err == nil && m.sync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(processed, name)); err != nil {
		return err
	}
	m.syncDir(processed)
	if err := os.Remove(claimed); err != nil {
		return err
	}
	m.syncDir(under)
	m.mu.Lock()
	m.processed[name] = time.Now()
	m.mu.Unlock()
	return nil
}

func (m *nativeMover) syncDir(dir string) {
	if !m.sync {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func (m *nativeMover) fail(err error) {
	m.mu.Lock()
	m.errs = append(m.errs, err)
	m.mu.Unlock()
}

func (m *nativeMover) exited() <-chan struct{} { return m.done }

func (m *nativeMover) stop() error {
	m.stopOnce.Do(func() {
		_ = m.fsw.Close() // ends events, which closes the queue
		m.wg.Wait()
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

func (m *nativeMover) times([]string) (map[string]time.Time, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.processed, "in process"
}

// cpu is this process's CPU time: the native mover's, plus the harness's
// own dropping of the files (renames), which the host's figure leaves out.
func (m *nativeMover) cpu() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

func (m *nativeMover) describe() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) == 0 {
		return ""
	}
	return fmt.Sprintf("; native mover: %v", m.errs[0])
}

func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
