//go:build !wasip1

package main

import (
	"io"
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
	"github.com/filehost/host/sdk/sdktest"
)

func TestUpper(t *testing.T) {
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", "", "", ""},
		{"no trailing newline", "", "hello\nworld", "HELLO\nWORLD"},
		{"crlf and unicode", "", "straße ünd\r\n", "STRAßE ÜND\r\n"},
		{"invalid utf-8 kept", "", "bad \xff\xfe bytes\n", "BAD \xff\xfe BYTES\n"},
	})
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
