package sdk

// A strict JSON decoder for the plugin's settings. It produces the same
// values as encoding/json.Unmarshal into a map[string]any (json_test.go
// checks this) without linking encoding/json's decoder and fmt, which
// together add about 0.9 MB to every plugin's .wasm, and ~4x that of
// compiled code to the host's memory per loaded plugin.

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit, so both accept the same input.
const maxDepth = 10000

type jsonDecoder struct {
	data  []byte
	pos   int
	depth int
}

// decodeObject decodes data, which must hold exactly one JSON object.
func decodeObject(data []byte) (map[string]any, error) {
	d := &jsonDecoder{data: data}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] != '{' {
		return nil, d.syntaxError("looking for beginning of object")
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.syntaxError("after top-level value")
	}
	return v.(map[string]any), nil
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// syntaxError describes the byte at d.pos, or the end of the input.
func (d *jsonDecoder) syntaxError(context string) error {
	if d.pos >= len(d.data) {
		return errors.New("unexpected end of JSON input at offset " + strconv.Itoa(d.pos))
	}
	c := d.data[d.pos]
	what := "invalid character '" + string(rune(c)) + "'"
	if c < ' ' || c >= 0x7f || c == '\'' {
		what = "invalid byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
	return errors.New(what + " " + context + " at offset " + strconv.Itoa(d.pos))
}

// value decodes the value at d.pos; leading space is already skipped.
func (d *jsonDecoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.syntaxError("")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.syntaxError("looking for beginning of value")
}

func (d *jsonDecoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != word[i] {
			return d.syntaxError("in literal " + word + " (expecting '" + word[i:i+1] + "')")
		}
		d.pos++
	}
	return nil
}

func (d *jsonDecoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return errors.New("exceeded max depth of " + strconv.Itoa(maxDepth) + " at offset " + strconv.Itoa(d.pos))
	}
	d.pos++ // the opening bracket
	d.skipSpace()
	return nil
}

func (d *jsonDecoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	m := make(map[string]any)
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.syntaxError("looking for beginning of object key string")
		}
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.syntaxError("after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[key.(string)] = v // a repeated key keeps its last value, as in encoding/json
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			d.depth--
			return m, nil
		}
		return nil, d.syntaxError("after object key:value pair")
	}
}

func (d *jsonDecoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	a := make([]any, 0) // empty, not nil, as in encoding/json
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			d.depth--
			return a, nil
		}
		return nil, d.syntaxError("after array element")
	}
}

// number checks the JSON number grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
// which is stricter than strconv.ParseFloat's, then converts with it.
func (d *jsonDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if !d.digits() {
		return nil, d.syntaxError("in numeric literal")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if !d.digits() {
			return nil, d.syntaxError("after decimal point in numeric literal")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if !d.digits() {
			return nil, d.syntaxError("in exponent of numeric literal")
		}
	}
	s := string(d.data[start:d.pos])
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of float64's range
		return nil, errors.New("number " + s + " at offset " + strconv.Itoa(start) + " does not fit in a float64")
	}
	return f, nil
}

// digits skips one or more decimal digits and reports whether there were any.
func (d *jsonDecoder) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}

// str decodes the string at d.pos. Like encoding/json, it turns invalid
// UTF-8 and unpaired surrogate escapes into U+FFFD.
func (d *jsonDecoder) str() (any, error) {
	d.pos++ // the opening quote
	// Fast path: no escapes and valid UTF-8.
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			d.pos++
			return string(d.data[start : d.pos-1]), nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	b := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(b), nil
		case c < ' ':
			return nil, d.syntaxError("in string literal")
		case c == '\\':
			d.pos++
			if d.pos >= len(d.data) {
				return nil, d.syntaxError("")
			}
			switch e := d.data[d.pos]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) {
					// Combine with a following \uXXXX if they form a pair;
					// otherwise U+FFFD, and the next escape stands alone.
					r2 := utf8.RuneError
					if d.pos+6 < len(d.data) && d.data[d.pos+1] == '\\' && d.data[d.pos+2] == 'u' {
						save := d.pos
						d.pos += 2
						lo, err := d.hex4()
						if err == nil {
							r2 = utf16.DecodeRune(r, lo)
						}
						if r2 == utf8.RuneError {
							d.pos = save
						}
					}
					r = r2
				}
				b = utf8.AppendRune(b, r)
			default:
				return nil, d.syntaxError("in string escape code")
			}
			d.pos++
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.pos++
		default:
			r, n := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, d.data[d.pos:d.pos+n]...)
			}
			d.pos += n
		}
	}
	return nil, d.syntaxError("")
}

// hex4 reads the four hex digits after the 'u' at d.pos, leaving d.pos on
// the last one.
func (d *jsonDecoder) hex4() (rune, error) {
	var r rune
	for range 4 {
		d.pos++
		if d.pos >= len(d.data) {
			return 0, d.syntaxError("")
		}
		c := d.data[d.pos]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, d.syntaxError("in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}
