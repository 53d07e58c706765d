// Command count is a plugin that passes a file through unchanged and appends
// a summary line, like wc:
//
//	# lines=3 words=12 bytes=64
//
// lines counts lines (a last line without a newline counts too), words counts
// runs of non-whitespace, and bytes is the size of the input including line
// terminators. The summary line ends with the file's line terminator ("\r\n"
// in a CRLF file); if the last input line has no terminator, one is added
// before the summary so the two stay apart. An empty file gives just the
// summary.
//
// The plugin holds the whole file in memory, twice, to see its exact line
// terminators: a file can be up to about a quarter of the plugin's memory
// limit (the host's max_memory, 1 GiB by default, allows about 250 MB).
//
// Settings:
//
//	only_summary  bool    write only the summary line (default false)
//	prefix        string  text before the summary (default "# ")
package main

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

type settings struct {
	OnlySummary bool   `json:"only_summary"`
	Prefix      string `json:"prefix"`
}

const defaultPrefix = "# "

var cfg = settings{Prefix: defaultPrefix}

func init() {
	sdk.Configure(func(c sdk.Config) error {
		s := settings{Prefix: defaultPrefix}
		if err := c.Decode(&s); err != nil {
			return err
		}
		cfg = s
		return nil
	})
	sdk.Handle(&counter{})
}

// counter counts as lines go by and writes the summary at the end.
type counter struct {
	lines, words, bytes int
}

func (c *counter) Begin(string) error {
	*c = counter{}
	return nil
}

func (c *counter) Line(line []byte, emit func([]byte)) error {
	c.lines++
	c.words += words(line)
	c.bytes += len(line) + len(sdk.LineEnding())
	if !cfg.OnlySummary {
		emit(line)
	}
	return nil
}

func (c *counter) End(emit func([]byte)) error {
	emit(fmt.Appendf(nil, "%slines=%d words=%d bytes=%d", cfg.Prefix, c.lines, c.words, c.bytes))
	return nil
}

// words counts runs of characters that are not Unicode whitespace; invalid
// UTF-8 bytes count as word characters.
func words(b []byte) int {
	n, inWord := 0, false
	for len(b) > 0 {
		var space bool
		if c := b[0]; c < utf8.RuneSelf {
			space = c == ' ' || '\t' <= c && c <= '\r'
			b = b[1:]
		} else {
			r, size := utf8.DecodeRune(b)
			space = unicode.IsSpace(r)
			b = b[size:]
		}
		if space {
			inWord = false
		} else if !inWord {
			inWord = true
			n++
		}
	}
	return n
}

func main() {}
