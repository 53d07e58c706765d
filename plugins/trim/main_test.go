//go:build !wasip1

package main

import (
	"testing"

	"github.com/filehost/host/sdk/sdktest"
)

func TestTrim(t *testing.T) {
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", "", "", ""},
		{"spaces and tabs", "", "  a b  \n\tc\t\n", "a b\nc\n"},
		{"no trailing newline", "", " x \n y ", "x\ny"},
		{"crlf", "", "  one \r\n two  \r\n", "one\r\ntwo\r\n"},
		{"whitespace-only line", "", "   \t \nz\n", "\nz\n"},
		{"unicode whitespace", "", "\u00a0\u3000wide\u2003\n", "wide\n"},
		{"invalid utf-8 kept", "", "  \xff\xfe  \n", "\xff\xfe\n"},
		{"chars", `{"chars": "-=# "}`, "## Title ##\n-=-=-\n", "Title\n\n"},
		{"chars leaves whitespace", `{"chars": "."}`, ". a .\n", " a \n"},
		{"chars unicode", `{"chars": "→·"}`, "→·x·→\n", "x\n"},
	})
}

func TestTrimBadConfig(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{`{"chars": ""}`, `"chars"`},
		{`{"chars": 5}`, `config key "chars": want a string`},
		{`{"chars": ["x"]}`, `config key "chars": want a string`},
		{`{"charz": "x"}`, `unknown config key "charz"`},
	})
}
