// Command grep is a plugin that keeps only the lines matching a regular
// expression (Go RE2 syntax, https://pkg.go.dev/regexp/syntax). A pattern
// matches anywhere in the line unless anchored with ^ and $. Lines that are
// not valid UTF-8 are matched with each bad byte read as U+FFFD.
//
// Settings:
//
//	pattern      string  the regular expression (required)
//	invert       bool    drop the matching lines instead, like grep -v (default false)
//	ignore_case  bool    match without regard to case (default false)
package main

import (
	"bytes"
	"errors"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

var (
	re     *regexp.Regexp
	lit    []byte // the pattern, when it is a plain literal (see literal)
	invert bool
)

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "grep",
		Version:     "1.0.0",
		Description: "Keeps only the lines that match a regular expression (Go RE2 syntax).",
		Settings: []sdk.Setting{
			{Name: "pattern", Type: "string", Description: "the regular expression (required)"},
			{Name: "invert", Type: "bool", Default: "false", Description: "drop the matching lines instead, like grep -v"},
			{Name: "ignore_case", Type: "bool", Default: "false", Description: "match without regard to case"},
		},
	})
	sdk.Configure(func(c sdk.Config) error {
		if err := c.Only("pattern", "invert", "ignore_case"); err != nil {
			return err
		}
		expr, err := c.String("pattern", "")
		if err != nil {
			return err
		}
		inv, err := c.Bool("invert", false)
		if err != nil {
			return err
		}
		ignoreCase, err := c.Bool("ignore_case", false)
		if err != nil {
			return err
		}
		if expr == "" {
			return errors.New(`config key "pattern" is required: the regular expression lines must match`)
		}
		if ignoreCase {
			expr = "(?i)" + expr
		}
		if re, err = regexp.Compile(expr); err != nil {
			return errors.New(`config key "pattern": ` + err.Error())
		}
		lit, invert = literal(expr), inv
		return nil
	})
	sdk.Filter(func(line []byte) bool { return match(line) != invert })
}

// match reports whether line matches the pattern.
func match(line []byte) bool {
	if lit != nil {
		return bytes.Contains(line, lit)
	}
	return re.Match(line)
}

// literal returns the text a pattern matches when it is a plain literal,
// such as `WARN` or `a\.b`, and nil otherwise. Such a pattern matches
// exactly the lines that contain its bytes, which bytes.Contains finds
// several times faster in Wasm than the regexp engine, whose set-up costs
// much per line. A literal with U+FFFD is left to the regexp, which reads
// each invalid byte of a line as U+FFFD; for any other, the raw bytes
// agree with the regexp's reading, since UTF-8 resynchronises at every
// byte that starts a character.
func literal(expr string) []byte {
	r, err := syntax.Parse(expr, syntax.Perl) // as regexp.Compile does
	if err != nil {
		return nil
	}
	r = r.Simplify()
	if r.Op != syntax.OpLiteral || r.Flags&syntax.FoldCase != 0 {
		return nil
	}
	for _, c := range r.Rune {
		if c == utf8.RuneError {
			return nil
		}
	}
	return []byte(string(r.Rune))
}

func main() {}
