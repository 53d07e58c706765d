package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	hostfolder "github.com/filehost/host/internal/folder"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/tracker"
	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

// fakeBackend is a Backend over a real tracker, a temporary folder and,
// when asked, a real plugin.
type fakeBackend struct {
	tr        *tracker.Tracker
	dir       string // watch folder: unprocessed/, processed/, failed/ below
	plugins   []*wasm.Plugin
	pipelines []host.PipelineConfig
	started   time.Time

	mu      sync.Mutex
	ready   error
	retried []uint64
	deleted []uint64
	ignored []host.Ignored
	folders []string // extra watched folders, each with unprocessed/
	// reload is what Reload returns; reloads counts the calls.
	reload  error
	reloads int
	status  host.ReloadStatus
}

var _ Backend = (*fakeBackend)(nil)

func newFakeBackend(t testing.TB) *fakeBackend {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"unprocessed", "processed", "failed"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &fakeBackend{
		tr:  tracker.New(1000),
		dir: dir,
		pipelines: []host.PipelineConfig{
			{Name: "text", Match: []string{"*.txt"}, Content: "text", Plugins: []string{"upper"}, Output: "{stem}.out"},
			{Name: "all", Plugins: []string{"upper", "upper"}},
		},
		started: time.Now().Add(-90 * time.Minute),
	}
}

func (b *fakeBackend) Tracker() *tracker.Tracker        { return b.tr }
func (b *fakeBackend) Plugins() []*wasm.Plugin          { return b.plugins }
func (b *fakeBackend) Pipelines() []host.PipelineConfig { return b.pipelines }
func (b *fakeBackend) UploadDir() string                { return filepath.Join(b.dir, "unprocessed") }
func (b *fakeBackend) Folders() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string{b.dir}, b.folders...)
}
func (b *fakeBackend) Ignored() []host.Ignored {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ignored)
}

// addFolder adds a watched folder and returns it.
func (b *fakeBackend) addFolder(t testing.TB) string {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "unprocessed"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.folders = append(b.folders, dir)
	b.mu.Unlock()
	return dir
}

// Deposit is host.Service's, simplified: a temp file linked under a free
// name.
func (b *fakeBackend) Deposit(folder, name string, r io.Reader, limit int64) (string, error) {
	if !slices.Contains(b.Folders(), folder) {
		return "", fmt.Errorf("%w: not a watched folder", fs.ErrNotExist)
	}
	dir := filepath.Join(folder, "unprocessed")
	tmp, err := os.CreateTemp(dir, ".host-tmp-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(r, limit+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("%s: %w", name, host.ErrTooLarge)
	}
	if err != nil {
		return "", err
	}
	for i := 0; ; i++ {
		dst := filepath.Join(dir, hostfolder.Variant(name, i))
		if err := os.Link(tmp.Name(), dst); err == nil {
			return dst, nil
		} else if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}
func (b *fakeBackend) Started() time.Time { return b.started }

func (b *fakeBackend) Reload(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reloads++
	if b.status.Generation == 0 {
		b.status.Generation = 1
	}
	b.status.LastAt, b.status.LastOK = time.Now(), b.reload == nil
	if b.reload != nil {
		b.status.LastError = b.reload.Error()
		b.status.Failed++
		return b.reload
	}
	b.status.Generation++
	b.status.Reloads++
	b.status.LastError = ""
	return nil
}

func (b *fakeBackend) ReloadStatus() host.ReloadStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.status.Generation == 0 {
		b.status.Generation = 1
	}
	return b.status
}
func (b *fakeBackend) setReady(err error) { b.mu.Lock(); b.ready = err; b.mu.Unlock() }
func (b *fakeBackend) Ready() error       { b.mu.Lock(); defer b.mu.Unlock(); return b.ready }
func (b *fakeBackend) retries() []uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.retried)
}
func (b *fakeBackend) folder(sub string) string { return filepath.Join(b.dir, sub) }
func (b *fakeBackend) uploaded(name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(b.UploadDir(), name))
	return string(data), err
}

// Retry behaves as host.Service's: only a failed file can go back.
func (b *fakeBackend) Retry(id uint64) error {
	f, ok := b.tr.Get(id)
	if !ok || f.State != tracker.Failed {
		return fmt.Errorf("file %d: %w: not a failed file", id, fs.ErrNotExist)
	}
	b.mu.Lock()
	b.retried = append(b.retried, id)
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) OpenResult(id uint64) (*os.File, fs.FileInfo, error) {
	return b.open(id, tracker.Processed, "")
}

func (b *fakeBackend) OpenFailed(id uint64) (*os.File, fs.FileInfo, error) {
	return b.open(id, tracker.Failed, "")
}

func (b *fakeBackend) Report(id uint64) ([]byte, error) {
	f, _, err := b.open(id, tracker.Failed, ".error.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (b *fakeBackend) DeleteFailed(id uint64) error {
	f, ok := b.tr.Get(id)
	if !ok || f.State != tracker.Failed {
		return fmt.Errorf("file %d: %w: not a failed file", id, fs.ErrNotExist)
	}
	os.Remove(f.Output)
	os.Remove(f.Output + ".error.json")
	b.tr.Forget(id)
	b.mu.Lock()
	b.deleted = append(b.deleted, id)
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) open(id uint64, state tracker.State, suffix string) (*os.File, fs.FileInfo, error) {
	f, ok := b.tr.Get(id)
	if !ok || f.State != state || f.Output == "" {
		return nil, nil, fmt.Errorf("file %d: %w: not a %s file", id, fs.ErrNotExist, state)
	}
	file, err := os.Open(f.Output + suffix)
	if err != nil {
		return nil, nil, err
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, fi, nil
}

// processed runs a file through the tracker to the end and writes its
// result.
func (b *fakeBackend) processed(t testing.TB, name, content string) uint64 {
	t.Helper()
	size := int64(len(content))
	id := b.tr.Queue(b.dir, name, size)
	b.tr.Start(id, "text", size, 1)
	out := filepath.Join(b.folder("processed"), fmt.Sprintf("%d-result", id))
	result := []byte(content + "!")
	if err := os.WriteFile(out, result, 0o644); err != nil {
		t.Fatal(err)
	}
	b.tr.Finish(id, tracker.Result{
		Output: out, BytesIn: size, BytesOut: int64(len(result)),
		Stages: []tracker.Stage{{Plugin: "upper", BytesIn: size, BytesOut: int64(len(result)), Duration: 3 * time.Millisecond}},
	})
	return id
}

func (b *fakeBackend) failed(t testing.TB, name, msg string) uint64 {
	t.Helper()
	orig := filepath.Join(b.folder("failed"), name)
	if err := os.WriteFile(orig, []byte("original of "+name), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ := json.Marshal(map[string]any{"file": name, "error": msg, "plugin": "upper"})
	if err := os.WriteFile(orig+".error.json", rep, 0o644); err != nil {
		t.Fatal(err)
	}
	id := b.tr.Queue(b.dir, name, 10)
	b.tr.Start(id, "text", 10, 1)
	b.tr.Finish(id, tracker.Result{
		Output: filepath.Join(b.folder("failed"), name), BytesIn: 4,
		Stages: []tracker.Stage{{Plugin: "upper", BytesIn: 4, Duration: time.Millisecond}},
		Err:    errors.New(msg), Plugin: "upper",
	})
	return id
}

func (b *fakeBackend) processing(name string, size, done int64) uint64 {
	id := b.tr.Queue(b.dir, name, size)
	b.tr.Start(id, "text", size, 1)
	b.tr.Progress(id, done)
	return id
}

var (
	pluginOnce sync.Once
	testPlugin *wasm.Plugin
	pluginErr  error
)

// withPlugin loads the real "upper" plugin once per test binary.
func (b *fakeBackend) withPlugin(t testing.TB) *fakeBackend {
	t.Helper()
	pluginOnce.Do(func() {
		path := wasmtest.Build(t, filepath.Join(wasmtest.Root(t), "plugins", "upper"))
		eng, err := wasm.NewEngine("", nil)
		if err != nil {
			pluginErr = err
			return
		}
		// Not closed: shared by every test in the binary.
		testPlugin, pluginErr = eng.Load(context.Background(), wasm.Spec{Name: "upper", Path: path})
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	b.plugins = []*wasm.Plugin{testPlugin}
	return b
}

// testServer is a Server over a fake backend, served by httptest on a
// loopback address.
type testServer struct {
	*Server
	b   *fakeBackend
	url string
}

func newTestServer(t testing.TB, b *fakeBackend, opts Options) *testServer {
	t.Helper()
	if opts.Version == "" {
		opts.Version = "v1.2.3-test"
	}
	s := New(b, opts)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		_ = s.Close() // First: ends event streams, which httptest would wait for.
		ts.Close()
	})
	return &testServer{Server: s, b: b, url: ts.URL}
}

// do sends a request with optional headers (pairs of name, value).
func (ts *testServer) do(t testing.TB, method, path string, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, stringsReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// trackerResult is a processed file's result, written to processed/.
func trackerResult(b *fakeBackend, size int64) tracker.Result {
	out := filepath.Join(b.folder("processed"), fmt.Sprintf("result-%d", time.Now().UnixNano()))
	_ = os.WriteFile(out, []byte("done\n"), 0o644)
	return tracker.Result{
		Output: out, BytesIn: size, BytesOut: 5,
		Stages: []tracker.Stage{{Plugin: "upper", BytesIn: size, BytesOut: 5, Duration: 2 * time.Millisecond}},
	}
}
