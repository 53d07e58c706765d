//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
)

func TestUpper(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello\nworld", "HELLO\nWORLD"},
		{"straße ünd\r\n", "STRAßE ÜND\r\n"},
		{"bad \xff\xfe bytes\n", "BAD \xff\xfe BYTES\n"},
	}
	for _, tt := range tests {
		var out strings.Builder
		if err := sdk.Run(strings.NewReader(tt.in), &out, "f", ""); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("upper(%q) = %q, want %q", tt.in, out.String(), tt.want)
		}
	}
}
