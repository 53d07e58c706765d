package runtimecmp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// root is the host's module root.
var root = filepath.Join("..", "..", "..", "..")

func build(t testing.TB, name string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = filepath.Join(root, "plugins", name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// logText is like wasmtest.LogText: log lines with whitespace to trim,
// lower case to raise and WARN lines to drop.
func logText(size int) []byte {
	templates := []string{
		"  2026-11-29T10:%02d:00Z info user bob.smith@example.org logged in from 10.0.%d.7  ",
		"\t2026-11-29T10:%02d:01Z warn payment with card 4111 1111 1111 1111 declined for order %d",
		"2026-11-29T10:%02d:02Z info get /api/v1/items status 200 in %dms from 2001:db8::1f ",
		"2026-11-29T10:%02d:03Z debug cache hit ratio 0.97 over %d keys, nothing to mask here",
	}
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		fmt.Fprintf(&buf, templates[i%len(templates)], i%60, i%1000)
		buf.WriteByte('\n')
	}
	return buf.Bytes()[:size]
}

var configs = map[string][]byte{
	"trim":  []byte(`{}`),
	"upper": []byte(`{}`),
	"grep":  []byte(`{"ignore_case":true,"invert":true,"pattern":"WARN"}`),
}

// BenchmarkChain is the example chain over 16 MiB under each way of
// running plugins; every mode but wazero=plain can stop a looping plugin.
func BenchmarkChain(b *testing.B) {
	in := logText(16 << 20)
	bins := map[string][]byte{}
	for name := range configs {
		bins[name] = build(b, name)
	}
	modes := []struct {
		name     string
		load     func(ctx context.Context, bin, config []byte) (*plugin, func(), error)
		deadline bool
	}{
		{"wazero=plain", func(ctx context.Context, bin, c []byte) (*plugin, func(), error) {
			return loadWazero(ctx, bin, c, false)
		}, false},
		{"wazero=close-on-done", func(ctx context.Context, bin, c []byte) (*plugin, func(), error) {
			return loadWazero(ctx, bin, c, true)
		}, true},
		{"wazy", loadWazy, true},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			ctx := context.Background()
			var chain []*plugin
			for _, name := range []string{"trim", "upper", "grep"} {
				p, closeFn, err := m.load(ctx, bins[name], configs[name])
				if err != nil {
					b.Fatal(err)
				}
				defer closeFn()
				chain = append(chain, p)
			}
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				cctx, cancel := ctx, context.CancelFunc(func() {})
				if m.deadline {
					cctx, cancel = context.WithTimeout(ctx, time.Hour)
				}
				if _, err := runChain(cctx, chain, in, 64<<10); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}

// BenchmarkPipeRoundTrip sends 16 MiB in 64 KiB chunks to a child process
// (cat) and reads each back: the least a chain in a child process would
// add per plugin boundary crossed twice.
func BenchmarkPipeRoundTrip(b *testing.B) {
	in := logText(16 << 20)
	cmd := exec.Command("cat")
	w, _ := cmd.StdinPipe()
	r, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { w.Close(); cmd.Wait() }()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		for off := 0; off < len(in); off += len(buf) {
			chunk := in[off:min(off+len(buf), len(in))]
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, buf[:len(chunk)]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkChainRatio runs the example chain under wazero without a way to
// stop a loop and under wazy, in turn in each iteration so that both meet
// the same machine load, and reports wazy/plain: time under wazy over
// time under wazero.
func BenchmarkChainRatio(b *testing.B) {
	in := logText(16 << 20)
	ctx := context.Background()
	load := func(f func(ctx context.Context, bin, c []byte) (*plugin, func(), error)) []*plugin {
		var chain []*plugin
		for _, name := range []string{"trim", "upper", "grep"} {
			p, closeFn, err := f(ctx, build(b, name), configs[name])
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(closeFn)
			chain = append(chain, p)
		}
		return chain
	}
	plain := load(func(ctx context.Context, bin, c []byte) (*plugin, func(), error) {
		return loadWazero(ctx, bin, c, false)
	})
	wy := load(loadWazy)
	var tPlain, tWazy time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := runChain(ctx, plain, in, 64<<10); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		cctx, cancel := context.WithTimeout(ctx, time.Hour)
		if _, err := runChain(cctx, wy, in, 64<<10); err != nil {
			b.Fatal(err)
		}
		cancel()
		tPlain += mid.Sub(start)
		tWazy += time.Since(mid)
	}
	b.ReportMetric(tWazy.Seconds()/tPlain.Seconds(), "wazy/plain")
}
