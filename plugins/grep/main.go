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
	"errors"
	"regexp"

	"github.com/filehost/host/sdk"
)

var (
	re     *regexp.Regexp
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
		invert = inv
		return nil
	})
	sdk.Filter(func(line []byte) bool { return re.Match(line) != invert })
}

func main() {}
