//go:build !unix

package wasm

import "context"

// withMemory keeps wazero's default linear memory, a Go slice.
func withMemory(ctx context.Context) context.Context { return ctx }
