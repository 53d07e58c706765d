//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
)

func TestGrep(t *testing.T) {
	const log = "INFO start\nerror: disk full\nWARN slow\nERROR: timeout\n"
	tests := []struct{ name, config, in, want string }{
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := sdk.Run(strings.NewReader(tt.in), &out, "in.txt", tt.config); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestGrepBadConfig(t *testing.T) {
	tests := []struct{ config, want string }{
		{``, `"pattern" is required`},
		{`{"pattern": ""}`, `"pattern" is required`},
		{`{"pattern": "a(b"}`, `"pattern": error parsing regexp`},
		{`{"pattern": 3}`, `config key "pattern": want a string`},
		{`{"pattern": "a", "invert": "yes"}`, `config key "invert": want true or false`},
		{`{"pattern": "a", "ignore_case": 1}`, `config key "ignore_case": want true or false`},
		{`{"pattern": "a", "ignorecase": true}`, `unknown config key "ignorecase"`},
	}
	for _, tt := range tests {
		err := sdk.Run(strings.NewReader("x\n"), new(strings.Builder), "in.txt", tt.config)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %s: got error %v, want one containing %s", tt.config, err, tt.want)
		}
	}
}
