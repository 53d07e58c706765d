// Command upper is a plugin that upper-cases every line. Letters are
// mapped by Unicode rules; bytes that are not valid UTF-8 pass through
// unchanged. It has no settings.
package main

import (
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

func init() {
	var out []byte
	sdk.Map(func(line []byte) []byte {
		out = out[:0]
		for i := 0; i < len(line); {
			c := line[i]
			if c < utf8.RuneSelf { // ASCII fast path
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				out = append(out, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, c) // not UTF-8: keep the byte
			} else {
				out = utf8.AppendRune(out, unicode.ToUpper(r))
			}
			i += size
		}
		return out
	})
}

func main() {}
