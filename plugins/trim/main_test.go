//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
)

func TestTrim(t *testing.T) {
	tests := []struct{ name, config, in, want string }{
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

func TestTrimBadConfig(t *testing.T) {
	tests := []struct{ config, key string }{
		{`{"chars": ""}`, `"chars"`},
		{`{"chars": 5}`, `config key "chars": want a string`},
		{`{"chars": ["x"]}`, `config key "chars": want a string`},
		{`{"charz": "x"}`, `unknown config key "charz"`},
	}
	for _, tt := range tests {
		err := sdk.Run(strings.NewReader("x\n"), new(strings.Builder), "in.txt", tt.config)
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("config %s: got error %v, want one naming %s", tt.config, err, tt.key)
		}
	}
}
