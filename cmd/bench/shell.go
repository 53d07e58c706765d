package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// shellPipeline returns the coreutils pipeline equivalent to the chain,
// reading "$in" and writing "$out", or "" if a plugin has no equivalent.
func shellPipeline(chain []string) string {
	var cmds []string
	for _, name := range chain {
		s, ok := stageOf(name)
		if !ok || s.shell == "" {
			return ""
		}
		cmds = append(cmds, s.shell)
	}
	cmds[0] += ` < "$in"`
	cmds[len(cmds)-1] += ` > "$out"`
	return strings.Join(cmds, " | ")
}

// coreutilsMissing says why the coreutils baseline cannot run, or "".
func coreutilsMissing(chain []string, watch bool) string {
	if shellPipeline(chain) == "" {
		return fmt.Sprintf("no coreutils equivalent for the chain %s (known: trim, upper, lower, grep, redact)", strings.Join(chain, ","))
	}
	tools := []string{"bash", "sed", "tr", "grep"}
	if watch {
		tools = append(tools, "inotifywait", "xargs", "sync")
	}
	for _, t := range tools {
		if !haveTool(t) {
			hint := ""
			if t == "inotifywait" {
				hint = " (apt-get install inotify-tools)"
			}
			return t + " is not installed" + hint
		}
	}
	return ""
}

// shellMover is the coreutils pipeline driven by inotifywait: each file
// moved into unprocessed/ is claimed with mv, run through the pipeline into
// a temporary name in processed/, renamed into place, and removed, with
// up to o.inFlight() files at once (xargs -P). With sync it fsyncs what the
// host fsyncs, with sync(1). Processed times are the files' ctimes, the
// time of the rename into processed/ (to the kernel clock's tick).
type shellMover struct {
	watch string
	child

	mu   sync.Mutex
	tail []string
}

func (b *bench) startCoreutils(ctx context.Context, watch string, durable bool) (*shellMover, error) {
	syncCmd := func(path string) string {
		if !durable {
			return ""
		}
		return "sync -- " + path + "\n"
	}
	perFile := `f=$1
in="$D/underprocess/$f"
out="$D/processed/.tmp-$f"
mv -- "$D/unprocessed/$f" "$in" 2>/dev/null || exit 0
` + syncCmd(`"$D/underprocess"`) + shellPipeline(b.o.chain) + `
` + syncCmd(`"$out"`) + `mv -- "$out" "$D/processed/$f"
` + syncCmd(`"$D/processed"`) + `rm -- "$in"
` + syncCmd(`"$D/underprocess"`)
	outer := `inotifywait -m -e moved_to --format '%f' "$D/unprocessed" | xargs -d '\n' -n 1 -P "$P" sh -c "$S" sh`
	cmd := exec.Command("bash", "-c", outer)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "D="+watch, "P="+strconv.Itoa(b.o.inFlight()), "S="+perFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &shellMover{watch: watch, child: child{cmd: cmd, done: make(chan struct{})}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "Watches established") {
				once.Do(func() { close(ready) })
				continue
			}
			if strings.Contains(line, "Setting up watches") {
				continue
			}
			m.mu.Lock()
			m.tail = append(m.tail, line)
			if len(m.tail) > 10 {
				m.tail = m.tail[1:]
			}
			m.mu.Unlock()
		}
		m.waitErr = cmd.Wait()
		close(m.done)
	}()
	select {
	case <-ready:
		return m, nil
	case <-m.done:
		return nil, fmt.Errorf("inotifywait pipeline exited: %v%s", m.waitErr, m.describe())
	case <-ctx.Done():
		_ = m.stop()
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		_ = m.stop()
		return nil, fmt.Errorf("inotifywait did not set up its watch within a minute%s", m.describe())
	}
}

// stop ends the process group: inotifywait, xargs and any shell left.
func (m *shellMover) stop() error {
	return m.stopWith(func() error {
		terminate(m.cmd, m.done, -m.cmd.Process.Pid, 30*time.Second)
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.tail) > 0 {
			return fmt.Errorf("errors from the pipeline")
		}
		return nil
	})
}

func (m *shellMover) times(names []string) (map[string]time.Time, string) {
	return ctimes(filepath.Join(m.watch, "processed"), names), "ctime"
}

// cpu is unknown: the pipeline is thousands of short-lived processes.
func (m *shellMover) cpu() (time.Duration, bool) { return 0, false }

func (m *shellMover) describe() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.tail) == 0 {
		return ""
	}
	return "; pipeline stderr:\n  " + strings.Join(m.tail, "\n  ")
}
