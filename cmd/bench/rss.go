package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSampler follows the peak resident memory of a process tree by reading
// /proc every 10 ms.
//
// Why not the rusage of the child after wait4: Go starts children with
// CLONE_VM|CLONE_VFORK, and at exec the kernel folds the high-water RSS of
// the memory the child shared with us (ours) into the child's ru_maxrss,
// so it can never be below this program's own peak. VmHWM in
// /proc/PID/status belongs to the exec'd program's memory only; exec.Cmd
// Start returns after the exec, so every sample is of the new program.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	hwm map[int]int64 // KiB, last VmHWM read of every process seen
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{}), hwm: map[int]int64{}}
	go func() {
		defer close(s.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	for _, pid := range tree(s.pid) {
		if kb, ok := vmHWM(pid); ok {
			s.mu.Lock()
			s.hwm[pid] = max(s.hwm[pid], kb)
			s.mu.Unlock()
		}
	}
}

// peakMiB stops sampling and returns the sum of the high-water marks of
// every process seen: exact for one process, an upper bound of the
// concurrent peak for a pipeline. Call it once the process has exited;
// growth in its last 10 ms may be missed.
func (s *rssSampler) peakMiB() float64 {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum int64
	for _, kb := range s.hwm {
		sum += kb
	}
	return float64(sum) / 1024
}

// tree returns pid and its descendants.
func tree(pid int) []int {
	pids := []int{pid}
	for i := 0; i < len(pids); i++ {
		p := strconv.Itoa(pids[i])
		b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// vmHWM is a process's peak resident memory in KiB.
func vmHWM(pid int) (int64, bool) { return procStatus(pid, "VmHWM:") }

// vmRSS is a process's resident memory in KiB.
func vmRSS(pid int) (int64, bool) { return procStatus(pid, "VmRSS:") }

// procStatus reads a field in kB of /proc/PID/status.
func procStatus(pid int, field string) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
