//go:build gc

package sdk

// indexNL returns the index of the first '\n' in b, or -1. It is
// bytes.IndexByte eight bytes at a time, in assembly (index_wasm.s): in
// Wasm, which has no SIMD, the standard one tests four bytes at a time,
// through a second call, and was the largest single cost of splitting a
// chunk into lines. Go code for the same loop is slower still, as Go's
// Wasm back end runs every loop through a jump table.
//
//go:noescape
func indexNL(b []byte) int
