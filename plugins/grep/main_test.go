//go:build !wasip1

package main

import (
	"testing"

	"github.com/filehost/host/sdk/sdktest"
)

func TestGrep(t *testing.T) {
	const log = "INFO start\nerror: disk full\nWARN slow\nERROR: timeout\n"
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", `{"pattern": "x"}`, "", ""},
		{"match", `{"pattern": "error"}`, log, "error: disk full\n"},
		{"ignore case", `{"pattern": "error", "ignore_case": true}`, log, "error: disk full\nERROR: timeout\n"},
		{"invert", `{"pattern": "^(INFO|WARN) ", "invert": true}`, log, "error: disk full\nERROR: timeout\n"},
		{"invert ignore case", `{"pattern": "error", "invert": true, "ignore_case": true}`, log, "INFO start\nWARN slow\n"},
		{"anchors are per line", `{"pattern": "^b$"}`, "a\nb\nbb\n", "b\n"},
		{"no match", `{"pattern": "zzz"}`, log, ""},
		{"empty lines", `{"pattern": "^$"}`, "a\n\nb\n\n", "\n\n"},
		{"no trailing newline", `{"pattern": "b"}`, "a\nb", "b"},
		{"crlf", `{"pattern": "y"}`, "x\r\ny\r\nyy\r\n", "y\r\nyy\r\n"},
		{"crlf not in line", `{"pattern": "y$"}`, "y\r\n", "y\r\n"},
		{"unicode", `{"pattern": "straße", "ignore_case": true}`, "STRAßE\nstrasse\n", "STRAßE\n"},
		{"invalid utf-8", `{"pattern": "a.b"}`, "a\xffb\nab\n", "a\xffb\n"},
	})
}

func TestGrepBadConfig(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{``, `"pattern" is required`},
		{`{"pattern": ""}`, `"pattern" is required`},
		{`{"pattern": "a(b"}`, `"pattern": error parsing regexp`},
		{`{"pattern": 3}`, `config key "pattern": want a string`},
		{`{"pattern": "a", "invert": "yes"}`, `config key "invert": want true or false`},
		{`{"pattern": "a", "ignore_case": 1}`, `config key "ignore_case": want true or false`},
		{`{"pattern": "a", "ignorecase": true}`, `unknown config key "ignorecase"`},
	})
}
