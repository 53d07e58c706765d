// Command lower is a plugin that lower-cases every line (Unicode-aware).
//
// Bytes that are not valid UTF-8 (say, a Latin-1 "é") are passed through
// unchanged rather than replaced, so mixed-encoding files are not damaged.
//
// It takes no settings.
package main

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

func init() { sdk.Map(lower) }

func lower(line []byte) []byte {
	if utf8.Valid(line) {
		return bytes.ToLower(line)
	}
	// bytes.ToLower would turn each invalid byte into U+FFFD; keep it instead.
	out := make([]byte, 0, len(line))
	for len(line) > 0 {
		r, n := utf8.DecodeRune(line)
		if r == utf8.RuneError && n == 1 {
			out = append(out, line[0])
		} else {
			out = utf8.AppendRune(out, unicode.ToLower(r))
		}
		line = line[n:]
	}
	return out
}

func main() {}
