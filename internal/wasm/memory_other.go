//go:build !unix

package wasm

import (
	"context"

	"github.com/samyfodil/wazy/api"
)

// withMemory keeps linear memory in a Go slice, reserved from the memory
// budget as it grows.
func withMemory(ctx context.Context, inst *instance) context.Context {
	return api.WithMemoryAllocator(ctx, api.MemoryAllocatorFunc(func(_, _ uint64) api.LinearMemory {
		return &heapMemory{inst: inst}
	}))
}
