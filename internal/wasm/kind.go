package wasm

import (
	"errors"

	"github.com/samyfodil/wazy"
)

// ErrCommand is the load error of a module built as a WASI command
// (`go build` without -buildmode=c-shared): it exports _start, which runs
// main and exits, instead of _initialize, and calling its exports before
// or after that fails deep in the guest's runtime.
var ErrCommand = errors.New("built as a command; rebuild with -buildmode=c-shared (it exports _start, not _initialize; see docs/ABI.md)")

// checkKind refuses a command module before its exports are looked at, so
// the message says how to fix the build.
func checkKind(m wazy.CompiledModule) error {
	exports := m.ExportedFunctions()
	_, start := exports["_start"]
	_, init := exports["_initialize"]
	if start && !init {
		return ErrCommand
	}
	return nil
}
