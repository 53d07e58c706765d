package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filehost/host/internal/wasmtest"
)

// TestLangsPhase runs the langs phase on a small input with the Go and C
// builds of upper, trim and grep, and checks that every figure and ratio
// is there, positive, and that the builds' outputs were identical. It says
// nothing about speed.
func TestLangsPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles six plugins")
	}
	dir := t.TempDir()
	for _, name := range []string{"upper", "trim", "grep"} {
		for dst, src := range map[string]string{name: wasmtest.Plugin(t, name), "c-" + name: wasmtest.BuildC(t, name)} {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dst+".wasm"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// -host and the chain's plugins are checked before any phase runs.
	host := filepath.Join(dir, "host")
	os.WriteFile(host, nil, 0o755)
	for _, name := range []string{"redact"} {
		os.WriteFile(filepath.Join(dir, name+".wasm"), nil, 0o644)
	}
	jsonOut := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-only", "langs", "-reps", "1", "-langs-size", "256KiB", "-langs-loads", "1",
		"-host", host, "-plugins", dir, "-json", jsonOut, "-tmp", dir}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, &stdout, &stderr)
	}
	var res Results
	data, _ := os.ReadFile(jsonOut)
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"upper", "trim", "grep"} {
		for _, m := range []string{"mb_per_s", "wasm_kib", "mem_mib"} {
			for _, b := range []string{"go", "c"} {
				v, ok := res.Figures["langs."+name+"."+b+"."+m]
				// A C plugin's memory is under 1 MiB, within the noise of
				// one load; a Go plugin's, over 10 MiB, is not.
				if !ok || (v <= 0 && (m != "mem_mib" || b == "go")) {
					t.Errorf("langs.%s.%s.%s = %v, want > 0", name, b, m, v)
				}
			}
			if _, ok := res.Ratios["langs."+name+"."+m+".c/go"]; !ok {
				t.Errorf("ratio langs.%s.%s.c/go missing", name, m)
			}
		}
		if same, _ := res.Params["langs_"+name+"_outputs_identical"].(bool); !same {
			t.Errorf("the C and Go builds of %s gave different output", name)
		}
	}
	for _, sys := range []string{"native", "c", "go"} {
		if v := res.Figures["langs.chain."+sys+".mb_per_s"]; v <= 0 {
			t.Errorf("langs.chain.%s.mb_per_s = %v", sys, v)
		}
	}
	if same, _ := res.Params["langs_chain_outputs_identical"].(bool); !same {
		t.Error("the chains and the native baseline gave different output: they no longer do the same work")
	}
	if !strings.Contains(stdout.String(), "C÷Go") || !strings.Contains(stdout.String(), "of native") {
		t.Errorf("table:\n%s", &stdout)
	}
}
