//go:build !wasip1

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
	"github.com/filehost/host/sdk/sdktest"
)

func TestDedupe(t *testing.T) {
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", "", "", ""},
		{"anywhere", "", "a\nb\na\nc\nb\n", "a\nb\nc\n"},
		{"keeps first", "", "x\ny\ny\nx\n", "x\ny\n"},
		{"exact compare", "", "a\nA\na \n a\n", "a\nA\na \n a\n"},
		{"blank lines", "", "\na\n\n\n", "\na\n"},
		{"no trailing newline", "", "a\nb\na", "a\nb\n"},
		{"unterminated last kept", "", "a\nb", "a\nb"},
		{"crlf", "", "a\r\nb\r\na\r\n", "a\r\nb\r\n"},
		{"terminator ignored", "", "a\r\na\n", "a\r\n"},
		{"invalid utf-8", "", "\xff\n\xfe\n\xff\n", "\xff\n\xfe\n"},
		{"adjacent", `{"adjacent": true}`, "a\na\nb\na\na\n", "a\nb\na\n"},
		{"adjacent blank", `{"adjacent": true}`, "\n\nx\n\n", "\nx\n\n"},
		{"adjacent first empty", `{"adjacent": true}`, "\na\n", "\na\n"},
		{"adjacent no trailing newline", `{"adjacent": true}`, "a\na", "a\n"},
		{"adjacent crlf", `{"adjacent": true}`, "a\r\na\r\nb\r\n", "a\r\nb\r\n"},
		{"max entries not reached", `{"max_entries": 2}`, "a\nb\na\nb\n", "a\nb\n"},
		{"max entries ignored when adjacent", `{"adjacent": true, "max_entries": 1}`, "a\nb\nc\n", "a\nb\nc\n"},
	})
}

func TestDedupeStatePerFile(t *testing.T) {
	for _, config := range []string{"", `{"adjacent": true}`} {
		for i := range 2 {
			var out strings.Builder
			if err := sdk.Run(strings.NewReader("a\na\n"), &out, fmt.Sprint("f", i), config); err != nil {
				t.Fatal(err)
			}
			if out.String() != "a\n" {
				t.Errorf("config %q, file %d: got %q, want %q", config, i, out.String(), "a\n")
			}
		}
	}
}

func TestDedupeMaxEntries(t *testing.T) {
	err := sdk.Run(strings.NewReader("a\nb\na\nc\n"), new(strings.Builder), "in.txt", `{"max_entries": 2}`)
	if err == nil || !strings.Contains(err.Error(), "line 4: more than 2 distinct lines (max_entries)") {
		t.Errorf("got error %v, want one about max_entries at line 4", err)
	}
}

func TestDedupeBadConfig(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{`{"max_entries": 0}`, `config key "max_entries": must be at least 1`},
		{`{"max_entries": -5}`, `config key "max_entries": must be at least 1`},
		{`{"max_entries": 1.5}`, `config key "max_entries": want an integer`},
		{`{"max_entries": "10"}`, `config key "max_entries": want an integer`},
		{`{"adjacent": 1}`, `config key "adjacent": want true or false`},
		{`{"uniq": true}`, `unknown config key "uniq"`},
	})
}

func BenchmarkDedupe(b *testing.B) {
	var in strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&in, "2024-05-01 12:00:%02d GET /item/%d 200\n", i%60, i%50_000)
	}
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		if err := sdk.Run(strings.NewReader(in.String()), new(strings.Builder), "in.txt", ""); err != nil {
			b.Fatal(err)
		}
	}
}
