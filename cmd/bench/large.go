package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// largePhase runs one large file through o.largeChain with
// bin/host --input --output, once with the Go plugins and once with their
// C twins where they are built, next to native Go doing the same work
// single-threaded (the fair ceiling, nativeChain), cat and the coreutils
// pipeline, all writing their output to the same folder. The host's peak
// RSS is also measured on a file 1/16 the size, to show whether it grows
// with size.
func (b *bench) largePhase(ctx context.Context, corpus []byte) error {
	chain := b.o.largeChain
	hostC := b.haveAll(cTwins(chain))
	if !hostC {
		b.res.skip("large.host_c", "no C twin of each of "+strings.Join(chain, ", ")+" in "+b.o.plugins+" (make plugins builds them where clang can)")
	}
	for _, c := range [][]string{chain, cTwins(chain)} {
		if c[0] != chain[0] && !hostC {
			continue
		}
		if err := b.warmCache(ctx, c); err != nil {
			return err
		}
	}
	dir := filepath.Join(b.tmp, "large")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	big := filepath.Join(dir, "big.txt")
	small := filepath.Join(dir, "small.txt")
	smallSize := max(b.o.large/16, 1<<20)
	b.logf("writing a %s file", formatSize(b.o.large))
	if err := writeLarge(big, b.o.large, corpus); err != nil {
		return err
	}
	if err := writeLarge(small, smallSize, corpus); err != nil {
		return err
	}
	b.res.Params["large_small_bytes"] = smallSize
	configs := map[string]string{sysHost: filepath.Join(dir, "config.toml"), sysHostC: filepath.Join(dir, "config-c.toml")}
	if err := os.WriteFile(configs[sysHost], []byte(b.chainConfig(chain, "watch", true)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(configs[sysHostC], []byte(b.chainConfig(cTwins(chain), "watch", true)), 0o644); err != nil {
		return err
	}
	pipeline := shellPipeline(chain)
	coreutils := coreutilsMissing(chain, false)
	if coreutils != "" {
		b.res.skip("large.coreutils", coreutils)
	}
	native := nativeMissing(chain)
	if native != "" {
		b.res.skip("large.native", native)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "out")
	host := func(sys, in string) *exec.Cmd {
		return exec.CommandContext(ctx, b.o.host, "--config", configs[sys], "--input", in, "--output", out)
	}
	sums := map[string]string{}
	for rep := 1; rep <= b.o.reps; rep++ {
		type run struct {
			sys    string
			cmd    *exec.Cmd
			stdout bool // the command writes its output to standard output
		}
		runs := []run{{sysHost, host(sysHost, big), false}}
		if hostC {
			runs = append(runs, run{sysHostC, host(sysHostC, big), false})
		}
		if native == "" {
			cmd := exec.CommandContext(ctx, self, nativeCommand, strings.Join(chain, ","), big, out)
			cmd.Env = append(os.Environ(), "GOMAXPROCS=1") // single-threaded, the collector included
			runs = append(runs, run{sysNative, cmd, false})
		}
		runs = append(runs, run{sysCat, exec.CommandContext(ctx, "cat", big), true})
		if coreutils == "" {
			sh := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", "in=$1 out=$2; "+pipeline, "bash", big, out)
			sh.Env = append(os.Environ(), "LC_ALL=C")
			runs = append(runs, run{sysCoreutils, sh, false})
		}
		for _, r := range inTurn(runs, rep) {
			took, rss, size, sum, err := measure(r.cmd, out, r.stdout)
			if err != nil {
				return fmt.Errorf("%s, repetition %d: %w", r.sys, rep, err)
			}
			sums[r.sys] = sum
			mbps := float64(b.o.large) / took.Seconds() / 1e6
			b.res.add("large."+r.sys+".mb_per_s", mbps)
			b.res.add("large."+r.sys+".peak_rss_mib", rss)
			b.res.Params["large_output_bytes_"+r.sys] = size
			b.logf("large file %-9s rep %d/%d: %7.1f MB/s  %6.1f s  peak RSS %6.1f MiB  output %d bytes",
				r.sys, rep, b.o.reps, mbps, took.Seconds(), rss, size)
		}
		_, rss, _, _, err := measure(host(sysHost, small), out, false)
		if err != nil {
			return fmt.Errorf("host on %s, repetition %d: %w", formatSize(smallSize), rep, err)
		}
		b.res.add("large.host.peak_rss_small_mib", rss)
	}
	// The baselines did the same work if their outputs are the host's.
	for _, sys := range []string{sysHostC, sysNative, sysCoreutils} {
		if sum, ok := sums[sys]; ok {
			same := sum == sums[sysHost]
			b.res.Params["large_"+sys+"_output_identical"] = same
			b.logf("large file: host and %s outputs identical: %t", sys, same)
		}
	}
	return nil
}

// haveAll says whether the plugin folder has each of the plugins.
func (b *bench) haveAll(names []string) bool {
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(b.o.plugins, name+".wasm")); err != nil {
			return false
		}
	}
	return true
}

// measure runs cmd, with its standard output to the file out if stdout is
// set (else cmd writes out itself), and returns its wall time, its peak RSS
// in MiB (see rssSampler), and the size and SHA-256 of out, which it then
// removes.
func measure(cmd *exec.Cmd, out string, stdout bool) (took time.Duration, peak float64, size int64, sum string, err error) {
	syscall.Sync() // no write-back of the previous run during this one
	if stdout {
		f, err := os.Create(out)
		if err != nil {
			return 0, 0, 0, "", err
		}
		defer f.Close()
		cmd.Stdout = f
	}
	stderr := &tailWriter{}
	cmd.Stderr = stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, "", err
	}
	rss := sampleRSS(cmd.Process.Pid)
	err = cmd.Wait()
	took = time.Since(start)
	peak = rss.peakMiB()
	if err != nil {
		return 0, 0, 0, "", fmt.Errorf("%s: %w: %s", cmd.Path, err, stderr.b)
	}
	size, sum, err = hashFile(out)
	if err != nil {
		return 0, 0, 0, "", err
	}
	return took, peak, size, sum, os.Remove(out)
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// tailWriter keeps the last KiB written to it.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 1024 {
		t.b = t.b[len(t.b)-1024:]
	}
	return len(p), nil
}
