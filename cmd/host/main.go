// Command host runs files through chains of WebAssembly plugins, one file
// (--input) or every file dropped into watched folders (--watch).
package main

import (
	"os"

	"github.com/filehost/host/cmd/host/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
