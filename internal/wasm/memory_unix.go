//go:build unix

package wasm

import (
	"context"

	"github.com/samyfodil/wazy/api"
	"golang.org/x/sys/unix"
)

// withMemory makes the instances created with ctx keep their linear memory
// in an anonymous mapping reserved at the memory's maximum size. Growing it
// then commits pages in place, where wazero's default copies the whole
// memory into a larger Go slice at every memory.grow (a tenth of the time of
// a fresh instance's first large file); and the pages live outside the Go
// heap, so they add no GC work or heap headroom, and go back to the system
// as soon as the instance is closed.
//
// Each growth is reserved from the memory budget first (instance.grow).
func withMemory(ctx context.Context, inst *instance) context.Context {
	return api.WithMemoryAllocator(ctx, api.MemoryAllocatorFunc(func(_, max uint64) api.LinearMemory {
		return newMemory(inst, max)
	}))
}

func newMemory(inst *instance, max uint64) api.LinearMemory {
	if max == 0 || uint64(int(max)) != max {
		return &heapMemory{inst: inst}
	}
	// PROT_NONE reserves address space only: no memory is committed (or
	// charged against overcommit limits) until Reallocate opens it.
	buf, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return &heapMemory{inst: inst} // e.g. a ulimit -v too low for the reservation
	}
	return &mappedMemory{inst: inst, buf: buf}
}

// mappedMemory is a linear memory in a reserved mapping; its first open
// bytes are readable and writable. The mapping never moves, and fresh pages
// read as zero, as Wasm requires of grown memory.
type mappedMemory struct {
	inst *instance
	buf  []byte
	open int
}

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if m.buf == nil || size > uint64(len(m.buf)) || !m.inst.grow(size) {
		return nil // memory.grow fails in the guest
	}
	if n := int(size); n > m.open {
		// Wasm pages are 64 KiB, a multiple of any system page size.
		if err := unix.Mprotect(m.buf[m.open:n], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.open = n
	}
	return m.buf[:size:size]
}

// Free unmaps the memory. wazero calls it when the instance is closed, so an
// instance must never be closed while a call into it runs: Plugin.Close
// waits for instances in use to come back.
func (m *mappedMemory) Free() {
	if m.buf != nil {
		_ = unix.Munmap(m.buf)
		m.buf = nil
		m.inst.freeMemory()
	}
}
