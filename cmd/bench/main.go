// Command bench measures the host against baselines on the same inputs in
// one run, and prints a table of figures and ratios (docs/BENCHMARKS.md):
//
//   - small files: many 4 KiB files dropped into a watched folder, through
//     a 3-plugin chain by the real bin/host in watch mode, from drop to
//     processed (files/s, p50 and p99 latency), with sync on and off; next
//     to a native Go mover that only does the folder moves and a byte copy,
//     and a shell pipeline of coreutils driven by inotifywait;
//   - a large file: one big file through the same chain with
//     bin/host --input --output (MB/s, peak RSS), next to cat and the
//     equivalent coreutils pipeline;
//   - start-up: bin/host --watch with 10 plugins until ready, with a cold
//     and a warm compilation cache, and cold until every plugin compiled in
//     the background;
//   - memory: peak RSS of --input per Go plugin and with the shipped config.
//
// Every figure is the median of -reps repetitions. The inputs are generated
// in a temporary folder, removed at the end. Run it from the repository
// root after make build (make bench does both).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == nativeCommand {
		os.Exit(nativeMain(os.Args[2:], os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
