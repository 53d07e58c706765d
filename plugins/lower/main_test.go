//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
)

func TestLower(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"ascii", "Hello WORLD\nMiXeD 123\n", "hello world\nmixed 123\n"},
		{"no trailing newline", "ABC\nDEF", "abc\ndef"},
		{"crlf", "ONE\r\nTWO\r\n", "one\r\ntwo\r\n"},
		{"blank lines", "\n\nA\n", "\n\na\n"},
		{"unicode", "ÄÖÜ ÉCOLE ΣΟΦΙΑ Ǆ\n", "äöü école σοφια ǆ\n"},
		{"invalid utf-8 kept", "CAF\xe9 \xff ÉTÉ\n", "caf\xe9 \xff été\n"},
		{"replacement char kept", "A\uFFFDB\n", "a\uFFFDb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := sdk.Run(strings.NewReader(tt.in), &out, "in.txt", ""); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestSettingsRejected(t *testing.T) {
	err := sdk.Run(strings.NewReader("x\n"), new(strings.Builder), "in.txt", `{"chars": " "}`)
	if err == nil || !strings.Contains(err.Error(), `unknown config key "chars" (settings of this plugin: none)`) {
		t.Errorf("got error %v, want one naming \"chars\"", err)
	}
}
