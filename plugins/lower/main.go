// Command lower is a plugin that lower-cases every line. Letters are mapped
// by Unicode rules; bytes that are not valid UTF-8 (say, a Latin-1 "É")
// pass through unchanged rather than being replaced, so mixed-encoding
// files are not damaged.
//
// It takes no settings; any given are an error.
package main

import (
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "lower",
		Version:     "1.0.0",
		Description: "Lower-cases every line by Unicode rules; bytes that are not UTF-8 pass through.",
	})
	// No settings: any key given is an error.
	sdk.Configure(func(c sdk.Config) error { return c.Only() })
	sdk.Map(lower)
}

var out []byte // reused from line to line; the SDK copies what Map returns

func lower(line []byte) []byte {
	out = out[:0]
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf { // ASCII fast path
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, c) // not UTF-8: keep the byte
		} else {
			out = utf8.AppendRune(out, unicode.ToLower(r))
		}
		i += n
	}
	return out
}

func main() {}
