package wasm

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes text a plugin wrote safe to print on a terminal or in a
// log line: control characters (escape sequences, NUL, CR, newlines, C1
// controls, bidirectional overrides) become Go-style escapes such as \x1b
// and \n, and invalid UTF-8 bytes become \xNN. Printable text, spaces and
// tabs are kept, so ordinary messages read unchanged.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if !safeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case safeRune(r):
			b.WriteString(s[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

func safeRune(r rune) bool {
	if r == '\t' || r == ' ' {
		return true
	}
	if r == utf8.RuneError {
		return false // may be an invalid byte; Escape decides
	}
	return unicode.IsPrint(r) || (unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r))
}
