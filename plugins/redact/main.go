// Command redact is a plugin that masks personal data in every line:
//
//	email  e-mail addresses: bob.smith+tag@mail.example.org    -> [EMAIL]
//	ipv4   IPv4 addresses: 192.168.0.1, 10.0.0.7:8080, 8.8.8.8/32 -> [IPV4]
//	ipv6   IPv6 addresses: 2001:db8::1, fe80::1%eth0, ::ffff:10.0.0.1 -> [IPV6]
//	card   payment card numbers: 4111 1111 1111 1111, 4111-1111-... -> [CARD]
//
// Detection is careful not to mask look-alikes:
//
//   - An IPv4 address is four numbers 0-255 joined by dots, not glued to a
//     letter, digit or further dotted number, so 1.2.3, v1.2.3.4, 1.2.3.4.5
//     and 300.1.1.1 are left alone (a bare four-part version such as
//     "version 1.2.3.4" cannot be told apart and is masked).
//   - An IPv6 address must parse as one and contain a decimal digit, so
//     times (12:30, 12:30:45), MAC addresses, "::" and C++ or Rust paths
//     (std::vector, a::b) are left alone.
//   - A card number has 13 to 19 digits, written together or in groups of
//     3 to 6 digits split by single spaces or by single dashes; it must start
//     with 2 to 6 (the payment networks' ranges) and pass the Luhn check, so
//     most order numbers, timestamps and phone numbers are left alone. About
//     one in ten random numbers of that shape still passes.
//
// Settings:
//
//	mask      string    replace every match with this text instead of the
//	                    per-kind labels above (may be "" to delete matches)
//	kinds     []string  which of "email", "ipv4", "ipv6", "card" to mask
//	                    (default all four)
//	patterns  []string  extra regular expressions (Go RE2 syntax) whose
//	                    matches are masked with [REDACTED] or mask
//
// For example, to mask only e-mail addresses, card numbers and API keys:
//
//	[plugins.redact.config]
//	kinds = ["email", "card"]
//	patterns = ['(?i)api[_-]?key=\S+']
//
// Where matches overlap, the one starting first (then the longest) wins.
// Each pattern is tried on the whole of every line, which costs more than
// all the built-in kinds together when it does not start with literal text
// (as with (?i)), so keep patterns few.
package main

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

type settings struct {
	Mask     *string  `json:"mask"`
	Kinds    []string `json:"kinds"`
	Patterns []string `json:"patterns"`
}

// A detector finds the spans of line to mask, appending their [start, end)
// offsets to found.
type detector struct {
	need byte // a byte that every match contains, or 0
	find func(line []byte, found [][2]int) [][2]int
	mask []byte
}

var kinds = map[string]struct {
	label string
	need  byte
	find  func(line []byte, found [][2]int) [][2]int
}{
	"email": {"[EMAIL]", '@', findEmail},
	"ipv4":  {"[IPV4]", '.', findIPv4},
	"ipv6":  {"[IPV6]", ':', findIPv6},
	"card":  {"[CARD]", 0, findCard},
}

var detectors []detector

func init() {
	sdk.Configure(configure)
	sdk.Map(redact)
}

func configure(c sdk.Config) error {
	var s settings
	if err := c.Decode(&s); err != nil {
		return err
	}
	if s.Kinds == nil {
		s.Kinds = []string{"email", "ipv4", "ipv6", "card"}
	}
	if len(s.Kinds) == 0 && len(s.Patterns) == 0 {
		return fmt.Errorf(`config key "kinds" is empty and "patterns" is not set: nothing to redact`)
	}
	maskOr := func(label string) []byte {
		if s.Mask != nil {
			return []byte(*s.Mask)
		}
		return []byte(label)
	}
	var ds []detector
	for _, name := range s.Kinds {
		k, ok := kinds[name]
		if !ok {
			return fmt.Errorf(`config key "kinds": unknown kind %q (want "email", "ipv4", "ipv6" or "card")`, name)
		}
		ds = append(ds, detector{k.need, k.find, maskOr(k.label)})
	}
	for i, p := range s.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf(`config key "patterns": pattern %d (%q): %w`, i+1, p, err)
		}
		ds = append(ds, detector{0, func(line []byte, found [][2]int) [][2]int {
			for _, m := range re.FindAllIndex(line, -1) {
				found = append(found, [2]int{m[0], m[1]})
			}
			return found
		}, maskOr("[REDACTED]")})
	}
	detectors = ds
	return nil
}

type span struct {
	start, end int
	mask       []byte
}

// Scratch space reused from line to line (the SDK copies a returned line).
var (
	found [][2]int
	spans []span
	out   []byte
)

func redact(line []byte) []byte {
	spans = spans[:0]
	for _, d := range detectors {
		if d.need != 0 && bytes.IndexByte(line, d.need) < 0 {
			continue
		}
		found = d.find(line, found[:0])
		for _, f := range found {
			if f[1] > f[0] {
				spans = append(spans, span{f[0], f[1], d.mask})
			}
		}
	}
	if len(spans) == 0 {
		return line
	}
	slices.SortFunc(spans, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end))
	})
	out = out[:0]
	done := 0
	for _, s := range spans {
		if s.start < done {
			continue // overlaps a span already masked
		}
		out = append(out, line[done:s.start]...)
		out = append(out, s.mask...)
		done = s.end
	}
	out = append(out, line[done:]...)
	return out
}

// The finders scan for maximal runs of the characters an address can hold
// and then validate each run, rather than use regular expressions, which
// are several times slower here.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// cleanBefore reports whether line[:i] does not end in a letter, digit,
// underscore or dot, so that a match starting at i is not part of a longer
// word or dotted number.
func cleanBefore(line []byte, i int) bool {
	r, _ := utf8.DecodeLastRune(line[:i])
	return i == 0 || (!isWord(r) && r != '.')
}

// cleanAfter reports whether line[i:] does not start with a letter, digit,
// underscore, or a dot and a digit, so that a match ending at i is not part
// of a longer word or dotted number. A plain dot may end a sentence.
func cleanAfter(line []byte, i int) bool {
	r, _ := utf8.DecodeRune(line[i:])
	return i == len(line) || (!isWord(r) && !(r == '.' && i+1 < len(line) && isDigit(line[i+1])))
}

// scan returns the end of the run of bytes from i on that satisfy in.
func scan(line []byte, i int, in func(byte) bool) int {
	for i < len(line) && in(line[i]) {
		i++
	}
	return i
}

func isLocal(c byte) bool {
	return c < utf8.RuneSelf && (isWord(rune(c)) || strings.IndexByte(".%+-", c) >= 0)
}

func isDomain(c byte) bool {
	return c < utf8.RuneSelf && (isDigit(c) || unicode.IsLetter(rune(c)) || c == '.' || c == '-')
}

func findEmail(line []byte, found [][2]int) [][2]int {
	for at := 0; ; {
		i := bytes.IndexByte(line[at:], '@')
		if i < 0 {
			return found
		}
		i += at
		start := i
		for start > 0 && isLocal(line[start-1]) {
			start--
		}
		at = i + 1
		if n := domainLen(line[i+1 : scan(line, i+1, isDomain)]); start < i && n > 0 {
			found = append(found, [2]int{start, i + 1 + n})
			at = i + 1 + n
		}
	}
}

// domainLen returns the length of the longest domain name at the start of
// s, which holds only letters, digits, dots and hyphens: two or more labels
// split by dots, none empty or with a hyphen at either end, the last of two
// or more letters. It returns 0 if there is none.
func domainLen(s []byte) int {
	n, labels := 0, 0
	for i := 0; i < len(s); {
		j, letters := i, true
		for ; j < len(s) && s[j] != '.'; j++ {
			letters = letters && (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z')
		}
		if j == i || s[i] == '-' || s[j-1] == '-' {
			break
		}
		if labels++; labels >= 2 && letters && j-i >= 2 {
			n = j
		}
		i = j + 1
	}
	return n
}

func findIPv4(line []byte, found [][2]int) [][2]int {
	// Find each dot, then the run of digits and dots around it.
	for at := 0; ; {
		k := bytes.IndexByte(line[at:], '.')
		if k < 0 {
			return found
		}
		k += at
		i := k
		for i > at && isDigit(line[i-1]) {
			i--
		}
		j := scan(line, k, func(c byte) bool { return isDigit(c) || c == '.' })
		at = j
		end := j
		if line[end-1] == '.' { // a full stop
			end--
		}
		if i < k && isIPv4(line[i:end]) && cleanBefore(line, i) && cleanAfter(line, end) {
			found = append(found, [2]int{i, end})
		}
	}
}

// isIPv4 reports whether s, of digits and dots, is four decimal numbers
// 0-255 joined by dots. Leading zeros are allowed, as some logs pad
// addresses.
func isIPv4(s []byte) bool {
	parts, n, digits := 1, 0, 0
	for _, c := range s {
		if c == '.' {
			if digits == 0 {
				return false
			}
			parts, n, digits = parts+1, 0, 0
			continue
		}
		n, digits = n*10+int(c-'0'), digits+1
		if digits > 3 || n > 255 {
			return false
		}
	}
	return parts == 4 && digits > 0
}

func isZone(c byte) bool {
	return c < utf8.RuneSelf && (isWord(rune(c)) || c == '.' || c == '-' || c == '~')
}

func findIPv6(line []byte, found [][2]int) [][2]int {
	// Find each colon, then the run of hex digits, colons and dots around it.
	for at := 0; ; {
		k := bytes.IndexByte(line[at:], ':')
		if k < 0 {
			return found
		}
		k += at
		i := k
		for i > at && (isHex(line[i-1]) || line[i-1] == '.') {
			i--
		}
		for line[i] == '.' {
			i++
		}
		j := scan(line, k, func(c byte) bool { return isHex(c) || c == ':' || c == '.' })
		start, end := i, j
		at = j
		// Drop a full stop, and a single colon at either end as in
		// "ip:2001:db8::1" or "fe80::1: refused".
		if line[end-1] == '.' {
			end--
		}
		if end-start > 1 && line[start] == ':' && line[start+1] != ':' {
			start++
		}
		if end-start > 1 && line[end-1] == ':' && line[end-2] != ':' {
			end--
		}
		if end == j && j < len(line) && line[j] == '%' { // a zone, as in fe80::1%eth0
			if z := scan(line, j+1, isZone); z > j+1 {
				end, at = z, z
			}
		}
		// Also try without a first group glued to a word: "IPv6:2001:db8::1".
		if !isIPv6(line, start, end) {
			k := bytes.IndexByte(line[start:end], ':')
			if k < 0 || !isIPv6(line, start+k+1, end) {
				continue
			}
			start += k + 1
		}
		found = append(found, [2]int{start, end})
	}
}

// isIPv6 reports whether line[start:end] is an IPv6 address that stands
// apart from its neighbours.
func isIPv6(line []byte, start, end int) bool {
	// Cheap checks first: an address has "::" or six colons or more
	// (seven, less one for an IPv4 tail), and a decimal digit.
	s := line[start:end]
	if z := bytes.IndexByte(s, '%'); z >= 0 {
		s = s[:z]
	}
	colons := bytes.Count(s, []byte(":"))
	compressed := bytes.Contains(s, []byte("::"))
	if (colons < 6 && !compressed) || !bytes.ContainsAny(s, "0123456789") || macLike(s) {
		return false
	}
	if ip, err := netip.ParseAddr(string(line[start:end])); err != nil || !ip.Is6() {
		return false
	}
	return (start > 0 && line[start-1] == ':' || cleanBefore(line, start)) &&
		(end < len(line) && line[end] == ':' || cleanAfter(line, end))
}

// macLike reports whether s is pairs of hex digits split by colons, like
// the 64-bit MAC address 00:11:22:33:44:55:66:77.
func macLike(s []byte) bool {
	for i := 2; i < len(s); i += 3 {
		if s[i] != ':' {
			return false
		}
	}
	return len(s)%3 == 2
}

func findCard(line []byte, found [][2]int) [][2]int {
	for i := 0; i < len(line); {
		if !isDigit(line[i]) {
			i++
			continue
		}
		// A run of digit groups split by single spaces or dashes.
		start, digits := i, 0
		for {
			j := scan(line, i, isDigit)
			digits += j - i
			i = j
			if j+1 >= len(line) || (line[j] != ' ' && line[j] != '-') || !isDigit(line[j+1]) {
				break
			}
			i = j + 1
		}
		if digits >= 13 {
			found = findCardInRun(line, start, i, found)
		}
	}
	return found
}

// findCardInRun finds card numbers in line[start:end], a run of digit
// groups split by single spaces or dashes.
func findCardInRun(line []byte, start, end int, found [][2]int) [][2]int {
	groups := cardGroups[:0] // [start, end) offsets in line
	for i := start; i < end; {
		j := scan(line[:end], i, isDigit)
		groups = append(groups, [2]int{i, j})
		i = j + 1
	}
	cardGroups = groups
	for g := 0; g < len(groups); {
		if n := cardAt(line, groups[g:]); n >= 0 {
			start, end := groups[g][0], groups[g+n][1]
			if (g > 0 || cleanBefore(line, start)) && (g+n < len(groups)-1 || cleanAfter(line, end)) {
				found = append(found, [2]int{start, end})
				g += n + 1
				continue
			}
		}
		g++
	}
	return found
}

var cardGroups [][2]int // scratch space for findCard

// cardAt returns the index of the last group of the longest card number
// made of groups from the first on, or -1 if there is none.
func cardAt(line []byte, groups [][2]int) int {
	first := groups[0]
	if c := line[first[0]]; c < '2' || c > '6' {
		return -1
	}
	grouped := func(g [2]int) bool { return 3 <= g[1]-g[0] && g[1]-g[0] <= 6 }
	var buf [19]byte
	digits := buf[:0]
	best := -1
	for j, g := range groups {
		// Several groups: each of 3 to 6 digits, all with the same separator.
		if j > 0 && (!grouped(first) || !grouped(g) || line[g[0]-1] != line[first[1]]) {
			break
		}
		if len(digits)+g[1]-g[0] > 19 {
			break
		}
		digits = append(digits, line[g[0]:g[1]]...)
		if len(digits) >= 13 && luhn(digits) {
			best = j
		}
	}
	return best
}

// luhn reports whether the decimal digits pass the Luhn checksum.
func luhn(digits []byte) bool {
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func main() {}
