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

var cutset string // characters to trim; "" means Unicode whitespace

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "trim",
		Version:     "1.0.0",
		Description: "Removes leading and trailing whitespace, or the given characters, from every line.",
		Settings: []sdk.Setting{
			{Name: "chars", Type: "string", Description: `trim these characters instead of Unicode whitespace, e.g. " \t."`},
		},
	})
	sdk.Configure(func(c sdk.Config) error {
		if err := c.Only("chars"); err != nil {
			return err
		}
		chars, err := c.String("chars", "")
		if err != nil {
			return err
		}
		if c.Has("chars") && chars == "" {
			return errors.New(`config key "chars": must not be empty (leave it out to trim whitespace)`)
		}
		cutset = chars
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
