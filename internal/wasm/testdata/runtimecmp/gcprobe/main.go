// Command gcprobe starts a guest that loops for ever in a goroutine, then
// calls runtime.GC and exits when it returns: under a runtime whose loops
// never yield to Go, it never does.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/samyfodil/wazy"
	"github.com/tetratelabs/wazero"
)

// loop is (module (func (export "loop") (loop (br 0)))).
var loop = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02,
	0x01, 0x00, 0x07, 0x08, 0x01, 0x04, 0x6c, 0x6f, 0x6f, 0x70, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07,
	0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b,
}

func main() {
	ctx := context.Background()
	var call func()
	switch os.Args[1] {
	case "wazero":
		rt := wazero.NewRuntime(ctx)
		mod, err := rt.Instantiate(ctx, loop)
		if err != nil {
			panic(err)
		}
		call = func() { _, _ = mod.ExportedFunction("loop").Call(ctx) }
	case "wazy":
		rt := wazy.NewRuntime(ctx)
		mod, err := rt.Instantiate(ctx, loop)
		if err != nil {
			panic(err)
		}
		call = func() { _, _ = mod.ExportedFunction("loop").Call(ctx) }
	}
	started := make(chan struct{})
	go func() { close(started); call() }()
	<-started
	time.Sleep(200 * time.Millisecond) // into the loop
	start := time.Now()
	runtime.GC()
	fmt.Println(os.Args[1], "GC done in", time.Since(start))
}
