package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// stage is what the harness knows of an example plugin: the settings it
// is measured with, and the same work done by coreutils and by plain Go,
// for the baselines. A C twin (c-NAME.wasm, docs/PLUGINS.md) is measured
// with its Go build's settings.
type stage struct {
	toml  string // settings as a TOML inline table; "" for none
	json  string // the same settings as JSON, for the in-process runs
	shell string // a coreutils command doing about the same work

	// native does the work on one line without its terminator: it
	// appends the result to dst and says whether the line is kept. nil:
	// no native baseline.
	native func(dst, line []byte) ([]byte, bool)
}

// warnRE is grep's pattern in every measured chain: the generated text's
// "warn" lines, upper-cased by the stage before, are dropped.
var warnRE = regexp.MustCompile("WARN")

// stages are the plugins the baselines can stand in for. The coreutils
// commands are not byte-for-byte equal: sed's regular expressions find
// e-mail, IP and card-like text without redact's checks (no Luhn test, no
// IPv6 parse), and tr maps ASCII only. They run with LC_ALL=C, sed's
// fastest mode, so the baseline is as strong as it can be. The native
// stages use the libraries the plugins use (bytes, regexp).
var stages = map[string]stage{
	"trim": {
		shell:  `sed -E 's/^[[:space:]]+//;s/[[:space:]]+$//'`,
		native: func(dst, line []byte) ([]byte, bool) { return append(dst, bytes.TrimSpace(line)...), true },
	},
	"upper": {
		shell:  `tr a-z A-Z`,
		native: func(dst, line []byte) ([]byte, bool) { return appendCase(dst, line, 'a', bytes.ToUpper), true },
	},
	"lower": {
		shell:  `tr A-Z a-z`,
		native: func(dst, line []byte) ([]byte, bool) { return appendCase(dst, line, 'A', bytes.ToLower), true },
	},
	"grep": {
		toml:  `{ pattern = "WARN", invert = true }`,
		json:  `{"pattern":"WARN","invert":true}`,
		shell: `grep -v -e WARN`,
		native: func(dst, line []byte) ([]byte, bool) {
			return append(dst, line...), !warnRE.Match(line)
		},
	},
	"redact": {
		shell: `sed -E ` +
			`-e 's/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/[EMAIL]/g' ` +
			`-e 's/([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{0,4}::([0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{0,4}/[IPV6]/g' ` +
			`-e 's/([0-9]{1,3}\.){3}[0-9]{1,3}/[IPV4]/g' ` +
			`-e 's/[2-6][0-9]{3}([ -]?[0-9]{4}){3}/[CARD]/g'`,
	},
}

// stageOf is the stage of a plugin name, its C twin's included.
func stageOf(name string) (stage, bool) {
	s, ok := stages[strings.TrimPrefix(name, cPrefix)]
	return s, ok
}

// cPrefix names the C twin of a plugin in the plugin folder.
const cPrefix = "c-"

// cTwins returns the chain with each plugin's C twin.
func cTwins(chain []string) []string {
	twins := make([]string, len(chain))
	for i, name := range chain {
		twins[i] = cPrefix + name
	}
	return twins
}

// appendCase appends line with ASCII letters from first (a or A) to
// first+25 flipped in case, falling back to whole for the rest of the
// line from its first byte that is not ASCII: bytes.ToUpper without its
// allocation per line.
func appendCase(dst, line []byte, first byte, whole func([]byte) []byte) []byte {
	for i, c := range line {
		if c >= 0x80 {
			return append(dst, whole(line[i:])...)
		}
		if first <= c && c <= first+25 {
			c ^= 0x20
		}
		dst = append(dst, c)
	}
	return dst
}

// nativeMissing says why chain has no native baseline, or "".
func nativeMissing(chain []string) string {
	for _, name := range chain {
		if s, ok := stageOf(name); !ok || s.native == nil {
			return "no native Go equivalent of " + name + " (known: trim, upper, lower, grep)"
		}
	}
	return ""
}

// nativeChain does the chain's work in plain Go on one goroutine, a line
// at a time: the fair ceiling for one big file.
func nativeChain(chain []string, r io.Reader, w io.Writer) error {
	if why := nativeMissing(chain); why != "" {
		return errors.New(why)
	}
	funcs := make([]func(dst, line []byte) ([]byte, bool), len(chain))
	for i, name := range chain {
		s, _ := stageOf(name)
		funcs[i] = s.native
	}
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var a, b []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			body := bytes.TrimSuffix(line, []byte("\n"))
			cur, keep := body, true
			for _, f := range funcs {
				a, keep = f(a[:0], cur)
				if !keep {
					break
				}
				cur, a, b = a, b, a
			}
			if keep {
				bw.Write(cur)
				bw.Write(line[len(body):])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// nativeCommand is the first argument that makes this program the native
// baseline instead of the harness: bench native-chain CHAIN IN OUT runs
// nativeChain from file IN to file OUT, so that it is measured as a
// program of its own, as the host is (wall time, peak RSS).
const nativeCommand = "native-chain"

func nativeMain(args []string, stderr io.Writer) int {
	if len(args) != 3 {
		fmt.Fprintln(stderr, "usage: bench "+nativeCommand+" PLUGIN,PLUGIN,... IN OUT")
		return exitUsage
	}
	err := func() error {
		in, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(args[2])
		if err != nil {
			return err
		}
		if err := nativeChain(strings.Split(args[0], ","), in, out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}()
	if err != nil {
		fmt.Fprintln(stderr, "bench "+nativeCommand+":", err)
		return exitError
	}
	return exitOK
}
