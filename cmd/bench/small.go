package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The systems measured.
const (
	sysHost      = "host"
	sysHostC     = "host_c"    // the host with the chain's C twins (large file)
	sysHostBare  = "host_bare" // the host with no plugins: its own cost per small file
	sysNative    = "native"
	sysCoreutils = "coreutils"
	sysCat       = "cat"
)

// A mover is a system under test that moves files dropped into
// WATCH/unprocessed/ to WATCH/processed/.
type mover interface {
	// exited is closed if the mover stops on its own, which is an error.
	exited() <-chan struct{}
	// stop stops it and reports how it ended.
	stop() error
	// times returns when each file was committed to processed/, by name,
	// and how that was observed.
	times(names []string) (map[string]time.Time, string)
	// describe says what went wrong, for errors.
	describe() string
	// cpu is the CPU time (user + system) the mover has used so far, if
	// it can be told apart.
	cpu() (time.Duration, bool)
}

// smallResult is one run over a set of small files.
type smallResult struct {
	filesPerSec float64
	dropPerSec  float64       // how fast the files were renamed in: a ceiling on filesPerSec
	stampGap    time.Duration // median of the mover's own stamps minus the ctimes (a cross-check)
	p50, p99    time.Duration
	timing      string        // how processed times were observed
	cpuPerFile  time.Duration // CPU from the first drop to the last file, per file; 0 if unknown
}

func syncLabel(sync bool) string {
	if sync {
		return "sync"
	}
	return "nosync"
}

// smallSystems lists the systems to run, and records why any is skipped.
// The burst also runs the host with no plugins: next to the native mover,
// that is the cost of the host's own per-file path (claim, read, write,
// commit, watcher, log), the rest of the host's figure being the chain's.
func (b *bench) smallSystems(phase string) []string {
	systems := []string{sysHost, sysNative}
	if phase == "small" {
		systems = []string{sysHost, sysHostBare, sysNative}
	}
	if why := coreutilsMissing(b.o.chain, true); why != "" {
		b.res.skip(phase+".*.coreutils", why)
	} else {
		systems = append(systems, sysCoreutils)
	}
	return systems
}

// smallPhase drops o.files files at once into each system, with sync on
// and off: files/s, and latency under a burst.
func (b *bench) smallPhase(ctx context.Context, corpus []byte) error {
	if err := b.warmCache(ctx, b.o.chain); err != nil {
		return err
	}
	if err := b.warmCache(ctx, nil); err != nil {
		return err
	}
	systems := b.smallSystems("small")
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, sync := range []bool{true, false} {
			for _, sys := range inTurn(systems, rep) {
				n := b.o.files
				if sys == sysCoreutils {
					n = b.o.shFiles
				}
				r, err := b.smallRun(ctx, sys, sync, n, 0, corpus)
				if err != nil {
					return fmt.Errorf("%s, %s, repetition %d: %w", sys, syncLabel(sync), rep, err)
				}
				key := "small." + syncLabel(sync) + "." + sys
				b.res.add(key+".files_per_s", r.filesPerSec)
				b.res.add(key+".p50_ms", ms(r.p50))
				b.res.add(key+".p99_ms", ms(r.p99))
				b.res.add(key+".drop_per_s", r.dropPerSec)
				if sys != sysCoreutils { // whose times are the ctimes
					b.res.add(key+".stamp_minus_ctime_ms", ms(r.stampGap))
				}
				cpu := ""
				if r.cpuPerFile > 0 {
					b.res.add(key+".cpu_ms_per_file", ms(r.cpuPerFile))
					cpu = fmt.Sprintf("  cpu %.3f ms/file", ms(r.cpuPerFile))
				}
				b.res.timing[sys] = r.timing
				b.logf("small files %-9s %-6s rep %d/%d: %5d files %7.0f files/s  p50 %7.1f ms  p99 %7.1f ms  (dropped at %.0f files/s)%s",
					sys, syncLabel(sync), rep, b.o.reps, n, r.filesPerSec, ms(r.p50), ms(r.p99), r.dropPerSec, cpu)
			}
		}
	}
	return nil
}

// inTurn returns the systems in the order to run them in repetition rep:
// each repetition starts one further along the list, so with two systems
// host and native swap places every other repetition. Each run leaves
// the filesystem in a state the next one pays for (ext4 without a journal
// passes over the inodes freed in the last minute or more on every file
// it creates), so neither should always run after the other.
func inTurn[T any](systems []T, rep int) []T {
	if len(systems) == 0 {
		return nil
	}
	k := (rep - 1) % len(systems)
	return slices.Concat(systems[k:], systems[:k])
}

// pacedPhase drops o.paced files one at a time at o.rate: the latency of a
// file on an idle system, without queueing.
func (b *bench) pacedPhase(ctx context.Context, corpus []byte) error {
	if b.o.paced == 0 {
		return nil
	}
	if err := b.warmCache(ctx, b.o.chain); err != nil {
		return err
	}
	systems := b.smallSystems("paced")
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, sync := range []bool{true, false} {
			for _, sys := range inTurn(systems, rep) {
				r, err := b.smallRun(ctx, sys, sync, b.o.paced, b.o.rate, corpus)
				if err != nil {
					return fmt.Errorf("%s, %s, repetition %d: %w", sys, syncLabel(sync), rep, err)
				}
				key := "paced." + syncLabel(sync) + "." + sys
				b.res.add(key+".p50_ms", ms(r.p50))
				b.res.add(key+".p99_ms", ms(r.p99))
				b.logf("paced files %-9s %-6s rep %d/%d: p50 %7.1f ms  p99 %7.1f ms",
					sys, syncLabel(sync), rep, b.o.reps, ms(r.p50), ms(r.p99))
			}
		}
	}
	return nil
}

// smallRun generates n files, starts the system on a fresh watch folder,
// drops the files (all at once when rate is 0, else rate per second) and
// waits until all are processed.
func (b *bench) smallRun(ctx context.Context, sys string, sync bool, n int, rate float64, corpus []byte) (smallResult, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	dir, err := os.MkdirTemp(b.tmp, "small-")
	if err != nil {
		return smallResult{}, err
	}
	defer os.RemoveAll(dir)
	watch := filepath.Join(dir, "watch")
	for _, sub := range []string{"unprocessed", "underprocess", "processed", "failed"} {
		if err := os.MkdirAll(filepath.Join(watch, sub), 0o755); err != nil {
			return smallResult{}, err
		}
	}
	stage := filepath.Join(dir, "stage")
	names, err := writeSmallFiles(stage, n, b.o.fileSize, corpus)
	if err != nil {
		return smallResult{}, err
	}
	// Start every system with nothing waiting to be written back.
	syscall.Sync()

	var m mover
	switch sys {
	case sysHost:
		m, err = b.startHost(ctx, dir, watch, b.o.chain, sync)
	case sysHostBare:
		m, err = b.startHost(ctx, dir, watch, nil, sync)
	case sysNative:
		m, err = startNative(watch, b.o.inFlight(), sync, n)
	case sysCoreutils:
		m, err = b.startCoreutils(ctx, watch, sync)
	default:
		err = fmt.Errorf("unknown system %q", sys)
	}
	if err != nil {
		return smallResult{}, err
	}
	cpu0, cpuOK := m.cpu()
	dropped, err := drop(ctx, stage, filepath.Join(watch, "unprocessed"), names, rate)
	if err == nil {
		err = waitProcessed(ctx, watch, n, m)
	}
	cpu1, _ := m.cpu()
	if serr := m.stop(); err == nil && serr != nil {
		err = fmt.Errorf("stop: %w%s", serr, m.describe())
	}
	if err != nil {
		return smallResult{}, err
	}
	done, timing := m.times(names)
	ct := ctimes(filepath.Join(watch, "processed"), names)
	if b.o.ctimeOnly {
		done, timing = ct, "ctime"
	}
	r, err := summarize(names, dropped, done, timing)
	r.stampGap = stampGap(done, ct)
	if cpuOK {
		r.cpuPerFile = (cpu1 - cpu0) / time.Duration(n)
	}
	return r, err
}

// stampGap is the median of a mover's own processed times minus the
// outputs' ctimes: how far its stamps are from the commit the kernel saw
// (ctime ticks every few ms, so a few ms either way is agreement).
func stampGap(done, ct map[string]time.Time) time.Duration {
	var gaps []time.Duration
	for name, t := range done {
		if c, ok := ct[name]; ok {
			gaps = append(gaps, t.Sub(c))
		}
	}
	slices.Sort(gaps)
	return percentile(gaps, 50)
}

// drop renames the staged files into unprocessed/, recording when each
// rename returned: the file's drop time. With a rate, file i is dropped at
// a random moment of the i-th 1/rate slot: evenly spaced drops would keep
// one phase against the host's periodic settle tick, and every file would
// wait the same part of it.
func drop(ctx context.Context, stage, unprocessed string, names []string, rate float64) (map[string]time.Time, error) {
	dropped := make(map[string]time.Time, len(names))
	jitter := rand.New(rand.NewPCG(2, 3))
	start := time.Now()
	for i, name := range names {
		if rate > 0 {
			next := start.Add(time.Duration((float64(i) + jitter.Float64()) / rate * float64(time.Second)))
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		if err := os.Rename(filepath.Join(stage, name), filepath.Join(unprocessed, name)); err != nil {
			return nil, err
		}
		dropped[name] = time.Now()
	}
	return dropped, nil
}

// waitProcessed polls processed/ until it holds n files. How often does not
// matter to the figures: they come from the movers' own times.
func waitProcessed(ctx context.Context, watch string, n int, m mover) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := countFiles(filepath.Join(watch, "processed"))
		if err != nil {
			return err
		}
		failed, err := countFiles(filepath.Join(watch, "failed"))
		if err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d files failed%s", failed, m.describe())
		}
		if got >= n {
			return nil
		}
		select {
		case <-tick.C:
		case <-m.exited():
			return fmt.Errorf("stopped before processing every file (%d of %d)%s", got, n, m.describe())
		case <-ctx.Done():
			return fmt.Errorf("%w: %d of %d files processed%s", ctx.Err(), got, n, m.describe())
		}
	}
}

// countFiles counts the names in dir that are not dotfiles (temporary
// outputs) or error reports.
func countFiles(dir string) (int, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".error.json") {
			n++
		}
	}
	return n, nil
}

// ctimes returns the inode change time of each processed file: the last
// rename, link or unlink that touched it, which is when a mover committed
// it. The kernel stamps it from a clock that advances once per tick (4 ms
// here), so it can lag by up to that.
func ctimes(dir string, names []string) map[string]time.Time {
	out := make(map[string]time.Time, len(names))
	for _, name := range names {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, name), &st); err == nil {
			out[name] = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
		}
	}
	return out
}

func summarize(names []string, dropped, done map[string]time.Time, timing string) (smallResult, error) {
	lat := make([]time.Duration, 0, len(names))
	var first, last, lastDrop time.Time
	for _, name := range names {
		d, ok := done[name]
		if !ok {
			return smallResult{}, fmt.Errorf("no processed time for %s", name)
		}
		t := dropped[name]
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(lastDrop) {
			lastDrop = t
		}
		if d.After(last) {
			last = d
		}
		lat = append(lat, max(d.Sub(t), 0))
	}
	span := last.Sub(first)
	if span <= 0 {
		return smallResult{}, errors.New("processing took no time: clocks disagree")
	}
	slices.Sort(lat)
	dropRate := 0.0 // unknown for one file
	if d := lastDrop.Sub(first); d > 0 {
		dropRate = float64(len(names)-1) / d.Seconds()
	}
	return smallResult{
		filesPerSec: float64(len(names)) / span.Seconds(),
		dropPerSec:  dropRate,
		p50:         percentile(lat, 50),
		p99:         percentile(lat, 99),
		timing:      timing,
	}, nil
}

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
