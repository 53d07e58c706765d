// Package runtimecmp measures the ways of stopping a plugin that were
// considered for the host (docs/RATIONALE.md, "How is a plugin stopped?"):
// the example chain (trim, upper, grep) under wazero v1.12.0 without and
// with WithCloseOnContextDone, under wazy (whose loops always check for
// preemption), and the cost of a pipe round trip per chunk, the floor of
// running plugins in a child process. It is a module of its own, under
// testdata, so that the host does not depend on wazero to build it:
//
//	cd internal/wasm/testdata/runtimecmp
//	nice go test -run '^$' -bench . -benchtime 3x
//
// and, for whether a looping guest blocks Go's garbage collector (the
// reason a watchdog that abandons the call is no option):
//
//	go test -run TestGC -v
package runtimecmp
