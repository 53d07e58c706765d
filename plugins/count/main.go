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
// The plugin streams: it keeps only the counts, not the file, so a file of
// any size can be counted.
//
// Settings:
//
//	only_summary  bool    write only the summary line (default false)
//	prefix        string  text before the summary (default "# ")
package main

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

type settings struct {
	onlySummary bool
	prefix      string
}

const defaultPrefix = "# "

var cfg = settings{prefix: defaultPrefix}

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "count",
		Version:     "1.0.0",
		Description: "Passes a file through and appends a summary line of its lines, words and bytes, like wc.",
		Settings: []sdk.Setting{
			{Name: "only_summary", Type: "bool", Default: `false`, Description: "write only the summary line"},
			{Name: "prefix", Type: "string", Default: `"# "`, Description: "text before the summary"},
		},
	})
	sdk.Configure(func(c sdk.Config) error {
		if err := c.Only("only_summary", "prefix"); err != nil {
			return err
		}
		var s settings
		var err error
		if s.onlySummary, err = c.Bool("only_summary", false); err != nil {
			return err
		}
		if s.prefix, err = c.String("prefix", defaultPrefix); err != nil {
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
	if !cfg.onlySummary {
		emit(line)
	}
	return nil
}

func (c *counter) End(emit func([]byte)) error {
	b := append([]byte(cfg.prefix), "lines="...)
	b = strconv.AppendInt(b, int64(c.lines), 10)
	b = append(b, " words="...)
	b = strconv.AppendInt(b, int64(c.words), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, int64(c.bytes), 10)
	emit(b)
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
