//go:build !wasm || !gc

package sdk

import "bytes"

// indexNL returns the index of the first '\n' in b, or -1; natively,
// bytes.IndexByte's vector code is the fastest (see index_wasm.go).
func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }

// lineEnds stores in ends the index of each '\n' in b, in order, until
// ends is full, and returns how many it stored (see index_wasm.go).
func lineEnds(b []byte, ends []int32) int {
	n, i := 0, 0
	for n < len(ends) {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		ends[n] = int32(i)
		n, i = n+1, i+1
	}
	return n
}
