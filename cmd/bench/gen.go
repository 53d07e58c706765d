package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// genCorpus returns about size bytes of log-like text lines, the same for
// the same seed: padded with spaces for trim, lower-case for upper, and
// with e-mail addresses, IPv4 and IPv6 addresses and card numbers for
// redact, so every plugin of the default chain has work on most lines.
func genCorpus(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	users := []string{"ann", "bob.smith", "carol+news", "dave_o", "eve"}
	domains := []string{"example.org", "mail.example.com", "corp.example.net"}
	verbs := []string{"logged in", "uploaded a file", "changed a password", "requested a report", "logged out"}
	paths := []string{"/api/v1/items", "/static/app.js", "/login", "/reports/2026/11"}
	cards := []string{"4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"}
	var b bytes.Buffer
	b.Grow(size + 256)
	for b.Len() < size {
		b.WriteString([]string{"", " ", "  ", "\t"}[r.IntN(4)])
		fmt.Fprintf(&b, "2026-11-%02dT%02d:%02d:%02d.%03dZ ", 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000))
		switch r.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "info user %s@%s %s from %d.%d.%d.%d",
				users[r.IntN(len(users))], domains[r.IntN(len(domains))], verbs[r.IntN(len(verbs))],
				10+r.IntN(200), r.IntN(256), r.IntN(256), 1+r.IntN(254))
		case 1:
			fmt.Fprintf(&b, "info get %s status 200 in %dms from 2001:db8:%x::%x",
				paths[r.IntN(len(paths))], 1+r.IntN(900), r.IntN(0xffff), 1+r.IntN(0xfff))
		case 2:
			fmt.Fprintf(&b, "warn payment with card %s declined for order %d", cards[r.IntN(len(cards))], 100000+r.IntN(900000))
		case 3:
			fmt.Fprintf(&b, "debug cache hit ratio %d.%02d over %d keys, nothing to mask here", r.IntN(100), r.IntN(100), r.IntN(1e6))
		default:
			fmt.Fprintf(&b, "error connection to 192.168.%d.%d:%d reset by peer after %d bytes; contact ops@%s",
				r.IntN(256), 1+r.IntN(254), 1024+r.IntN(60000), r.IntN(1e6), domains[r.IntN(len(domains))])
		}
		b.WriteString([]string{"", " ", "   "}[r.IntN(3)])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// lineStarts returns the offsets at which the corpus's lines start.
func lineStarts(corpus []byte) []int {
	starts := []int{0}
	for i, c := range corpus {
		if c == '\n' && i+1 < len(corpus) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// writeSmallFiles writes n files of size bytes into dir, named
// f000000.txt..., each a different window of the corpus starting at a line.
// It returns the names in order.
func writeSmallFiles(dir string, n int, size int64, corpus []byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	starts := lineStarts(corpus)
	// Window starts that leave room for a whole file.
	limit := len(starts)
	for limit > 0 && int64(len(corpus)-starts[limit-1]) < size {
		limit--
	}
	names := make([]string, n)
	buf := make([]byte, size)
	for i := range n {
		names[i] = fmt.Sprintf("f%06d.txt", i)
		if limit > 0 {
			off := starts[(i*7919)%limit]
			copy(buf, corpus[off:])
		} else { // a file larger than the corpus: repeat it
			fill(buf, corpus)
		}
		if err := os.WriteFile(filepath.Join(dir, names[i]), buf, 0o644); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func fill(buf, pattern []byte) {
	for i := 0; i < len(buf); i += copy(buf[i:], pattern) {
	}
}

// writeLarge writes a file of exactly size bytes made of copies of the
// corpus, ending with a newline (grep, in the coreutils baseline, would
// add one to a last line without it).
func writeLarge(path string, size int64, corpus []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for left := size - 1; left > 0; {
		chunk := corpus
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
		}
		if _, err := w.Write(chunk); err != nil {
			f.Close()
			return err
		}
		left -= int64(len(chunk))
	}
	if err := w.WriteByte('\n'); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
