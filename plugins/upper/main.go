// Command upper is a plugin that upper-cases every line. Letters are
// mapped by Unicode rules; bytes that are not valid UTF-8 pass through
// unchanged. It has no settings.
package main

import (
	"encoding/binary"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "upper",
		Version:     "1.0.0",
		Description: "Upper-cases every line by Unicode rules; bytes that are not UTF-8 pass through.",
	})
	var buf []byte
	sdk.Map(func(line []byte) []byte { return upper(&buf, line) })
}

// upper returns line upper-cased. Most lines are ASCII: it upper-cases
// those in place, eight bytes at a time (Wasm has no SIMD, but 64-bit
// loads and stores are cheap), and returns line itself, which the SDK
// then leaves where it is, with no copy. From the first byte that is not
// ASCII on, it decodes runes into *buf, reused from line to line, and
// returns that.
func upper(buf *[]byte, line []byte) []byte {
	i := 0
	// Four words a turn while they last: in Wasm each turn of a Go loop
	// costs about as much as the work on a word.
	for ; i+32 <= len(line); i += 32 {
		b := line[i : i+32 : i+32]
		w0 := binary.LittleEndian.Uint64(b[0:])
		w1 := binary.LittleEndian.Uint64(b[8:])
		w2 := binary.LittleEndian.Uint64(b[16:])
		w3 := binary.LittleEndian.Uint64(b[24:])
		if (w0|w1|w2|w3)&hi != 0 {
			break // a byte that is not ASCII in these words
		}
		binary.LittleEndian.PutUint64(b[0:], upperASCII(w0))
		binary.LittleEndian.PutUint64(b[8:], upperASCII(w1))
		binary.LittleEndian.PutUint64(b[16:], upperASCII(w2))
		binary.LittleEndian.PutUint64(b[24:], upperASCII(w3))
	}
	for ; i+8 <= len(line); i += 8 {
		w := binary.LittleEndian.Uint64(line[i:])
		if w&hi != 0 {
			break // a byte that is not ASCII in this word
		}
		binary.LittleEndian.PutUint64(line[i:], upperASCII(w))
	}
	for ; i < len(line); i++ {
		c := line[i]
		if c >= utf8.RuneSelf {
			*buf = upperRunes(append((*buf)[:0], line[:i]...), line[i:])
			return *buf
		}
		if 'a' <= c && c <= 'z' {
			line[i] = c - ('a' - 'A')
		}
	}
	return line
}

const (
	ones = 0x0101010101010101
	hi   = 0x8080808080808080
)

// upperASCII upper-cases the eight ASCII bytes of w. Adding 0x80-'a' to a
// byte below 0x80 sets its top bit exactly when it is 'a' or above, adding
// 0x80-'z'-1 when it is above 'z'; no sum carries into the next byte. The
// lower-case letters' top bits, shifted to 0x20, clear their case bit.
func upperASCII(w uint64) uint64 {
	geA := w + (0x80-'a')*ones
	gtZ := w + (0x80-'z'-1)*ones
	return w ^ (geA&^gtZ&hi)>>2
}

// upperRunes appends line, upper-cased by Unicode rules, to out; bytes
// that are not UTF-8 are kept as they are.
func upperRunes(out, line []byte) []byte {
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
			out = append(out, c) // not UTF-8: keep the byte
		} else {
			out = utf8.AppendRune(out, unicode.ToUpper(r))
		}
		i += size
	}
	return out
}

func main() {}
