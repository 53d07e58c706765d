package sdk

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// sprintf formats as fmt.Sprintf does, for what plugins format: the verbs
// %v %s %q %d %b %o %x %X %c %U %t %e %E %f %F %g %G %T %p and %%, with
// the flags + - # space 0, a width and a precision (a number or *), and
// fmt's %!verb(type=value) forms for a wrong or missing argument; %w in
// Failf, as in fmt.Errorf. %#v prints as %v, not as Go syntax. Values
// print as with %v: errors and Stringers by their method; numbers, strings, booleans, byte slices,
// and slices, arrays, maps (keys sorted), structs and pointers of them.
// Importing fmt instead would add its package initialisation, which pulls
// in package os, to every plugin: 0.4 MB of .wasm.
func sprintf(format string, args []any) string {
	p := printer{args: args}
	p.doPrintf(format)
	return string(p.buf)
}

// wrapError is Failf's error when its format has %w.
type wrapError struct {
	msg  string
	errs []error
}

func (e *wrapError) Error() string { return e.msg }

// Unwrap returns the %w argument; errors.Is and errors.As reach the
// others of several through unwrapErrors.
func (e *wrapError) Unwrap() error { return e.errs[0] }

// wrapErrors is Failf's error when its format has several %w, as
// fmt.Errorf's: errors.Is and errors.As see every one.
type wrapErrors struct {
	msg  string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.msg }
func (e *wrapErrors) Unwrap() []error { return e.errs }

// errorf is fmt.Errorf on sprintf.
func errorf(format string, args []any) error {
	p := printer{args: args, wrap: true}
	p.doPrintf(format)
	msg := string(p.buf)
	switch len(p.wrapped) {
	case 0:
		return errors.New(msg)
	case 1:
		return &wrapError{msg, p.wrapped}
	}
	return &wrapErrors{msg, p.wrapped}
}

type printer struct {
	buf     []byte
	args    []any
	wrap    bool
	wrapped []error

	// the directive being formatted
	minus, plus, sharp, space, zero bool
	plusV                           bool // %+v: field names in structs
	erroring                        bool // printing a bad argument: no methods
	width, prec                     int
	hasWidth, hasPrec               bool
	verb                            rune
}

func (p *printer) doPrintf(format string) {
	argNum := 0
	for i := 0; i < len(format); {
		if format[i] != '%' {
			j := i
			for j < len(format) && format[j] != '%' {
				j++
			}
			p.buf = append(p.buf, format[i:j]...)
			i = j
			continue
		}
		i++
		p.minus, p.plus, p.sharp, p.space, p.zero = false, false, false, false, false
		p.hasWidth, p.hasPrec, p.width, p.prec = false, false, 0, 0
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '-':
				p.minus = true
			case '+':
				p.plus = true
			case '#':
				p.sharp = true
			case ' ':
				p.space = true
			case '0':
				p.zero = true
			default:
				break flags
			}
		}
		// Width and precision: digits or * (an int argument).
		num := func() (n int, ok bool) {
			if i < len(format) && format[i] == '*' {
				i++
				if argNum < len(p.args) {
					if v, isInt := p.args[argNum].(int); isInt {
						argNum++
						return v, true
					}
					argNum++
				}
				p.buf = append(p.buf, "%!(BADWIDTH)"...)
				return 0, false
			}
			for ; i < len(format) && '0' <= format[i] && format[i] <= '9'; i++ {
				n, ok = n*10+int(format[i]-'0'), true
			}
			return n, ok
		}
		p.width, p.hasWidth = num()
		if p.hasWidth && p.width < 0 {
			p.minus, p.width = true, -p.width
		}
		if i < len(format) && format[i] == '.' {
			i++
			p.prec, p.hasPrec = num()
			if p.prec < 0 {
				p.prec, p.hasPrec = 0, false
			}
			if !p.hasPrec {
				p.prec, p.hasPrec = 0, true
			}
		}
		if i >= len(format) {
			p.buf = append(p.buf, "%!(NOVERB)"...)
			break
		}
		verb, size := utf8.DecodeRuneInString(format[i:])
		i += size
		p.verb = verb
		switch {
		case verb == '%':
			p.buf = append(p.buf, '%')
		case argNum >= len(p.args):
			p.buf = append(p.buf, "%!"...)
			p.buf = utf8.AppendRune(p.buf, verb)
			p.buf = append(p.buf, "(MISSING)"...)
		default:
			arg := p.args[argNum]
			argNum++
			if verb == 'w' {
				err, ok := arg.(error)
				if !ok || !p.wrap {
					p.bad(arg)
					continue
				}
				p.wrapped = append(p.wrapped, err)
				p.verb = 'v'
			}
			p.plusV = p.verb == 'v' && p.plus
			if p.plusV {
				p.plus = false
			}
			p.printArg(arg)
		}
	}
	if argNum < len(p.args) {
		p.buf = append(p.buf, "%!(EXTRA "...)
		for k, arg := range p.args[argNum:] {
			if k > 0 {
				p.buf = append(p.buf, ", "...)
			}
			if arg == nil {
				p.buf = append(p.buf, "<nil>"...)
				continue
			}
			p.buf = append(p.buf, reflect.TypeOf(arg).String()...)
			p.buf = append(p.buf, '=')
			p.verb = 'v'
			p.minus, p.plus, p.sharp, p.space, p.zero, p.hasWidth, p.hasPrec = false, false, false, false, false, false, false
			p.printArg(arg)
		}
		p.buf = append(p.buf, ')')
	}
}

// pad appends s, padded to the width.
func (p *printer) pad(s string) {
	n := p.width - utf8.RuneCountInString(s)
	if !p.hasWidth || n <= 0 {
		p.buf = append(p.buf, s...)
		return
	}
	if p.minus {
		p.buf = append(p.buf, s...)
		p.buf = appendRepeat(p.buf, ' ', n)
		return
	}
	if p.zero && p.isNumberVerb() {
		// Zeros go after the sign.
		if len(s) > 0 && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
			p.buf = append(p.buf, s[0])
			s = s[1:]
		}
		p.buf = appendRepeat(p.buf, '0', n)
		p.buf = append(p.buf, s...)
		return
	}
	p.buf = appendRepeat(p.buf, ' ', n)
	p.buf = append(p.buf, s...)
}

func (p *printer) isNumberVerb() bool {
	switch p.verb {
	case 'd', 'b', 'o', 'x', 'X', 'e', 'E', 'f', 'F', 'g', 'G', 'v':
		return true
	}
	return false
}

func appendRepeat(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

func (p *printer) bad(arg any) {
	p.buf = append(p.buf, "%!"...)
	p.buf = utf8.AppendRune(p.buf, p.verb)
	p.buf = append(p.buf, '(')
	if arg == nil {
		p.buf = append(p.buf, "<nil>"...)
	} else {
		p.buf = append(p.buf, reflect.TypeOf(arg).String()...)
		p.buf = append(p.buf, '=')
		verb := p.verb
		p.verb = 'v'
		p.hasWidth, p.hasPrec = false, false
		p.erroring = true
		p.printArg(arg)
		p.erroring = false
		p.verb = verb
	}
	p.buf = append(p.buf, ')')
}

func (p *printer) printArg(arg any) {
	if arg == nil {
		switch p.verb {
		case 'T', 'v':
			p.pad("<nil>")
		default:
			p.bad(nil)
		}
		return
	}
	switch p.verb {
	case 'T':
		p.pad(reflect.TypeOf(arg).String())
		return
	case 'p':
		v := reflect.ValueOf(arg)
		switch v.Kind() {
		case reflect.Pointer, reflect.Chan, reflect.Func, reflect.Map, reflect.Slice, reflect.UnsafePointer:
			p.pad("0x" + strconv.FormatUint(uint64(v.Pointer()), 16))
		default:
			p.bad(arg)
		}
		return
	}
	if p.handleMethods(arg) {
		return
	}
	p.printValue(reflect.ValueOf(arg), arg, 0)
}

// handleMethods prints arg by its Error or String method, for the verbs
// that print strings, reporting whether it did.
func (p *printer) handleMethods(arg any) bool {
	if p.erroring {
		return false
	}
	switch p.verb {
	case 'v', 's', 'q', 'x', 'X':
	default:
		return false
	}
	s, ok, panicked := methodString(arg)
	switch {
	case !ok:
		return false
	case panicked != "":
		p.buf = append(p.buf, "%!"...)
		p.buf = utf8.AppendRune(p.buf, p.verb)
		p.buf = append(p.buf, "(PANIC="+panicked+")"...)
	default:
		p.fmtString(s, arg)
	}
	return true
}

// methodString calls arg's Error or String method; panicked is what fmt
// prints for a panic in it.
func methodString(arg any) (s string, ok bool, panicked string) {
	method := ""
	defer func() {
		if r := recover(); r != nil {
			if v := reflect.ValueOf(arg); v.Kind() == reflect.Pointer && v.IsNil() {
				s, panicked = "<nil>", ""
				return
			}
			panicked = method + " method: " + panicText(r)
		}
	}()
	switch v := arg.(type) {
	case error:
		ok, method = true, "Error"
		return v.Error(), true, ""
	case interface{ String() string }:
		ok, method = true, "String"
		return v.String(), true, ""
	}
	return "", false, ""
}

func (p *printer) printValue(v reflect.Value, arg any, depth int) {
	// Elements with Error or String methods use them, as in fmt.
	if depth > 0 && v.IsValid() && v.CanInterface() && p.handleMethods(v.Interface()) {
		return
	}
	switch v.Kind() {
	case reflect.Invalid:
		p.pad("<invalid reflect.Value>")
	case reflect.Bool:
		if p.verb != 'v' && p.verb != 't' {
			p.bad(arg)
			return
		}
		p.pad(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.fmtInteger(uint64(v.Int()), v.Int() < 0, arg)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.fmtInteger(v.Uint(), false, arg)
	case reflect.Float32:
		p.fmtFloat(v.Float(), 32, arg)
	case reflect.Float64:
		p.fmtFloat(v.Float(), 64, arg)
	case reflect.String:
		p.fmtString(v.String(), arg)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && (p.verb == 's' || p.verb == 'q' || p.verb == 'x' || p.verb == 'X') {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			p.fmtString(string(b), arg)
			return
		}
		if p.verb == 'v' && v.Kind() == reflect.Slice && v.IsNil() && p.sharp {
			p.pad(v.Type().String() + "(nil)")
			return
		}
		p.buf = append(p.buf, '[')
		for i := range v.Len() {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			p.printValue(v.Index(i), arg, depth+1)
		}
		p.buf = append(p.buf, ']')
	case reflect.Map:
		p.buf = append(p.buf, "map["...)
		keys := v.MapKeys()
		sortValues(keys)
		for i, k := range keys {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			p.printValue(k, arg, depth+1)
			p.buf = append(p.buf, ':')
			p.printValue(v.MapIndex(k), arg, depth+1)
		}
		p.buf = append(p.buf, ']')
	case reflect.Struct:
		p.buf = append(p.buf, '{')
		for i := range v.NumField() {
			if i > 0 {
				p.buf = append(p.buf, ' ')
			}
			if p.plusV {
				p.buf = append(p.buf, v.Type().Field(i).Name...)
				p.buf = append(p.buf, ':')
			}
			p.printValue(v.Field(i), arg, depth+1)
		}
		p.buf = append(p.buf, '}')
	case reflect.Interface:
		if v.IsNil() {
			p.buf = append(p.buf, "<nil>"...)
			return
		}
		p.printValue(v.Elem(), arg, depth+1)
	case reflect.Pointer:
		if depth == 0 && !v.IsNil() {
			switch v.Elem().Kind() {
			case reflect.Array, reflect.Slice, reflect.Struct, reflect.Map:
				p.buf = append(p.buf, '&')
				p.printValue(v.Elem(), arg, depth+1)
				return
			}
		}
		fallthrough
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		if v.IsNil() && p.verb == 'v' {
			p.pad("<nil>")
			return
		}
		p.pad("0x" + strconv.FormatUint(uint64(v.Pointer()), 16))
	default:
		p.pad("?")
	}
}

// sortValues sorts map keys as fmt does for the kinds a key can have
// here: numbers, strings and booleans; other keys stay as they are.
func sortValues(keys []reflect.Value) {
	less := func(a, b reflect.Value) bool {
		switch a.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return a.Int() < b.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return a.Uint() < b.Uint()
		case reflect.Float32, reflect.Float64:
			return a.Float() < b.Float()
		case reflect.String:
			return a.String() < b.String()
		case reflect.Bool:
			return !a.Bool() && b.Bool()
		}
		return false
	}
	// An insertion sort: maps printed in a message are small.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func (p *printer) fmtString(s string, arg any) {
	switch p.verb {
	case 'v', 's':
		if p.hasPrec {
			s = truncateRunes(s, p.prec)
		}
		p.pad(s)
	case 'q':
		if p.hasPrec {
			s = truncateRunes(s, p.prec)
		}
		if p.sharp && strconv.CanBackquote(s) {
			p.pad("`" + s + "`")
		} else if p.plus {
			p.pad(strconv.QuoteToASCII(s))
		} else {
			p.pad(strconv.Quote(s))
		}
	case 'x', 'X':
		digits := "0123456789abcdef"
		if p.verb == 'X' {
			digits = "0123456789ABCDEF"
		}
		var b []byte
		for i := 0; i < len(s); i++ {
			if p.space && i > 0 {
				b = append(b, ' ')
			}
			if p.sharp && (p.space || i == 0) {
				b = append(b, '0', byte(p.verb))
			}
			b = append(b, digits[s[i]>>4], digits[s[i]&0xf])
		}
		p.pad(string(b))
	default:
		p.bad(arg)
	}
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func (p *printer) fmtInteger(u uint64, neg bool, arg any) {
	base := 10
	switch p.verb {
	case 'v', 'd':
	case 'b':
		base = 2
	case 'o':
		base = 8
	case 'x', 'X':
		base = 16
	case 'c':
		p.pad(string(rune(u)))
		return
	case 'q':
		p.pad(strconv.QuoteRune(rune(u)))
		return
	case 'U':
		s := strconv.FormatUint(u, 16)
		for len(s) < 4 {
			s = "0" + s
		}
		p.pad("U+" + toUpper(s))
		return
	default:
		p.bad(arg)
		return
	}
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, base)
	if p.hasPrec {
		for len(s) < p.prec {
			s = "0" + s
		}
		if p.prec == 0 && u == 0 {
			s = ""
		}
	}
	if p.verb == 'X' {
		s = toUpper(s)
	}
	if p.sharp {
		switch p.verb {
		case 'o':
			if s[0] != '0' {
				s = "0" + s
			}
		case 'x':
			s = "0x" + s
		case 'X':
			s = "0X" + s
		case 'b':
			s = "0b" + s
		}
	}
	switch {
	case neg:
		s = "-" + s
	case p.plus:
		s = "+" + s
	case p.space:
		s = " " + s
	}
	if p.hasPrec {
		// A precision turns off zero padding, as in fmt.
		p.zero = false
	}
	p.pad(s)
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func (p *printer) fmtFloat(f float64, bits int, arg any) {
	verb, prec := byte(p.verb), -1
	switch p.verb {
	case 'v':
		verb = 'g'
	case 'e', 'E', 'f', 'F', 'g', 'G':
		if p.verb == 'F' {
			verb = 'f'
		}
		if p.verb != 'g' && p.verb != 'G' {
			prec = 6
		}
	default:
		p.bad(arg)
		return
	}
	if p.hasPrec {
		prec = p.prec
	}
	s := strconv.FormatFloat(f, verb, prec, bits)
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		// Not padded with zeros; Inf keeps its sign, NaN shows one
		// only when asked.
		if s[0] != '+' && s[0] != '-' {
			s = "+" + s
		}
		if math.IsNaN(f) && !p.plus {
			s = s[1:]
			if p.space {
				s = " " + s
			}
		} else if p.space && !p.plus && s[0] == '+' {
			s = " " + s[1:]
		}
		p.zero = false
	case s[0] != '-':
		switch {
		case p.plus:
			s = "+" + s
		case p.space:
			s = " " + s
		}
	}
	p.pad(s)
}
