// Package plugins_test runs the example plugins written in C, Rust and
// WebAssembly text next to their Go twins, through the host's own loader
// and chain, and checks that they give byte-identical output on the same
// inputs (docs/PLUGINS.md).
package plugins_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/filehost/host/internal/wasm"
	"github.com/filehost/host/internal/wasmtest"
)

type twin struct {
	name  string                       // the Go plugin's name
	other func(testing.TB) string      // builds the twin
	cfgs  []string                     // settings to compare under
	input func() map[string]string     // inputs by name
	skip  func(cfg, input string) bool // pairs outside the twin's contract
}

func TestTwins(t *testing.T) {
	twins := []twin{
		{name: "upper", other: func(t testing.TB) string { return wasmtest.BuildC(t, "upper") },
			cfgs: []string{"{}"}, input: textInputs},
		{name: "trim", other: func(t testing.TB) string { return wasmtest.BuildC(t, "trim") },
			cfgs: []string{"{}", `{"chars":" \t."}`, `{"chars":"-"}`, `{"chars":"ä€ \u00a0x"}`, `{"chars":"\ufffd"}`,
				`{"chars":"\u003c\u003e\u0026\"\\\t\ud83d\ude00\/ "}`, `{"chars":"x","chars":" "}`},
			input: textInputs},
		{name: "trim", other: func(t testing.TB) string { return wasmtest.BuildRust(t, "trim") },
			cfgs: []string{"{}"}, input: textInputs},
		{name: "grep", other: func(t testing.TB) string { return wasmtest.BuildC(t, "grep") },
			cfgs: []string{
				`{"pattern":"error"}`,
				`{"pattern":"error","ignore_case":true}`,
				`{"pattern":"^(INFO|WARN) ","invert":true}`,
				`{"pattern":"error","invert":true,"ignore_case":true}`,
				`{"pattern":"^b$"}`,
				`{"pattern":"^$"}`,
				`{"pattern":"[0-9]+ms"}`,
				`{"pattern":"a.b"}`,
				`{"pattern":"y$"}`,
				`{"pattern":"(card|cache) [a-z]+ [0-9]{4}"}`,
				`{"pattern":"straße","ignore_case":true}`,
				`{"pattern":"ünd|ÄÖ"}`,
				`{"pattern":"Disk","ignore_case":true}`,
				`{"pattern":"full","ignore_case":true}`,
				`{"pattern":"ERROR: t"}`,
				`{"pattern":"card 4111 ","invert":true}`,
			},
			input: grepInputs,
			// POSIX and RE2 read invalid UTF-8 differently; the C grep's
			// documented contract is valid UTF-8 without NUL bytes.
			skip: func(_, in string) bool { return !utf8.ValidString(in) || strings.Contains(in, "\x00") }},
		{name: "cat", other: func(t testing.TB) string { return wasmtest.BuildWat(t, "cat") },
			cfgs: []string{"{}"}, input: textInputs},
	}
	goCat := wasmtest.Build(t, "../internal/wasm/testdata/cat")
	for _, tw := range twins {
		other := tw.other(t)
		goPath := goCat
		if tw.name != "cat" {
			goPath = wasmtest.Plugin(t, tw.name)
		}
		for _, cfg := range tw.cfgs {
			goP := load(t, tw.name, goPath, cfg)
			otherP := load(t, tw.name, other, cfg)
			for name, in := range tw.input() {
				if tw.skip != nil && tw.skip(cfg, in) {
					continue
				}
				lims := []wasm.Limits{{}}
				if len(in) <= 256<<10 { // chunk edges in many places; the big inputs have plenty anyway
					lims = append(lims, wasm.Limits{ChunkSize: 1 << 10, MaxLine: 1 << 20})
				}
				for _, lim := range lims {
					t.Run(fmt.Sprintf("%s/%s/%s/chunk%d", other[strings.LastIndex(other, "/")+1:], cfg, name, lim.ChunkSize), func(t *testing.T) {
						want := run(t, goP, in, lim)
						got := run(t, otherP, in, lim)
						if !bytes.Equal(got, want) {
							i := firstDiff(got, want)
							t.Errorf("output differs from the Go build at byte %d of %d/%d:\n got %q\nwant %q",
								i, len(got), len(want), excerpt(got, i), excerpt(want, i))
						}
					})
				}
			}
		}
	}
}

// TestTwinsRefuseAlike checks that the C builds refuse the same bad
// settings as the Go builds, with messages that begin alike.
func TestTwinsRefuseAlike(t *testing.T) {
	cases := []struct{ plugin, cfg, want string }{
		{"trim", `{"chars":""}`, `config key "chars": must not be empty (leave it out to trim whitespace)`},
		{"trim", `{"chars":3}`, `config key "chars": want a string, got 3 (float64)`},
		{"trim", `{"char":"x"}`, `unknown config key "char" (settings of this plugin: chars)`},
		{"grep", `{}`, `config key "pattern" is required: the regular expression lines must match`},
		{"grep", `{"pattern":""}`, `config key "pattern" is required`},
		{"grep", `{"pattern":"a("}`, `config key "pattern": error parsing regexp: `},
		{"grep", `{"pattern":3}`, `config key "pattern": want a string, got 3 (float64)`},
		{"grep", `{"pattern":"a","invert":"yes"}`, `config key "invert": want true or false, got yes (string)`},
		{"grep", `{"pattern":"a","ignore_case":[1]}`, `config key "ignore_case": want true or false, got [1] ([]interface {})`},
		{"grep", `{"pattern":"a","ignorecase":true}`, `unknown config key "ignorecase" (settings of this plugin: pattern, invert, ignore_case)`},
		{"grep", `{"pattern":"a","nested":{"x":[1,{"y":null}]},"b":-1.5e3}`, `unknown config key "b" (settings of this plugin: pattern, invert, ignore_case)`},
		{"grep", `{"pattern":}`, `config is not a JSON object`},
		{"grep", `{"pattern":"a"} x`, `config is not a JSON object`},
		{"grep", `[1]`, `config is not a JSON object`},
	}
	e := engine(t)
	for _, c := range cases {
		for _, path := range []string{wasmtest.Plugin(t, c.plugin), wasmtest.BuildC(t, c.plugin)} {
			p, err := e.Load(context.Background(), wasm.Spec{Name: c.plugin, Path: path, Config: []byte(c.cfg)})
			if err == nil {
				_ = p.Close(context.Background())
				t.Errorf("%s with %s loaded, want an error", path, c.cfg)
				continue
			}
			if !strings.Contains(err.Error(), "configure: "+c.want) {
				t.Errorf("%s with %s: got %v, want configure: %s...", path, c.cfg, err, c.want)
			}
		}
	}
}

// engine is shared by the package's tests, with the compilation cache the
// other packages' tests use: each plugin is compiled once, however many
// settings it is loaded with.
func engine(t *testing.T) *wasm.Engine {
	t.Helper()
	engineOnce.Do(func() {
		sharedEngine, engineErr = wasm.NewEngine(filepath.Join(os.TempDir(), "wasmtest-cache"), nil)
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return sharedEngine
}

var (
	engineOnce   sync.Once
	sharedEngine *wasm.Engine
	engineErr    error
)

func load(t *testing.T, name, path, cfg string) *wasm.Plugin {
	t.Helper()
	p, err := engine(t).Load(context.Background(), wasm.Spec{Name: name, Path: path, Config: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func run(t *testing.T, p *wasm.Plugin, in string, lim wasm.Limits) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := wasm.Run(context.Background(), []*wasm.Plugin{p}, "in.txt", strings.NewReader(in), &out, lim); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// textInputs are the Go plugins' own test cases, log text, every code
// point, whitespace of every kind around lines, and random bytes.
func textInputs() map[string]string {
	in := map[string]string{
		"empty":               "",
		"no trailing newline": "hello\nworld",
		"crlf and unicode":    "straße ünd\r\n  x  \r\n",
		"invalid utf-8":       "bad \xff\xfe bytes\n\xff  \xe2\x80\n \xc2\xa0x\xc2\n",
		"only newlines":       "\n\n\r\n\n",
		"lone cr":             " a\rb \n",
		"nul bytes":           "a\x00b\n\x00 \n",
		"long line":           strings.Repeat(" abc.def-", 500) + "\n" + strings.Repeat("x", 3000),
		"log":                 string(wasmtest.LogText(200 << 10)),
	}
	in["every code point"] = codePoints(utf8.MaxRune)
	// Every Unicode space, alone and around words, and near-misses.
	spaces := []string{" ", "\t", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2005", "\u200a",
		"\u200b", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\u180e", ".", "-", "ä", "€", "x", "\ufffd"}
	var ws strings.Builder
	for _, a := range spaces {
		for _, b := range spaces {
			ws.WriteString(a + b + "word" + b + a + "\n" + a + "\n" + a + b + "\n")
		}
	}
	in["spaces"] = ws.String()
	// Random bytes, weighted towards UTF-8 lead and continuation bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	pool := []byte(" \t.-xaZ\xc2\xa0\x85\xe2\x80\x8a\xe3\xf0\x9f\x98\x80\xff\xc0\xed\xa0\xf4\x90\r\n")
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = pool[rng.IntN(len(pool))]
	}
	in["random bytes"] = string(b)
	return in
}

// codePoints is every code point up to last outside the surrogates, 64 to
// a line.
func codePoints(last rune) string {
	var all strings.Builder
	for r, n := rune(0), 0; r <= last; r++ {
		if r == '\n' || r == '\r' || (r >= 0xD800 && r <= 0xDFFF) {
			continue
		}
		all.WriteRune(r)
		if n++; n%64 == 0 {
			all.WriteByte('\n')
		}
	}
	return all.String()
}

// grepInputs are the Go grep's test inputs and log text; code points up to
// U+2FFF (the alphabets, where case folding happens), not all of them, for
// its many patterns.
func grepInputs() map[string]string {
	in := textInputs()
	in["every code point"] = codePoints(0x2FFF)
	in["levels"] = "INFO start\nerror: disk full\nWARN slow\nERROR: timeout\n"
	in["anchors"] = "a\nb\nbb\n\n\nb"
	in["crlf"] = "x\r\ny\r\nyy\r\n"
	in["unicode"] = "STRAßE\nstrasse\nstraße ünd\nÄÖ\näö\n"
	// Case folding of ASCII letters; the C build's regexec does not fold
	// U+017F to s nor U+212A to k as Go does (docs/PLUGINS.md), so those
	// stay out of the twins' contract.
	in["folding"] = "DISK\ndisk\ndIsK\nFULL\nfuLL\nf\u00fcll\nERROR: T\nerror: t\n"
	return in
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func excerpt(b []byte, i int) []byte {
	from, to := max(0, i-40), min(len(b), i+40)
	return b[from:to]
}
