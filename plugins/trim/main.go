// Command trim is a plugin that removes leading and trailing whitespace
// (as defined by Unicode) from every line. Line terminators are kept.
//
// Settings:
//
//	chars  string  trim these characters instead of whitespace, e.g. " \t."
//	               or "-=#"; each character counts on its own (default: unset,
//	               meaning Unicode whitespace).
package main

import (
	"bytes"
	"errors"

	"github.com/filehost/host/sdk"
)

type settings struct {
	Chars *string `json:"chars"`
}

var cutset string // characters to trim; "" means Unicode whitespace

func init() {
	sdk.Configure(func(c sdk.Config) error {
		var s settings
		if err := c.Decode(&s); err != nil {
			return err
		}
		cutset = ""
		if s.Chars != nil {
			if *s.Chars == "" {
				return errors.New(`config key "chars": must not be empty (leave it out to trim whitespace)`)
			}
			cutset = *s.Chars
		}
		return nil
	})
	sdk.Map(func(line []byte) []byte {
		if cutset == "" {
			return bytes.TrimSpace(line)
		}
		return bytes.Trim(line, cutset)
	})
}

func main() {}
