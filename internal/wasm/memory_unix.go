//go:build unix

package wasm

import (
	"context"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// withMemory makes the instances created with ctx keep their linear memory
// in an anonymous mapping reserved at the memory's maximum size. Growing it
// then commits pages in place, where wazero's default copies the whole
// memory into a larger Go slice at every memory.grow (a tenth of the time of
// a fresh instance's first large file); and the pages live outside the Go
// heap, so they add no GC work or heap headroom, and go back to the system
// as soon as the instance is closed.
func withMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(newMemory))
}

func newMemory(_, max uint64) experimental.LinearMemory {
	if max == 0 || uint64(int(max)) != max {
		return &heapMemory{}
	}
	// PROT_NONE reserves address space only: no memory is committed (or
	// charged against overcommit limits) until Reallocate opens it.
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return &heapMemory{} // e.g. a ulimit -v too low for the reservation
	}
	return &mappedMemory{buf: buf}
}

// mappedMemory is a linear memory in a reserved mapping; its first open
// bytes are readable and writable. The mapping never moves, and fresh pages
// read as zero, as Wasm requires of grown memory.
type mappedMemory struct {
	buf  []byte
	open int
}

func (m *mappedMemory) Reallocate(size uint64) []byte {
	if m.buf == nil || size > uint64(len(m.buf)) {
		return nil // memory.grow fails in the guest
	}
	if n := int(size); n > m.open {
		// Wasm pages are 64 KiB, a multiple of any system page size.
		if err := syscall.Mprotect(m.buf[m.open:n], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
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
		_ = syscall.Munmap(m.buf)
		m.buf = nil
	}
}

// heapMemory is the fallback when no mapping can be reserved: a Go slice
// that grows by copying, as wazero does by default.
type heapMemory struct{ buf []byte }

func (m *heapMemory) Reallocate(size uint64) []byte {
	if uint64(int(size)) != size {
		return nil
	}
	if n := int(size); n > cap(m.buf) {
		grown := make([]byte, n)
		copy(grown, m.buf)
		m.buf = grown
	}
	// Bytes past len were never handed out, so they are still zero.
	m.buf = m.buf[:size]
	return m.buf
}

func (m *heapMemory) Free() { m.buf = nil }
