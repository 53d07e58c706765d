// Command upper is a plugin that upper-cases every line (Unicode-aware).
package main

import (
	"bytes"

	"github.com/filehost/host/sdk"
)

func init() { sdk.Map(bytes.ToUpper) }

func main() {}
