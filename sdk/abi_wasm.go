//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"
)

// The host's imports (docs/ABI.md).

//go:wasmimport host emit
func emit(ptr unsafe.Pointer, n uint32)

//go:wasmimport host log
func logImport(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport host fail
func failImport(ptr unsafe.Pointer, n uint32)

func hostEmit(b []byte) {
	if len(b) > 0 {
		emit(unsafe.Pointer(&b[0]), uint32(len(b)))
	}
}

func hostLog(level int32, msg string) {
	if len(msg) > 0 {
		logImport(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	}
}

// status reports err to the host and turns it into a return code.
func status(err error) int32 {
	if err == nil {
		return 0
	}
	msg := err.Error()
	if msg == "" {
		msg = "failed"
	}
	failImport(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	return 1
}

// buf is where the host writes chunks; Go's collector never moves it.
var buf []byte

//go:wasmexport plugin_abi_version
func abiVersion() int32 { return ABIVersion }

// meta returns the document registered with Describe, or null for none.
//
//go:wasmexport plugin_meta
func meta() unsafe.Pointer {
	if len(p.meta) == 0 {
		return nil
	}
	return unsafe.Pointer(&p.meta[0])
}

//go:wasmexport plugin_buffer
func buffer(size uint32) unsafe.Pointer {
	if uint32(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:cap(buf)]
	if len(buf) == 0 {
		buf = make([]byte, 1)
	}
	return unsafe.Pointer(&buf[0])
}

//go:wasmexport plugin_configure
func configure(n uint32) int32 {
	return status(guard(func() error { return p.doConfigure(buf[:n]) }))
}

//go:wasmexport plugin_begin
func begin(n uint32) int32 {
	return status(guard(func() error { return p.begin(string(buf[:n])) }))
}

//go:wasmexport plugin_chunk
func chunk(n uint32) int32 {
	defer yield()
	return status(guard(func() error { return p.chunk(buf[:n]) }))
}

//go:wasmexport plugin_end
func end() int32 {
	defer yield()
	return status(guard(p.end))
}

// yield lets the runtime's background goroutines run before the export
// returns: goroutines pause while the host has control, and without this
// the garbage collector's workers never finish a cycle, so a plugin that
// allocates per line grows until it runs out of memory.
func yield() { runtime.Gosched() }
