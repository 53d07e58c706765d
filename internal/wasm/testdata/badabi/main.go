// Command badabi is a test plugin that claims ABI version 2.
package main

import "unsafe"

var buf = make([]byte, 1<<16)

//go:wasmexport plugin_abi_version
func abiVersion() int32 { return 2 }

//go:wasmexport plugin_buffer
func buffer(uint32) unsafe.Pointer { return unsafe.Pointer(&buf[0]) }

//go:wasmexport plugin_configure
func configure(uint32) int32 { return 0 }

//go:wasmexport plugin_begin
func begin(uint32) int32 { return 0 }

//go:wasmexport plugin_chunk
func chunk(uint32) int32 { return 0 }

//go:wasmexport plugin_end
func end() int32 { return 0 }

func main() {}
