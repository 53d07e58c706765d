package host

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig: no input makes the decoder or the line finder panic,
// and every problem of a file that parses names the file.
//
//	go test ./host -run '^$' -fuzz FuzzParseConfig -fuzztime 30s
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"",
		"[[pipeline]]\nname = \"a\"\nplugins = [\"x\"]\n",
		"a.\"b.c\".'d' = 1\n[x . \"y\"]\nz = \"\"\"\nq = 1\n\"\"\"\n",
		"[[a]]\n[[a.b]]\n[a.b.c]\nk = [\n{ x = 1 },\n]\n",
		"settle = 0\n[run]\nsettle = 0\n[dashboard]\naddr = \"x\"\n",
		"k = '''\n#'''\n[[watch]]\ndir = \"\\\"\"\n",
	} {
		f.Add([]byte(seed))
	}
	file := filepath.Join(os.TempDir(), "fuzz", "config.toml")
	f.Fuzz(func(t *testing.T, src []byte) {
		keyLines(src)
		_, err := ParseConfig(file, src)
		if errs, ok := err.(ConfigErrors); ok {
			for _, e := range errs {
				if e.File != file {
					t.Fatalf("error without the file: %v", e)
				}
			}
		}
	})
}
