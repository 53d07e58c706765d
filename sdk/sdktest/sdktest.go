//go:build !wasip1

// Package sdktest tests a plugin with go test on the native platform: it
// runs the handler the plugin registered (from its init function, as in
// the Wasm build) over inputs with [sdk.Run], as the host would.
//
//	func TestUpper(t *testing.T) {
//		sdktest.Cases(t, "in.txt", []sdktest.Case{
//			{"plain", "", "abc\n", "ABC\n"},
//			{"crlf", "", "a\r\nb", "A\r\nB"},
//		})
//	}
package sdktest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
)

// Case is one file through the plugin: a name for the subtest, the
// plugin's settings as a JSON object ("" for none), the input, and the
// output it must give.
type Case = struct{ Name, Config, In, Want string }

// Cases runs each case as a subtest, with the file named file.
func Cases(t *testing.T, file string, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Helper()
			if err := check(file, c); err != nil {
				t.Error(err)
			}
		})
	}
}

// Output runs in through the plugin with config, as the file named file,
// and returns the output; an error fails t.
func Output(t testing.TB, file, config, in string) string {
	t.Helper()
	out, err := output(file, config, in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BadConfig is settings the plugin must refuse when it loads, and text
// its error must contain.
type BadConfig = struct{ Config, Want string }

// BadConfigs checks that the plugin refuses each config with an error
// containing its Want.
func BadConfigs(t *testing.T, cases []BadConfig) {
	t.Helper()
	for _, c := range cases {
		if err := refuses(c); err != nil {
			t.Error(err)
		}
	}
}

func output(file, config, in string) (string, error) {
	var out strings.Builder
	if err := sdk.Run(strings.NewReader(in), &out, file, config); err != nil {
		return "", fmt.Errorf("%s with config %q: %w", file, config, err)
	}
	return out.String(), nil
}

func check(file string, c Case) error {
	got, err := output(file, c.Config, c.In)
	if err != nil {
		return err
	}
	if got != c.Want {
		return fmt.Errorf("got %q, want %q", got, c.Want)
	}
	return nil
}

func refuses(c BadConfig) error {
	_, err := output("in.txt", c.Config, "x\n")
	if err == nil || !strings.Contains(err.Error(), c.Want) {
		return fmt.Errorf("config %s: got error %v, want one containing %s", c.Config, err, c.Want)
	}
	return nil
}
