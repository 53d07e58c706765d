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
	"fmt"
	"regexp"

	"github.com/filehost/host/sdk"
)

type settings struct {
	Pattern    string `json:"pattern"`
	Invert     bool   `json:"invert"`
	IgnoreCase bool   `json:"ignore_case"`
}

var (
	re     *regexp.Regexp
	invert bool
)

func init() {
	sdk.Configure(func(c sdk.Config) error {
		var s settings
		if err := c.Decode(&s); err != nil {
			return err
		}
		if s.Pattern == "" {
			return errors.New(`config key "pattern" is required: the regular expression lines must match`)
		}
		expr := s.Pattern
		if s.IgnoreCase {
			expr = "(?i)" + expr
		}
		var err error
		if re, err = regexp.Compile(expr); err != nil {
			return fmt.Errorf("config key %q: %w", "pattern", err)
		}
		invert = s.Invert
		return nil
	})
	sdk.Filter(func(line []byte) bool { return re.Match(line) != invert })
}

func main() {}
