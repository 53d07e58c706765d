//go:build !wasip1

package sdktest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
)

// The checks behind Cases and BadConfigs report what differs, so a plugin's
// tests cannot pass by mistake.
func TestChecksReport(t *testing.T) {
	sdk.Configure(func(c sdk.Config) error { return c.Only("strict") })
	sdk.Map(func(line []byte) []byte {
		if bytes.Equal(line, []byte("fail")) {
			panic("asked to")
		}
		return bytes.ToUpper(line)
	})
	if err := check("in.txt", Case{"right", "", "a\nb", "A\nB"}); err != nil {
		t.Errorf("matching output: %v", err)
	}
	if err := check("in.txt", Case{"wrong", "", "a\n", "a\n"}); err == nil || !strings.Contains(err.Error(), `got "A\n", want "a\n"`) {
		t.Errorf("different output: %v", err)
	}
	if err := check("in.txt", Case{"error", "", "fail\n", ""}); err == nil || !strings.Contains(err.Error(), "asked to") {
		t.Errorf("plugin error: %v", err)
	}
	if err := refuses(BadConfig{`{"other": 1}`, `unknown config key "other"`}); err != nil {
		t.Errorf("refused config: %v", err)
	}
	if err := refuses(BadConfig{`{"strict": true}`, "anything"}); err == nil {
		t.Error("an accepted config passed as refused")
	}
	if err := refuses(BadConfig{`{"other": 1}`, "some other text"}); err == nil {
		t.Error("a refusal with another message passed")
	}
	if got := Output(t, "in.txt", "", "x\r\n"); got != "X\r\n" {
		t.Errorf("Output = %q", got)
	}
}
