//go:build !wasip1

package sdk_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/filehost/host/sdk"
)

func ExampleMap() {
	sdk.Map(bytes.ToUpper)
	_ = sdk.Run(strings.NewReader("hello\nworld"), os.Stdout, "in.txt", "")
	// Output:
	// HELLO
	// WORLD
}

func ExampleFilter() {
	sdk.Filter(func(line []byte) bool { return len(line) > 0 })
	_ = sdk.Run(strings.NewReader("a\n\nb\n"), os.Stdout, "in.txt", "")
	// Output:
	// a
	// b
}

func ExampleLines() {
	// Split comma-separated values onto lines of their own.
	sdk.Lines(func(line []byte, emit func([]byte)) error {
		for _, f := range bytes.Split(line, []byte(",")) {
			emit(f)
		}
		return nil
	})
	_ = sdk.Run(strings.NewReader("a,b\nc\n"), os.Stdout, "in.txt", "")
	// Output:
	// a
	// b
	// c
}

// counter is a stateful stream: it numbers lines and writes a total at the end.
type counter struct{ n int }

func (c *counter) Begin(name string) error { c.n = 0; return nil }
func (c *counter) Line(line []byte, emit func([]byte)) error {
	c.n++
	emit(fmt.Appendf(nil, "%d: %s", c.n, line))
	return nil
}
func (c *counter) End(emit func([]byte)) error {
	emit(fmt.Appendf(nil, "total: %d", c.n))
	return nil
}

func ExampleHandle() {
	sdk.Handle(&counter{})
	// The last line has no newline: the total still goes on a line of its own.
	_ = sdk.Run(strings.NewReader("x\ny"), os.Stdout, "in.txt", "")
	// Output:
	// 1: x
	// 2: y
	// total: 2
}

func ExampleWhole() {
	sdk.Whole(func(name string, content []byte) ([]byte, error) {
		return fmt.Appendf(nil, "%s has %d bytes\n", name, len(content)), nil
	})
	_ = sdk.Run(strings.NewReader("abc\n"), os.Stdout, "in.txt", "")
	// Output:
	// in.txt has 4 bytes
}

func ExampleConfigure() {
	var prefix string
	sdk.Configure(func(c sdk.Config) (err error) {
		if err := c.Only("prefix"); err != nil {
			return err
		}
		prefix, err = c.String("prefix", "> ")
		return err
	})
	sdk.Map(func(line []byte) []byte { return append([]byte(prefix), line...) })
	_ = sdk.Run(strings.NewReader("quoted\n"), os.Stdout, "in.txt", `{"prefix": "| "}`)
	sdk.Configure(nil)
	// Output:
	// | quoted
}

func ExampleInfo() {
	sdk.Configure(func(c sdk.Config) error {
		n, err := c.Int("max", 10)
		if err != nil {
			return err
		}
		// Concatenation and strconv keep fmt out of the plugin.
		sdk.Info("at most " + strconv.Itoa(n) + " lines per file")
		return nil
	})
}
