// Command csv2jsonl is a plugin that converts CSV with a header row to JSON
// Lines: one JSON object per record, with the header's names as keys (in
// header order) and the fields as string values.
//
//	name,age          {"name":"Ann","age":"41"}
//	Ann,41       ->   {"name":"Bob, Jr.","age":"7"}
//	"Bob, Jr.",7
//
// The CSV is read as RFC 4180 (https://pkg.go.dev/encoding/csv): fields may
// be quoted, a quote inside a quoted field is doubled, and a quoted field
// may contain line breaks (the record then spans several input lines and
// the value gets "\n" for each). Empty lines are skipped, a UTF-8 byte order
// mark before the header is dropped, and invalid UTF-8 becomes U+FFFD. A
// file that is empty or has only a header gives empty output.
//
// The file fails, with the line number, on a record whose number of fields
// differs from the header's, on malformed quoting, on a header name that is
// empty or repeated, and on a quoted field left open at the end of the file
// or across more than 8 MiB (likely a missing quote).
//
// Settings:
//
//	delimiter   string  the field separator, one character: "," (default),
//	                    ";", "\t", "|"...
//	trim_space  bool    remove leading and trailing whitespace from header
//	                    names and values, quoted or not; whitespace before an
//	                    opening quote is then allowed, but after a closing
//	                    quote it is still an error (default false)
package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

type settings struct {
	Delimiter string `json:"delimiter"`
	TrimSpace bool   `json:"trim_space"`
}

// maxRecord bounds the text buffered for one record, so a stray quote does
// not make the plugin hold the rest of a large file.
const maxRecord = 8 << 20

type converter struct {
	comma rune
	trim  bool
	lead  bool // skip whitespace before a field, as csv.Reader.TrimLeadingSpace

	line    int      // number of the current input line
	start   int      // line number where the record being read starts
	pending []byte   // text of the record being read
	keys    [][]byte // header names as JSON strings; nil until the header
	out     []byte

	// The csv.Reader is given one complete record at a time through src;
	// fed counts the lines it was given before the current record.
	r   *csv.Reader
	src feed
	fed int
}

var c = &converter{comma: ','}

func init() {
	sdk.Configure(func(cfg sdk.Config) error {
		s := settings{Delimiter: ","}
		if err := cfg.Decode(&s); err != nil {
			return err
		}
		r, n := utf8.DecodeRuneInString(s.Delimiter)
		if n == 0 || n != len(s.Delimiter) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return fmt.Errorf(`config key "delimiter": want one character other than a quote or line break, got %q`, s.Delimiter)
		}
		c.comma, c.trim = r, s.TrimSpace
		// csv.Reader would also skip a whitespace delimiter, losing empty
		// fields, so then trim only after parsing.
		c.lead = s.TrimSpace && !unicode.IsSpace(r)
		return nil
	})
	sdk.Handle(c)
}

func (c *converter) Begin(string) error {
	c.line, c.pending, c.keys, c.fed = 0, c.pending[:0], nil, 0
	c.r = csv.NewReader(&c.src)
	c.r.Comma, c.r.TrimLeadingSpace = c.comma, c.lead
	c.r.FieldsPerRecord, c.r.ReuseRecord = -1, true
	return nil
}

func (c *converter) Line(line []byte, emit func([]byte)) error {
	c.line++
	if c.line == 1 {
		line = bytes.TrimPrefix(line, []byte("\uFEFF"))
	}
	continued := len(c.pending) > 0
	if !continued {
		if len(line) == 0 {
			return nil
		}
		c.start = c.line
	}
	c.pending = append(append(c.pending, line...), '\n')
	if c.open(line, continued) {
		if len(c.pending) > maxRecord {
			return sdk.Failf("line %d: record longer than %d bytes; is a quote missing?", c.start, maxRecord)
		}
		return nil
	}
	fields, err := c.parse(c.pending)
	c.pending = c.pending[:0]
	if err != nil {
		return err
	}
	if c.keys == nil {
		return c.setHeader(fields)
	}
	if len(fields) != len(c.keys) {
		return sdk.Failf("line %d: record has %d fields, header has %d", c.start, len(fields), len(c.keys))
	}
	c.out = append(c.out[:0], '{')
	for i, f := range fields {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.keys[i]...)
		c.out = append(c.out, ':')
		c.out = appendString(c.out, f)
	}
	emit(append(c.out, '}'))
	return nil
}

func (c *converter) End(func([]byte)) error {
	if len(c.pending) > 0 {
		return sdk.Failf("line %d: quoted field not closed at end of file", c.start)
	}
	return nil
}

// open reports whether a quoted field is still open at the end of line,
// given whether one was open at its start. It follows encoding/csv: a quote
// opens a field only at the field's start.
func (c *converter) open(line []byte, inQuotes bool) bool {
	fieldStart := !inQuotes
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRune(line[i:])
		i += n
		switch {
		case inQuotes:
			if r == '"' {
				if i < len(line) && line[i] == '"' {
					i++ // doubled quote
				} else {
					inQuotes = false
				}
			}
		case r == c.comma:
			fieldStart = true
		case r == '"' && fieldStart:
			inQuotes, fieldStart = true, false
		case c.lead && fieldStart && unicode.IsSpace(r):
			// leading space: the field has not begun
		default:
			fieldStart = false
		}
	}
	return inQuotes
}

// parse parses rec, the text of one complete record.
func (c *converter) parse(rec []byte) ([]string, error) {
	c.src.rec = rec
	before := c.fed
	c.fed += bytes.Count(rec, []byte("\n"))
	fields, err := c.r.Read()
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return nil, sdk.Failf("line %d, column %d: %v", c.start+pe.Line-before-1, pe.Column, pe.Err)
	} else if err != nil {
		return nil, sdk.Failf("line %d: %v", c.start, err)
	}
	if c.trim {
		for i, f := range fields {
			fields[i] = strings.TrimSpace(f)
		}
	}
	return fields, nil
}

// feed is an io.Reader of the record text last put in rec.
type feed struct{ rec []byte }

func (f *feed) Read(p []byte) (int, error) {
	if len(f.rec) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.rec)
	f.rec = f.rec[n:]
	return n, nil
}

func (c *converter) setHeader(names []string) error {
	c.keys = make([][]byte, len(names))
	seen := make(map[string]int, len(names))
	for i, name := range names {
		if name == "" {
			return sdk.Failf("line %d: header column %d has no name", c.start, i+1)
		}
		if j, dup := seen[name]; dup {
			return sdk.Failf("line %d: header name %q is used by columns %d and %d", c.start, name, j+1, i+1)
		}
		seen[name] = i
		c.keys[i] = appendString(nil, name)
	}
	return nil
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, `\n`...)
			case c == '\r':
				dst = append(dst, `\r`...)
			case c == '\t':
				dst = append(dst, `\t`...)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // valid JSON, but not JavaScript
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[r&0xf])
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

func main() {}
