//go:build !wasip1

package sdk

import (
	"bytes"
	"testing"
)

// FuzzIdentity: a plugin that returns each line unchanged reproduces any
// input byte for byte, whatever its line endings.
func FuzzIdentity(f *testing.F) {
	for _, seed := range []string{"", "a", "a\n", "a\r\n", "\r\n\r\n", "a\rb\n", "x\n\ny", "\x00\xff\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		Map(func(l []byte) []byte { return l })
		var out bytes.Buffer
		if err := Run(bytes.NewReader(in), &out, "f", ""); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("got %q, want %q", out.Bytes(), in)
		}
	})
}
