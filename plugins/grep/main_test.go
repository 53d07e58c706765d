//go:build !wasip1

package main

import (
	"regexp"
	"strings"
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
		{"literal", `{"pattern": "WARN"}`, "INFO a\nWARN b\nxWARNx\nWAR\n", "WARN b\nxWARNx\n"},
		{"literal invert", `{"pattern": "WARN", "invert": true}`, "INFO a\nWARN b\nWAR", "INFO a\nWAR"},
		{"U+FFFD matches invalid utf-8", `{"pattern": "\uFFFD"}`, "a\xffb\nab\n", "a\xffb\n"},
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

func TestLiteral(t *testing.T) {
	for expr, want := range map[string]string{
		"WARN":      "WARN",
		`a\.b`:      "a.b",
		"straße":    "straße",
		"(?:ab)c":   "abc",
		"a|b":       "",
		"^WARN":     "",
		"WARN$":     "",
		"(?i)warn":  "",
		"(?i)123":   "",
		"a.b":       "",
		"\uFFFD":    "", // the regexp reads invalid bytes as U+FFFD
		`x\x{FFFD}`: "",
		"a(":        "",
	} {
		if got := string(literal(expr)); got != want {
			t.Errorf("literal(%q) = %q, want %q", expr, got, want)
		}
	}
}

// TestLiteralMatch compares the byte search for a literal pattern with the
// regexp it stands for, at many places of a match and with bytes that are
// not UTF-8 around it.
func TestLiteralMatch(t *testing.T) {
	lits := []string{"W", "WARN", "ab", "aab", "é", "日本", "a.b", "\x00", "\n"}
	fill := []string{"", "x", "a", "aa", "WAR", "\xff", "\xe6\x97", "\xc3", "WARW", "0123456789abcdef"}
	defer func() { re, lit = nil, nil }()
	for _, l := range lits {
		want := regexp.MustCompile(regexp.QuoteMeta(l))
		re, lit = nil, literal(regexp.QuoteMeta(l)) // re nil: match must not use it
		if string(lit) != l {
			t.Fatalf("literal(%q) = %q", regexp.QuoteMeta(l), lit)
		}
		for _, a := range fill {
			for _, b := range fill {
				for n := range 10 {
					pad := strings.Repeat("-", n)
					for _, s := range []string{pad + a + b, pad + a + l + b, a + pad + l, pad + l + a + l, a + l[:len(l)-1] + pad} {
						if got := match([]byte(s)); got != want.MatchString(s) {
							t.Fatalf("pattern %q, line %q: match %v, regexp %v", l, s, got, !got)
						}
					}
				}
			}
		}
	}
}
