// Command csv2jsonl is a plugin that converts CSV with a header row to JSON
// Lines: one JSON object per record, with the header's names as keys (in
// header order) and the fields as string values.
//
//	name,age          {"name":"Ann","age":"41"}
//	Ann,41       ->   {"name":"Bob, Jr.","age":"7"}
//	"Bob, Jr.",7
//
// The CSV is read as RFC 4180, by the rules of Go's encoding/csv
// (https://pkg.go.dev/encoding/csv) with strict quoting: fields may be
// quoted, a quote inside a quoted field is doubled, and a quoted field may
// contain line breaks (the record then spans several input lines and the
// value gets "\n" for each). Empty lines are skipped, a UTF-8 byte order
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
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

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

	buf    []byte   // unquoted text of the fields of the record being parsed
	ends   []int    // end of each field in buf
	fields []string // the fields, reused from record to record
}

var c = &converter{comma: ','}

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "csv2jsonl",
		Version:     "1.0.0",
		Description: "Converts CSV with a header row to JSON Lines, one object per record.",
		Settings: []sdk.Setting{
			{Name: "delimiter", Type: "string", Default: `","`, Description: "the field separator, one character"},
			{Name: "trim_space", Type: "bool", Default: `false`, Description: "remove leading and trailing whitespace from names and values"},
		},
	})
	sdk.Configure(func(cfg sdk.Config) error {
		if err := cfg.Only("delimiter", "trim_space"); err != nil {
			return err
		}
		delim, err := cfg.String("delimiter", ",")
		if err != nil {
			return err
		}
		trim, err := cfg.Bool("trim_space", false)
		if err != nil {
			return err
		}
		r, n := utf8.DecodeRuneInString(delim)
		if n == 0 || n != len(delim) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return errors.New(`config key "delimiter": want one character other than a quote or line break, got ` + strconv.Quote(delim))
		}
		c.comma, c.trim = r, trim
		// Skipping leading whitespace would also skip a whitespace
		// delimiter, losing empty fields, so then trim only after parsing.
		c.lead = trim && !unicode.IsSpace(r)
		return nil
	})
	sdk.Handle(c)
}

func (c *converter) Begin(string) error {
	c.line, c.pending, c.keys = 0, c.pending[:0], nil
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
			return errors.New("line " + strconv.Itoa(c.start) + ": record longer than " + strconv.Itoa(maxRecord) + " bytes; is a quote missing?")
		}
		return nil
	}
	fields, err := c.parse(c.pending)
	c.pending = c.pending[:0]
	if err != nil || fields == nil {
		return err
	}
	if c.keys == nil {
		return c.setHeader(fields)
	}
	if len(fields) != len(c.keys) {
		return errors.New("line " + strconv.Itoa(c.start) + ": record has " + strconv.Itoa(len(fields)) +
			" fields, header has " + strconv.Itoa(len(c.keys)))
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
		return errors.New("line " + strconv.Itoa(c.start) + ": quoted field not closed at end of file")
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

// Errors of parse, worded as encoding/csv's.
var (
	errBareQuote = errors.New(`bare " in non-quoted-field`)
	errQuote     = errors.New(`extraneous or missing " in quoted-field`)
)

// parse parses rec, the text of the record starting at line c.start: its
// lines, each followed by "\n". It reads the first record of rec as
// encoding/csv's Reader does with c.comma, TrimLeadingSpace = c.lead and
// strict quotes, so also with its error positions (1-based line and byte
// column). A first line that is empty once a "\r" at its end is dropped
// (csv.Reader's "\r\n" normalisation) gives no fields and no error.
func (c *converter) parse(rec []byte) ([]string, error) {
	line, rest := nextLine(rec)
	if len(line) == 0 {
		return nil, nil
	}
	c.buf, c.ends = c.buf[:0], c.ends[:0]
	lineNo, col := c.start, 1 // position of line[0]
	commaLen := utf8.RuneLen(c.comma)
fields:
	for {
		if c.lead {
			i := bytes.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
			if i < 0 {
				i = len(line)
			}
			line, col = line[i:], col+i
		}
		if len(line) == 0 || line[0] != '"' {
			field := line
			i := bytes.IndexRune(line, c.comma)
			if i >= 0 {
				field = line[:i]
			}
			if j := bytes.IndexByte(field, '"'); j >= 0 {
				return nil, parseError(lineNo, col+j, errBareQuote)
			}
			c.buf = append(c.buf, field...)
			c.ends = append(c.ends, len(c.buf))
			if i < 0 {
				break fields
			}
			line, col = line[i+commaLen:], col+i+commaLen
			continue
		}
		line, col = line[1:], col+1 // the opening quote
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 { // the field goes on in the next line
				c.buf = append(append(c.buf, line...), '\n')
				col += len(line) + 1
				if len(rest) == 0 {
					return nil, parseError(lineNo, col, errQuote)
				}
				line, rest = nextLine(rest)
				lineNo, col = lineNo+1, 1
				continue
			}
			c.buf = append(c.buf, line[:i]...)
			line, col = line[i+1:], col+i+1
			switch {
			case len(line) > 0 && line[0] == '"': // doubled quote
				c.buf = append(c.buf, '"')
				line, col = line[1:], col+1
			case startsWithRune(line, c.comma):
				c.ends = append(c.ends, len(c.buf))
				line, col = line[commaLen:], col+commaLen
				continue fields
			case len(line) == 0:
				c.ends = append(c.ends, len(c.buf))
				break fields
			default:
				return nil, parseError(lineNo, col-1, errQuote)
			}
		}
	}
	s := string(c.buf) // one allocation for all fields
	c.fields = c.fields[:0]
	prev := 0
	for _, end := range c.ends {
		f := s[prev:end]
		if c.trim {
			f = strings.TrimSpace(f)
		}
		c.fields = append(c.fields, f)
		prev = end
	}
	return c.fields, nil
}

// nextLine splits the first line off text, dropping its "\n" and one "\r"
// before that, as csv.Reader does.
func nextLine(text []byte) (line, rest []byte) {
	line = text
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		line, rest = text[:i], text[i+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func startsWithRune(b []byte, r rune) bool {
	r1, _ := utf8.DecodeRune(b)
	return r1 == r && len(b) > 0
}

func parseError(line, col int, err error) error {
	return errors.New("line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + ": " + err.Error())
}

func (c *converter) setHeader(names []string) error {
	c.keys = make([][]byte, len(names))
	seen := make(map[string]int, len(names))
	for i, name := range names {
		if name == "" {
			return errors.New("line " + strconv.Itoa(c.start) + ": header column " + strconv.Itoa(i+1) + " has no name")
		}
		if j, dup := seen[name]; dup {
			return errors.New("line " + strconv.Itoa(c.start) + ": header name " + strconv.Quote(name) +
				" is used by columns " + strconv.Itoa(j+1) + " and " + strconv.Itoa(i+1))
		}
		seen[name] = i
		c.keys[i] = appendString(nil, name)
	}
	return nil
}

// appendString appends s as a JSON string, byte for byte as a json.Encoder
// with SetEscapeHTML(false) writes it: valid UTF-8 is kept as is (but for
// U+2028 and U+2029, escaped), control characters are escaped, and each byte
// of invalid UTF-8 becomes \ufffd.
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
			case c == '\b':
				dst = append(dst, `\b`...)
			case c == '\f':
				dst = append(dst, `\f`...)
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
