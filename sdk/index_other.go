//go:build !wasm || !gc

package sdk

import "bytes"

// indexNL returns the index of the first '\n' in b, or -1; natively,
// bytes.IndexByte's vector code is the fastest (see index_wasm.go).
func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }
