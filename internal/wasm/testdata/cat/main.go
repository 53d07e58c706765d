// Command cat is a test plugin that passes every line through.
package main

import "github.com/filehost/host/sdk"

func init() { sdk.Map(func(l []byte) []byte { return l }) }

func main() {}
