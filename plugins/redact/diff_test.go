//go:build !wasip1

package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/filehost/host/sdk"
	"github.com/filehost/host/sdk/sdktest"
)

// Differential tests: the plugin must mask exactly what the reference
// implementation in redact_ref_test.go masks, byte for byte.

func strPtr(s string) *string { return &s }

// diffConfigs are settings for both: JSON for the plugin, the same values
// for refSetup.
var diffConfigs = []struct {
	json            string
	mask            *string
	kinds, patterns []string
}{
	{json: ""},
	{json: `{"mask": "***"}`, mask: strPtr("***")},
	{json: `{"mask": ""}`, mask: strPtr("")},
	{json: `{"kinds": ["card", "ipv6"]}`, kinds: []string{"card", "ipv6"}},
	{json: `{"kinds": ["ipv4"]}`, kinds: []string{"ipv4"}},
	{json: `{"kinds": ["email", "email"]}`, kinds: []string{"email", "email"}},
	// Patterns that tie with built-in kinds, match empty, or match often.
	{
		json:     `{"patterns": ["\\d+\\.\\d+\\.\\d+\\.\\d+", "z*", "[0-9a-f]{2}", "@\\S+"]}`,
		patterns: []string{`\d+\.\d+\.\d+\.\d+`, "z*", "[0-9a-f]{2}", `@\S+`},
	},
	{json: `{"kinds": [], "patterns": ["(?i)key=\\S+"]}`, kinds: []string{}, patterns: []string{`(?i)key=\S+`}},
}

var diffConfigured = -1

// useConfig configures the plugin (through sdk.Run, as the host does) and
// the reference with diffConfigs[i].
func useConfig(t testing.TB, i int) {
	t.Helper()
	if diffConfigured == i {
		return
	}
	c := diffConfigs[i]
	if err := sdk.Run(strings.NewReader(""), io.Discard, "in.log", c.json); err != nil {
		t.Fatalf("config %s: %v", c.json, err)
	}
	refSetup(c.mask, c.kinds, c.patterns)
	diffConfigured = i
}

func checkSame(t testing.TB, line string) {
	t.Helper()
	want := string(refRedact([]byte(line)))
	got := string(redact([]byte(line)))
	if got != want {
		t.Fatalf("config %s, line %q:\n got  %q\n want %q", diffConfigs[diffConfigured].json, line, got, want)
	}
}

// tricky are lines at the edges of each detector.
var tricky = []string{
	"", ".", ":", "@", "::", ":::", "..", "@@", "a@", "@a", "a@b", "a@b.", "a@b.c", "a@b.cc", "a@-b.cc", "a@b-.cc", "a@b..cc",
	"a@b.cc.x@d.ee", "x@y.zz@w.vv", "é@b.cc", "a@b.çc", "_@b.cc", "%@b.cc", "a@1.22", "a@b.c1",
	"1.2.3.4", "1.2.3.4.", "1.2.3.4..", ".1.2.3.4", "a.1.2.3.4", "1.2.3.4.5", "01.02.03.004", "1..2.3.4", "1.2.3.4:80",
	"1.2.3.4a", "a1.2.3.4", "1.2.3.4é", "é1.2.3.4", "1.2.3.4_", "1.2.3.4.x", "1.2.3.4.5.6.7.8", "255.255.255.256",
	"1.2.3.4-5.6.7.8", "1.2.3.4 5.6.7.8", "1.2.3.4@x.yy",
	"::1", "::", "1::", "::1.2.3.4", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:1.2.3.4",
	"fe80::1%eth0", "fe80::1%", "fe80::1%%", "fe80::1%eth0%x", "a::1", "g::1", "x:2001:db8::1", ":2001:db8::1:",
	"2001:db8::1.", "2001:db8::1..", ".::1", "..::1", "1.2::3", "::1.2", "::1.2.3.4.5", "12:34:56:78:9a:bc",
	"00:11:22:33:44:55:66:77", "0:1:2:3:4:5:6", "ip:::1", "::1:", "::1::", "[::1]:80", "a:b:c:d:e:f:0:1", "aa::bb::1",
	"IPv6:2001:db8::1", "IPV6:2001:DB8::1", "ffff::1%é", "é::1", "::1é", "::1%e_t-h.0~",
	"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111 1111-1111 1111", "4111  1111 1111 1111",
	"1 4111111111111111", "4111111111111111 1", "41 11 11 11 11 11 11 11", "411 111 111 111 111 1", "4111111111111111 2024",
	"3782 822463 10005", "6212345678901234569", "62123456789012345690", "4111111111111111111111111", "x4111111111111111",
	"4111111111111111x", "4111111111111111.5", "4111111111111111.", "é4111111111111111é", "4111 1111 1111 1111 1111 1111",
	"5555 5555 5555 4444 4111 1111 1111 1111", "2 4111 1111 1111 1111", "4111-1111-1111-1111-", "-4111-1111-1111-1111",
	"4242424242424242,4000056655665556", "1234567890123 4111111111111111", "4111 1111 1111 1111 4111 1111 1111 1111",
	"1f:d%5::0,", "fe80::1%eth0::1", "1:2%ab::1", "fe80::1%1.2.3.4", "1::%a:2:3:4:5:6:7",
	"\xff1.2.3.4\xfe", "\xff::1\xfe", "\xc3", "é", "地址：10.0.0.1。",
	// More than 12 spans, some tied between detectors.
	strings.Repeat("10.0.0.1 ", 15), strings.Repeat("a@b.cc 1.2.3.4 ::1 4111111111111111 ", 5),
	strings.Repeat("zz 0a ", 10),
	// As many runs of 13 digits as a line can hold, ending where words end.
	strings.Repeat("4111111111111x", 10), strings.Repeat("4111111111111-", 9) + "4111111111111",
	"4111111111111111", "41111111111111", "1234567 4111111111111111", "12345678 4111111111111111",
}

// TestWordMasks checks digits, marks and is on every byte value at every place in
// a word, next to every other byte value.
func TestWordMasks(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			for pos := range 7 {
				var buf [8]byte
				buf[pos], buf[pos+1] = byte(a), byte(b)
				w := binary.LittleEndian.Uint64(buf[:])
				var wantD, wantDot, wantMarks uint64
				for i, c := range buf {
					if '0' <= c && c <= '9' {
						wantD |= 0x80 << (8 * i)
					}
					if c == '.' {
						wantDot |= 0x80 << (8 * i)
					}
					if c == '.' || c == ':' || c == '@' {
						wantMarks |= 0x80 << (8 * i)
					}
				}
				if got := marks(w, digits(w)); got != wantMarks {
					t.Fatalf("marks(%x) = %x, want %x", w, got, wantMarks)
				}
				if got := digits(w); got != wantD {
					t.Fatalf("digits(%x) = %x, want %x", w, got, wantD)
				}
				if got := is(w, '.'); got != wantDot {
					t.Fatalf("is(%x, '.') = %x, want %x", w, got, wantDot)
				}
			}
		}
	}
}

func TestRedactMatchesReferenceTricky(t *testing.T) {
	for i := range diffConfigs {
		useConfig(t, i)
		for _, line := range tricky {
			checkSame(t, line)
			for _, wrap := range []string{" %s ", "x%sx", "%s.", ".%s", ":%s:", "é%s", "%s\xff", "1%s1", "@%s@", "-%s-"} {
				checkSame(t, fmt.Sprintf(wrap, line))
			}
		}
	}
}

// pieces are fragments of log-like text; randomLine glues them with random
// separators, and sometimes with random bytes from an alphabet of the
// characters the detectors care about.
var pieces = []string{
	"2026-11-29T10:20:30Z", "INFO", "warn", "user", "bob.smith+tag@mail.example.org", "ann@ex-ample.co.uk",
	"10.0.0.7", "192.168.001.1", "256.1.1.1", "1.2.3", "v1.2.3.4", "8.8.8.8/32", "10.0.0.7:8080",
	"2001:db8::1f", "fe80::1%eth0", "::ffff:10.0.0.1", "std::vector", "12:30:45", "00:1a:2b:3c:4d:5e",
	"4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "3782 822463 10005", "4111111111111112",
	"order 1715000000002", "0.97", "200", "/api/v1/items", "key=abc123", "zz", "é", "地址", "\xff",
}

const alphabet = "0123456789abcdefxyzABFZ.:@-_ %~+/=,;[]()\t\xc3\xa9\xff"

func randomLine(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(12); n >= 0; n-- {
		if r.IntN(4) == 0 {
			for k := r.IntN(20); k >= 0; k-- {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
		} else {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteByte(" .:@-,;é"[r.IntN(9)])
	}
	return b.String()
}

func TestRedactMatchesReferenceRandom(t *testing.T) {
	n := 40_000 // about 10 s with -race; FuzzRedactMatchesReference goes further
	if testing.Short() {
		n = 8_000
	}
	r := rand.New(rand.NewPCG(1, 2))
	masked := 0
	for i := range diffConfigs {
		useConfig(t, i)
		for range n / len(diffConfigs) {
			line := randomLine(r)
			checkSame(t, line)
			if i == 0 && string(redact([]byte(line))) != line {
				masked++
			}
		}
	}
	if masked < n/len(diffConfigs)/2 {
		t.Errorf("only %d lines of %d had something to mask: the generator misses", masked, n/len(diffConfigs))
	}
}

// TestRedactMatchesReferenceFile runs a whole text through sdk.Run, as the
// host would, and compares it with the reference line by line.
func TestRedactMatchesReferenceFile(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var in, want strings.Builder
	useConfig(t, 0)
	for range 5000 {
		line := randomLine(r)
		in.WriteString(line + "\n")
		want.Write(refRedact([]byte(line)))
		want.WriteByte('\n')
	}
	if got := sdktest.Output(t, "in.log", "", in.String()); got != want.String() {
		t.Fatal("output differs from the reference")
	}
}

func FuzzRedactMatchesReference(f *testing.F) {
	for _, line := range tricky {
		f.Add(line, uint8(0))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 50 {
		f.Add(randomLine(r), uint8(i))
	}
	f.Fuzz(func(t *testing.T, line string, config uint8) {
		if strings.ContainsAny(line, "\r\n") {
			return // the SDK splits lines; redact never sees these
		}
		useConfig(t, int(config)%len(diffConfigs))
		checkSame(t, line)
	})
}

// TestClassMatchesReference checks the byte classes against the reference's
// predicates on every byte.
func TestClassMatchesReference(t *testing.T) {
	for i := range 256 {
		c := byte(i)
		for _, k := range []struct {
			name string
			bit  uint8
			want bool
		}{
			{"hex or dot", cHexDot, refIsHex(c) || c == '.'},
			{"ipv6", cIPv6, refIsHex(c) || c == ':' || c == '.'},
			{"word", cWord, c < 0x80 && refIsWord(rune(c))},
			{"local", cLocal, refIsLocal(c)},
			{"domain", cDomain, refIsDomain(c)},
			{"zone", cZone, refIsZone(c)},
		} {
			if got := class[c]&k.bit != 0; got != k.want {
				t.Errorf("class of %q, %s: %v, want %v", c, k.name, got, k.want)
			}
		}
	}
}
