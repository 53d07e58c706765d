// Command faulty is a test plugin that misbehaves on request: a line
// "panic", "exit", "fail", "loop" or "oom" makes it do that; other lines
// pass through.
package main

import (
	"errors"
	"os"

	"github.com/filehost/host/sdk"
)

var hoard [][]byte

func init() {
	sdk.Lines(func(line []byte, emit func([]byte)) error {
		switch string(line) {
		case "panic":
			var m map[string]int
			m["x"] = 1 // assignment to entry in nil map
		case "exit":
			os.Exit(3)
		case "fail":
			return errors.New("asked to fail")
		case "loop":
			for {
			}
		case "oom":
			for {
				hoard = append(hoard, make([]byte, 1<<20))
			}
		case "log":
			sdk.Warnf("a warning from the plugin")
		}
		emit(line)
		return nil
	})
}

func main() {}
