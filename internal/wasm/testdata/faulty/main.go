// Command faulty is a test plugin that misbehaves on request: a line
// "panic", "exit", "fail", "loop" or "oom" makes it do that, "slow" makes
// it busy for about a millisecond; other lines pass through.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/filehost/host/sdk"
)

var (
	hoard [][]byte
	sink  int
)

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
		case "slow":
			for i := 0; i < 2_000_000; i++ {
				sink += i
			}
		case "log":
			sdk.Warnf("a warning from the plugin")
		case "probe":
			// What the sandbox lets a plugin see.
			_, ferr := os.ReadFile("/etc/hostname")
			_, derr := os.ReadDir("/")
			emit(fmt.Appendf(nil, "file=%v dir=%v env=%d args=%d year=%d",
				ferr != nil, derr != nil, len(os.Environ()), len(os.Args), time.Now().Year()))
		}
		emit(line)
		return nil
	})
}

func main() {}
