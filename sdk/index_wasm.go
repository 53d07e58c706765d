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

// lineEnds stores in ends the index of each '\n' in b, in order, until
// ends is full, and returns how many it stored. It is indexNL for many
// lines at once, in assembly too: in Wasm a call per line costs more than
// the search.
//
//go:noescape
func lineEnds(b []byte, ends []int32) int
