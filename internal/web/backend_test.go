package web

import (
	"context"
	"errors"
	"fmt"
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
func (b *fakeBackend) Started() time.Time               { return b.started }
func (b *fakeBackend) setReady(err error)               { b.mu.Lock(); b.ready = err; b.mu.Unlock() }
func (b *fakeBackend) Ready() error                     { b.mu.Lock(); defer b.mu.Unlock(); return b.ready }
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

func (b *fakeBackend) Result(id uint64) (string, error) {
	f, ok := b.tr.Get(id)
	if !ok || f.State != tracker.Processed || f.Output == "" {
		return "", fmt.Errorf("file %d: %w: no result", id, fs.ErrNotExist)
	}
	return f.Output, nil
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
