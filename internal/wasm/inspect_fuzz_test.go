package wasm

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseModule feeds parseModule, which reads files given to host
// plugin inspect, arbitrary bytes: it must return an error, never panic or
// loop. Seeds: small modules, and the example plugins when built.
func FuzzParseModule(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7f"))                    // type section
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x07\x07\x01\x03mem\x02\x00")) // memory, export
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x06\x06\x01\x7f\x01\x41\x07\x0b"))                // global
	for _, name := range []string{"wat-cat", "c-upper"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "plugins", name+".wasm")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseModule(b, &Inspection{})
	})
}
