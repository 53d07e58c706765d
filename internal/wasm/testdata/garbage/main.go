// Command garbage is a test plugin that allocates 32 KiB of garbage per
// line, to show the SDK lets the collector keep memory flat.
package main

import "github.com/filehost/host/sdk"

var sink []byte

func init() {
	sdk.Map(func(line []byte) []byte {
		sink = make([]byte, 32<<10)
		sink[0] = 1
		return line
	})
}

func main() {}
