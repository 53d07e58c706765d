//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
	"github.com/filehost/host/sdk/sdktest"
)

func TestCount(t *testing.T) {
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", "", "", "# lines=0 words=0 bytes=0\n"},
		{"simple", "", "hello world\nfoo\n", "hello world\nfoo\n# lines=2 words=3 bytes=16\n"},
		{"no trailing newline", "", "a b\nc", "a b\nc\n# lines=2 words=3 bytes=5\n"},
		{"single line no newline", "", "x", "x\n# lines=1 words=1 bytes=1\n"},
		{"crlf", "", "a b\r\nc\r\n", "a b\r\nc\r\n# lines=2 words=3 bytes=8\r\n"},
		{"crlf no trailing newline", "", "a\r\nb", "a\r\nb\r\n# lines=2 words=2 bytes=4\r\n"},
		{"blank lines", "", "\n\n\n", "\n\n\n# lines=3 words=0 bytes=3\n"},
		{"whitespace kinds", "", "a\tb  c\u00a0d\u3000e\n", "a\tb  c\u00a0d\u3000e\n# lines=1 words=5 bytes=14\n"},
		{"unicode bytes", "", "héllo wörld\n", "héllo wörld\n# lines=1 words=2 bytes=14\n"},
		{"invalid utf-8 is a word", "", "\xff \xfe\xfd\n", "\xff \xfe\xfd\n# lines=1 words=2 bytes=5\n"},
		{"only summary", `{"only_summary": true}`, "a b\nc", "# lines=2 words=3 bytes=5\n"},
		{"only summary empty", `{"only_summary": true}`, "", "# lines=0 words=0 bytes=0\n"},
		{"only summary crlf", `{"only_summary": true}`, "a\r\n", "# lines=1 words=1 bytes=3\r\n"},
		{"prefix", `{"prefix": "total: "}`, "a\n", "a\ntotal: lines=1 words=1 bytes=2\n"},
		{"empty prefix", `{"prefix": ""}`, "a\n", "a\nlines=1 words=1 bytes=2\n"},
	})
}

func TestCountLongLine(t *testing.T) {
	// Longer than the SDK's read buffer, so the line arrives in pieces.
	line := strings.Repeat("ab ", 100_000)
	var out strings.Builder
	if err := sdk.Run(strings.NewReader(line+"\n"), &out, "in.txt", `{"only_summary": true}`); err != nil {
		t.Fatal(err)
	}
	if want := "# lines=1 words=100000 bytes=300001\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestCountBadConfig(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{`{"only_summary": "yes"}`, `config key "only_summary": want true or false`},
		{`{"prefix": 1}`, `config key "prefix": want a string`},
		{`{"summary_only": true}`, `unknown config key "summary_only"`},
	})
}
