//go:build !wasip1

package main

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// refUpper is the plugin's handler before its ASCII fast path: the
// reference the differential tests compare against.
func refUpper(line []byte) []byte {
	var out []byte
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, c)
		} else {
			out = utf8.AppendRune(out, unicode.ToUpper(r))
		}
		i += size
	}
	return out
}

func checkUpper(t testing.TB, line []byte) {
	t.Helper()
	in := string(line)
	buf := []byte("left from an earlier line")
	got := upper(&buf, line)
	if want := string(refUpper([]byte(in))); string(got) != want {
		t.Fatalf("upper(%q) = %q, want %q", in, got, want)
	}
	// An ASCII line is upper-cased where it is, so the SDK copies nothing.
	if ascii := strings.IndexFunc(in, func(r rune) bool { return r >= utf8.RuneSelf }) < 0; ascii && len(line) > 0 && &got[0] != &line[0] {
		t.Fatalf("upper(%q) did not work in place", in)
	}
}

// TestUpperMatchesReference tries every byte at every place of a word and
// past it, and random lines mixing ASCII, UTF-8 and invalid bytes.
func TestUpperMatchesReference(t *testing.T) {
	for n := range 41 { // past the four-word turn too
		for pos := range n {
			for c := range 256 {
				line := []byte("abcdefghijklmnopqrstuvwxyz0123456789 {}@ABC"[:n])
				line[pos] = byte(c)
				checkUpper(t, line)
			}
		}
	}
	const alphabet = "aAzZ09 `{@[\x7f\x80\xbf\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff"
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		line := make([]byte, r.IntN(40))
		for i := range line {
			line[i] = alphabet[r.IntN(len(alphabet))]
		}
		checkUpper(t, line)
	}
	for _, s := range []string{"straße ünd", "ǆ ǅ ǈ ﬀ ß ΐ", "plain ascii line of some length, 0123456789", "ascii then é then ascii again"} {
		checkUpper(t, []byte(s))
	}
}

func FuzzUpperMatchesReference(f *testing.F) {
	for _, s := range []string{"", "hello", "straße ünd", "bad \xff\xfe bytes", "abcdefgh\xc3\xa9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkUpper(t, line)
	})
}
