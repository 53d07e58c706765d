// Command snake_case is a plugin that converts every line to snake_case:
// words are lower-cased and joined with single underscores.
//
//	Hello World       -> hello_world
//	parseHTTPRequest  -> parse_http_request
//	user-id           -> user_id
//	User.ID           -> user_id
//	Top10Items        -> top10_items
//
// A word ends at any character that is not a letter or digit (spaces,
// punctuation, hyphens, underscores, invalid UTF-8), which is dropped; and
// before a capital letter that follows a lower-case letter or a digit, or that
// starts a capitalised word after an acronym (HTTPServer -> http_server).
// Leading and trailing separators are dropped, so a line with no letters or
// digits becomes empty. Non-ASCII letters are handled (Größe Maß -> größe_maß).
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
		Name:        "snake_case",
		Version:     "1.0.0",
		Description: "Converts every line to snake_case: words lower-cased and joined with single underscores.",
	})
	// No settings: any key given is an error.
	sdk.Configure(func(c sdk.Config) error { return c.Only() })
	sdk.Map(snake)
}

var out []byte // reused from line to line; the SDK copies what Map returns

func snake(line []byte) []byte {
	out = out[:0]
	var prev rune // previous character of the current word; 0 between words
	sep := false  // an underscore is due before the next word character
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRune(line[i:])
		i += n
		if !isWord(r, n) {
			sep = len(out) > 0
			prev = 0
			continue
		}
		if prev != 0 && unicode.IsUpper(r) {
			next, _ := utf8.DecodeRune(line[i:])
			if unicode.IsLower(prev) || unicode.IsNumber(prev) || (unicode.IsUpper(prev) && unicode.IsLower(next)) {
				sep = true
			}
		}
		if sep {
			out = append(out, '_')
			sep = false
		}
		out = utf8.AppendRune(out, unicode.ToLower(r))
		prev = r
	}
	return out
}

// isWord reports whether the character r, n bytes long, belongs in a word.
func isWord(r rune, n int) bool {
	if r == utf8.RuneError && n == 1 { // invalid UTF-8
		return false
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

func main() {}
