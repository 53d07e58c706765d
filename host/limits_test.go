package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filehost/host/internal/wasm"
)

// A plugin entry's limit keys reach the plugin's spec; unset ones are
// left to package wasm's defaults, the one place they are defined.
func TestPluginLimitKeys(t *testing.T) {
	file := writeConfig(t, `
[[pipeline]]
name = "text"
plugins = ["trim", "grep"]

[plugins.grep]
call_timeout = "2s"
max_output = "1GiB"
max_table = 5000
log_rate = 7
max_log_message = "1KiB"
max_memory = "4GiB"

[limits]
memory_budget = "3GiB"
`, "trim", "grep")
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.spec("grep", 1)
	if got.CallTimeout != 2*time.Second || got.MaxOutput != 1<<30 || got.MaxTable != 5000 || got.LogRate != 7 || got.MaxLogMessage != 1<<10 || got.MaxMemory != 4<<30 {
		t.Errorf("grep's spec: %+v", got)
	}
	if cfg.Limits.MemoryBudget != 3<<30 {
		t.Errorf("memory_budget = %d", cfg.Limits.MemoryBudget)
	}
	unset := cfg.spec("trim", 1)
	if unset.CallTimeout != 0 || unset.MaxOutput != 0 || unset.MaxTable != 0 || unset.LogRate != 0 || unset.MaxLogMessage != 0 {
		t.Errorf("trim's spec sets limits of its own: %+v", unset)
	}
	if unset.MaxMemory != wasm.DefaultMaxMemory || DefaultMaxMemory != wasm.DefaultMaxMemory {
		t.Errorf("max_memory default %d, want package wasm's %d", unset.MaxMemory, wasm.DefaultMaxMemory)
	}
	if def := DefaultConfig().Limits.MemoryBudget; def != ByteSize(wasm.DefaultMemoryBudget()) || def == 0 {
		t.Errorf("memory_budget default %d, want package wasm's %d", def, wasm.DefaultMemoryBudget())
	}
}

func TestPluginLimitErrors(t *testing.T) {
	file := writeConfig(t, `
[[pipeline]]
name = "text"
plugins = ["grep"]

[plugins.grep]
call_timeout = "-1s"
max_output = -5
max_table = -1
log_rate = -2
max_log_message = "2GiB"

[limits]
memory_budget = -1
`, "grep")
	_, err := LoadConfig(file)
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want ConfigErrors", err)
	}
	for _, key := range []string{"plugins.grep.call_timeout", "plugins.grep.max_output", "plugins.grep.max_table",
		"plugins.grep.log_rate", "plugins.grep.max_log_message", "limits.memory_budget"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no error for %s in:\n%v", key, err)
		}
	}
}

// A file refused by the memory budget is worth another try; a call over a
// limit is not.
func TestLimitErrorsRetryable(t *testing.T) {
	budget := &wasm.StageError{Plugin: "p", Err: fmt.Errorf("plugin_chunk could not grow its memory: %w", wasm.ErrMemoryBudget)}
	if !Retryable(budget) {
		t.Errorf("Retryable(%v) = false", budget)
	}
	over := &wasm.StageError{Plugin: "p", Err: &wasm.Trap{Func: "plugin_chunk", Err: &wasm.LimitError{Key: "call_timeout", Msg: "did not return within 30s"}}}
	if Retryable(over) {
		t.Errorf("Retryable(%v) = true", over)
	}
}

// docs/CONFIG.md gives package wasm's defaults for the limit keys.
func TestPluginLimitDefaultsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"call_timeout":    `"` + wasm.DefaultCallTimeout.String() + `"`,
		"max_output":      `"` + wasm.SizeString(wasm.DefaultMaxOutput) + `"`,
		"max_table":       strconv.Itoa(wasm.DefaultMaxTable),
		"log_rate":        strconv.Itoa(wasm.DefaultLogRate),
		"max_log_message": `"` + wasm.SizeString(wasm.DefaultMaxLogMessage) + `"`,
		"max_memory":      `"` + wasm.SizeString(wasm.DefaultMaxMemory) + `"`,
		"memory_budget":   "half the machine's memory",
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| [a-z]+ \\| `?([^|]+?)`? \\|")
	found := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		found[m[1]] = m[2]
	}
	for key, def := range want {
		if found[key] != def {
			t.Errorf("docs/CONFIG.md: %s defaults to %s, the code to %s", key, found[key], def)
		}
	}
	if total := wasm.DefaultMemoryBudget(); total == 0 {
		t.Error("no default memory budget")
	}
}
