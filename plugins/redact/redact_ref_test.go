//go:build !wasip1

package main

// The implementation of redact before its single-pass rewrite, kept as the
// reference that the differential tests compare the plugin against. Only
// its configuration is reshaped (refSetup instead of sdk.Configure).

import (
	"bytes"
	"cmp"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A refDetector finds the spans of line to mask, appending their [start, end)
// offsets to found.
type refDetector struct {
	need byte // a byte that every match contains, or 0
	find func(line []byte, found [][2]int) [][2]int
	mask []byte
}

var refKinds = map[string]struct {
	label string
	need  byte
	find  func(line []byte, found [][2]int) [][2]int
}{
	"email": {"[EMAIL]", '@', refFindEmail},
	"ipv4":  {"[IPV4]", '.', refFindIPv4},
	"ipv6":  {"[IPV6]", ':', refFindIPv6},
	"card":  {"[CARD]", 0, refFindCard},
}

var refDetectors []refDetector

// refSetup configures the reference as the old configure did for valid
// settings: mask nil means the per-kind labels, kinds nil means all four.
func refSetup(mask *string, kinds, patterns []string) {
	if kinds == nil {
		kinds = []string{"email", "ipv4", "ipv6", "card"}
	}
	maskOr := func(label string) []byte {
		if mask != nil {
			return []byte(*mask)
		}
		return []byte(label)
	}
	var ds []refDetector
	for _, name := range kinds {
		k := refKinds[name]
		ds = append(ds, refDetector{k.need, k.find, maskOr(k.label)})
	}
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		ds = append(ds, refDetector{0, func(line []byte, found [][2]int) [][2]int {
			for _, m := range re.FindAllIndex(line, -1) {
				found = append(found, [2]int{m[0], m[1]})
			}
			return found
		}, maskOr("[REDACTED]")})
	}
	refDetectors = ds
}

type refSpan struct {
	start, end int
	mask       []byte
}

// Scratch space reused from line to line (the SDK copies a returned line).
var (
	refFound [][2]int
	refSpans []refSpan
	refOut   []byte
)

func refRedact(line []byte) []byte {
	refSpans = refSpans[:0]
	for _, d := range refDetectors {
		if d.need != 0 && bytes.IndexByte(line, d.need) < 0 {
			continue
		}
		refFound = d.find(line, refFound[:0])
		for _, f := range refFound {
			if f[1] > f[0] {
				refSpans = append(refSpans, refSpan{f[0], f[1], d.mask})
			}
		}
	}
	if len(refSpans) == 0 {
		return line
	}
	slices.SortFunc(refSpans, func(a, b refSpan) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end))
	})
	refOut = refOut[:0]
	done := 0
	for _, s := range refSpans {
		if s.start < done {
			continue // overlaps a span already masked
		}
		refOut = append(refOut, line[done:s.start]...)
		refOut = append(refOut, s.mask...)
		done = s.end
	}
	refOut = append(refOut, line[done:]...)
	return refOut
}

// The finders scan for maximal runs of the characters an address can hold
// and then validate each run, rather than use regular expressions, which
// are several times slower here.

func refIsDigit(c byte) bool { return '0' <= c && c <= '9' }

func refIsHex(c byte) bool { return refIsDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

func refIsWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// refCleanBefore reports whether line[:i] does not end in a letter, digit,
// underscore or dot, so that a match starting at i is not part of a longer
// word or dotted number.
func refCleanBefore(line []byte, i int) bool {
	r, _ := utf8.DecodeLastRune(line[:i])
	return i == 0 || (!refIsWord(r) && r != '.')
}

// refCleanAfter reports whether line[i:] does not start with a letter, digit,
// underscore, or a dot and a digit, so that a match ending at i is not part
// of a longer word or dotted number. A plain dot may end a sentence.
func refCleanAfter(line []byte, i int) bool {
	r, _ := utf8.DecodeRune(line[i:])
	return i == len(line) || (!refIsWord(r) && !(r == '.' && i+1 < len(line) && refIsDigit(line[i+1])))
}

// refScan returns the end of the run of bytes from i on that satisfy in.
func refScan(line []byte, i int, in func(byte) bool) int {
	for i < len(line) && in(line[i]) {
		i++
	}
	return i
}

func refIsLocal(c byte) bool {
	return c < utf8.RuneSelf && (refIsWord(rune(c)) || strings.IndexByte(".%+-", c) >= 0)
}

func refIsDomain(c byte) bool {
	return c < utf8.RuneSelf && (refIsDigit(c) || unicode.IsLetter(rune(c)) || c == '.' || c == '-')
}

func refFindEmail(line []byte, refFound [][2]int) [][2]int {
	for at := 0; ; {
		i := bytes.IndexByte(line[at:], '@')
		if i < 0 {
			return refFound
		}
		i += at
		start := i
		for start > 0 && refIsLocal(line[start-1]) {
			start--
		}
		at = i + 1
		if n := refDomainLen(line[i+1 : refScan(line, i+1, refIsDomain)]); start < i && n > 0 {
			refFound = append(refFound, [2]int{start, i + 1 + n})
			at = i + 1 + n
		}
	}
}

// refDomainLen returns the length of the longest domain name at the start of
// s, which holds only letters, digits, dots and hyphens: two or more labels
// split by dots, none empty or with a hyphen at either end, the last of two
// or more letters. It returns 0 if there is none.
func refDomainLen(s []byte) int {
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

func refFindIPv4(line []byte, refFound [][2]int) [][2]int {
	// Find each dot, then the run of digits and dots around it.
	for at := 0; ; {
		k := bytes.IndexByte(line[at:], '.')
		if k < 0 {
			return refFound
		}
		k += at
		i := k
		for i > at && refIsDigit(line[i-1]) {
			i--
		}
		j := refScan(line, k, func(c byte) bool { return refIsDigit(c) || c == '.' })
		at = j
		end := j
		if line[end-1] == '.' { // a full stop
			end--
		}
		if i < k && refIsIPv4(line[i:end]) && refCleanBefore(line, i) && refCleanAfter(line, end) {
			refFound = append(refFound, [2]int{i, end})
		}
	}
}

// refIsIPv4 reports whether s, of digits and dots, is four decimal numbers
// 0-255 joined by dots. Leading zeros are allowed, as some logs pad
// addresses.
func refIsIPv4(s []byte) bool {
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

func refIsZone(c byte) bool {
	return c < utf8.RuneSelf && (refIsWord(rune(c)) || c == '.' || c == '-' || c == '~')
}

func refFindIPv6(line []byte, refFound [][2]int) [][2]int {
	// Find each colon, then the run of hex digits, colons and dots around it.
	for at := 0; ; {
		k := bytes.IndexByte(line[at:], ':')
		if k < 0 {
			return refFound
		}
		k += at
		i := k
		for i > at && (refIsHex(line[i-1]) || line[i-1] == '.') {
			i--
		}
		for line[i] == '.' {
			i++
		}
		j := refScan(line, k, func(c byte) bool { return refIsHex(c) || c == ':' || c == '.' })
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
			if z := refScan(line, j+1, refIsZone); z > j+1 {
				end, at = z, z
			}
		}
		// Also try without a first group glued to a word: "IPv6:2001:db8::1".
		if !refIsIPv6(line, start, end) {
			k := bytes.IndexByte(line[start:end], ':')
			if k < 0 || !refIsIPv6(line, start+k+1, end) {
				continue
			}
			start += k + 1
		}
		refFound = append(refFound, [2]int{start, end})
	}
}

// refIsIPv6 reports whether line[start:end] is an IPv6 address that stands
// apart from its neighbours.
func refIsIPv6(line []byte, start, end int) bool {
	// Cheap checks first: an address has "::" or six colons or more
	// (seven, less one for an IPv4 tail), and a decimal digit.
	s := line[start:end]
	if z := bytes.IndexByte(s, '%'); z >= 0 {
		s = s[:z]
	}
	colons := bytes.Count(s, []byte(":"))
	compressed := bytes.Contains(s, []byte("::"))
	if (colons < 6 && !compressed) || !bytes.ContainsAny(s, "0123456789") || refMacLike(s) {
		return false
	}
	if ip, err := netip.ParseAddr(string(line[start:end])); err != nil || !ip.Is6() {
		return false
	}
	return (start > 0 && line[start-1] == ':' || refCleanBefore(line, start)) &&
		(end < len(line) && line[end] == ':' || refCleanAfter(line, end))
}

// refMacLike reports whether s is pairs of hex digits split by colons, like
// the 64-bit MAC address 00:11:22:33:44:55:66:77.
func refMacLike(s []byte) bool {
	for i := 2; i < len(s); i += 3 {
		if s[i] != ':' {
			return false
		}
	}
	return len(s)%3 == 2
}

func refFindCard(line []byte, refFound [][2]int) [][2]int {
	for i := 0; i < len(line); {
		if !refIsDigit(line[i]) {
			i++
			continue
		}
		// A run of digit groups split by single spaces or dashes.
		start, digits := i, 0
		for {
			j := refScan(line, i, refIsDigit)
			digits += j - i
			i = j
			if j+1 >= len(line) || (line[j] != ' ' && line[j] != '-') || !refIsDigit(line[j+1]) {
				break
			}
			i = j + 1
		}
		if digits >= 13 {
			refFound = refFindCardInRun(line, start, i, refFound)
		}
	}
	return refFound
}

// refFindCardInRun finds card numbers in line[start:end], a run of digit
// groups split by single spaces or dashes.
func refFindCardInRun(line []byte, start, end int, refFound [][2]int) [][2]int {
	groups := refCardGroups[:0] // [start, end) offsets in line
	for i := start; i < end; {
		j := refScan(line[:end], i, refIsDigit)
		groups = append(groups, [2]int{i, j})
		i = j + 1
	}
	refCardGroups = groups
	for g := 0; g < len(groups); {
		if n := refCardAt(line, groups[g:]); n >= 0 {
			start, end := groups[g][0], groups[g+n][1]
			if (g > 0 || refCleanBefore(line, start)) && (g+n < len(groups)-1 || refCleanAfter(line, end)) {
				refFound = append(refFound, [2]int{start, end})
				g += n + 1
				continue
			}
		}
		g++
	}
	return refFound
}

var refCardGroups [][2]int // scratch space for refFindCard

// refCardAt returns the index of the last group of the longest card number
// made of groups from the first on, or -1 if there is none.
func refCardAt(line []byte, groups [][2]int) int {
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
		if len(digits) >= 13 && refLuhn(digits) {
			best = j
		}
	}
	return best
}

// refLuhn reports whether the decimal digits pass the Luhn checksum.
func refLuhn(digits []byte) bool {
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
