//go:build !wasip1

package main

import (
	"math/rand/v2"
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
	prefix := []byte("kept")
	got := upper(prefix, line)
	if string(line) != in {
		t.Fatalf("upper(%q) changed its input", in)
	}
	if want := "kept" + string(refUpper(line)); string(got) != want {
		t.Fatalf("upper(%q) = %q, want %q", in, got, want)
	}
}

// TestUpperMatchesReference tries every byte at every place of a word and
// past it, and random lines mixing ASCII, UTF-8 and invalid bytes.
func TestUpperMatchesReference(t *testing.T) {
	for n := range 18 {
		for pos := range n {
			for c := range 256 {
				line := []byte("abcdefghijklmnopqrstuvwxyz"[:n])
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
