package runtimecmp

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestGC runs gcprobe (a looping guest, then runtime.GC) under wazero
// without close-on-done and under wazy, each in a child process it kills
// after 10 s: a watchdog can only abandon a call it cannot stop, and if the
// abandoned loop blocks the collector, the whole host stops with it.
func TestGC(t *testing.T) {
	probe := filepath.Join(t.TempDir(), "gcprobe")
	if b, err := exec.Command("go", "build", "-o", probe, "./gcprobe").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for _, mode := range []string{"wazero", "wazy"} {
		cmd := exec.Command(probe, mode)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Logf("%s: GC finished while the guest looped (%v)", mode, err)
			if mode == "wazero" {
				t.Errorf("wazero: expected the GC to be blocked")
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Logf("%s: GC blocked while the guest looped: killed after 10 s", mode)
			if mode == "wazy" {
				t.Errorf("wazy: the GC must not be blocked")
			}
		}
	}
}
