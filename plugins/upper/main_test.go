//go:build !wasip1

package main

import (
	"io"
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

func BenchmarkUpper(b *testing.B) {
	line := "2024-05-01T10:20:30Z info request from 203.0.113.9 user=ann@example.com path=/api/v1.2/items took 12.5ms\n"
	in := strings.Repeat(line, 10_000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := sdk.Run(strings.NewReader(in), io.Discard, "in.log", ""); err != nil {
			b.Fatal(err)
		}
	}
}
