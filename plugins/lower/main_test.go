//go:build !wasip1

package main

import (
	"testing"

	"github.com/filehost/host/sdk/sdktest"
)

func TestLower(t *testing.T) {
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", "", "", ""},
		{"ascii", "", "Hello WORLD\nMiXeD 123\n", "hello world\nmixed 123\n"},
		{"no trailing newline", "", "ABC\nDEF", "abc\ndef"},
		{"crlf", "", "ONE\r\nTWO\r\n", "one\r\ntwo\r\n"},
		{"blank lines", "", "\n\nA\n", "\n\na\n"},
		{"unicode", "", "ÄÖÜ ÉCOLE ΣΟΦΙΑ Ǆ\n", "äöü école σοφια ǆ\n"},
		{"invalid utf-8 kept", "", "CAF\xe9 \xff ÉTÉ\n", "caf\xe9 \xff été\n"},
		{"replacement char kept", "", "A\uFFFDB\n", "a\uFFFDb\n"},
	})
}

func TestSettingsRejected(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{`{"chars": " "}`, `unknown config key "chars" (settings of this plugin: none)`},
	})
}
