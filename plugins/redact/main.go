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
	"encoding/binary"
	"errors"
	"math/bits"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
)

// Kinds of detector; the built-in ones in the order of kindNames.
const (
	kindEmail = iota
	kindIPv4
	kindIPv6
	kindCard
	kindPattern
)

var (
	kindNames  = []string{"email", "ipv4", "ipv6", "card"}
	kindLabels = []string{"[EMAIL]", "[IPV4]", "[IPV6]", "[CARD]", "[REDACTED]"}
)

// A detector finds one kind of data, or the matches of one pattern.
type detector struct {
	kind int
	mask []byte
	re   *regexp.Regexp // for kindPattern
}

var (
	detectors []detector
	builtin   bool // some detector is not a pattern: survey each line
)

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "redact",
		Version:     "1.0.0",
		Description: "Masks e-mail addresses, IP addresses and payment card numbers in every line.",
		Settings: []sdk.Setting{
			{Name: "mask", Type: "string", Default: ``, Description: "replace every match with this text instead of the per-kind labels"},
			{Name: "kinds", Type: "array of strings", Default: `["email", "ipv4", "ipv6", "card"]`, Description: "which kinds to mask"},
			{Name: "patterns", Type: "array of strings", Default: `[]`, Description: "extra regular expressions (Go RE2 syntax) whose matches are masked"},
		},
	})
	sdk.Configure(configure)
	sdk.Map(redact)
}

func configure(c sdk.Config) error {
	if err := c.Only("mask", "kinds", "patterns"); err != nil {
		return err
	}
	// A null value counts as unset, as it did when the settings were
	// decoded from JSON.
	var mask *string
	if c["mask"] != nil {
		m, err := c.String("mask", "")
		if err != nil {
			return err
		}
		mask = &m
	}
	kinds, err := stringList(c, "kinds")
	if err != nil {
		return err
	}
	patterns, err := stringList(c, "patterns")
	if err != nil {
		return err
	}
	if kinds == nil {
		kinds = kindNames
	}
	if len(kinds) == 0 && len(patterns) == 0 {
		return errors.New(`config key "kinds" is empty and "patterns" is not set: nothing to redact`)
	}
	maskOr := func(kind int) []byte {
		if mask != nil {
			return []byte(*mask)
		}
		return []byte(kindLabels[kind])
	}
	var ds []detector
	for _, name := range kinds {
		k := slices.Index(kindNames, name)
		if k < 0 {
			return errors.New(`config key "kinds": unknown kind ` + strconv.Quote(name) + ` (want "email", "ipv4", "ipv6" or "card")`)
		}
		ds = append(ds, detector{kind: k, mask: maskOr(k)})
	}
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return errors.New(`config key "patterns": pattern ` + strconv.Itoa(i+1) + ` (` + strconv.Quote(p) + `): ` + err.Error())
		}
		ds = append(ds, detector{kind: kindPattern, mask: maskOr(kindPattern), re: re})
	}
	detectors, builtin = ds, len(kinds) > 0
	return nil
}

// stringList returns the array of strings at key, or nil when it is unset
// or null. Unlike c.Strings it refuses a bare string.
func stringList(c sdk.Config, key string) ([]string, error) {
	switch c[key].(type) {
	case nil:
		return nil, nil
	case string:
		return nil, errors.New(`config key "` + key + `": want an array of strings`)
	}
	return c.Strings(key, nil)
}

type span struct {
	start, end int
	mask       []byte
}

// Scratch space reused from line to line (the SDK copies a returned line).
var (
	spans []span
	out   []byte
)

func redact(line []byte) []byte {
	if builtin {
		survey(line)
	}
	spans = spans[:0]
	for i := range detectors {
		d := &detectors[i]
		// Calls cost much in Wasm: make none where survey found no place
		// where the kind can match. An IPv4 address has three dots; an
		// IPv6 address six colons or a "::".
		switch d.kind {
		case kindEmail:
			if len(ats) > 0 {
				findEmail(d, line)
			}
		case kindIPv4:
			if len(dots) >= 3 {
				findIPv4(d, line)
			}
		case kindIPv6:
			if len(colons) >= 6 || lastDouble > 0 {
				findIPv6(d, line)
			}
		case kindCard:
			if len(cardRuns) > 0 {
				findCard(d, line)
			}
		default:
			for _, m := range d.re.FindAllIndex(line, -1) {
				if m[1] > m[0] {
					spans = append(spans, span{m[0], m[1], d.mask})
				}
			}
		}
	}
	if len(spans) == 0 {
		return line
	}
	sortSpans(spans)
	o, done := out[:0], 0
	for _, s := range spans {
		if s.start < done {
			continue // overlaps a span already masked
		}
		o = append(o, line[done:s.start]...)
		o = append(o, s.mask...)
		done = s.end
	}
	o = append(o, line[done:]...)
	out = o
	return o
}

// sortSpans orders spans by start, then longest first. A line has few, so
// it sorts them by insertion, which is what slices.SortFunc does for up to
// 12 elements; it keeps slices.SortFunc for more so that, where two
// detectors find the same span, the same mask wins as it always has.
func sortSpans(s []span) {
	if len(s) > 12 {
		slices.SortFunc(s, compareSpans)
		return
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && compareSpans(s[j], s[j-1]) < 0; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func compareSpans(a, b span) int {
	return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(b.end, a.end))
}

// The finders look at the places survey found, then at the maximal runs of
// the characters an address can hold around them, and validate each run,
// rather than use regular expressions, which are several times slower.
// Each finder walks its places in order and skips those inside the run it
// last looked at.

// Where survey found what in the line being redacted.
var (
	ats, dots, colons []int    // offsets of every '@', '.' and ':'
	lastDouble        int      // index in colons of the last colon right after another, or -1
	cardRuns          [][2]int // runs of 13 digits or more in groups split by single spaces or dashes
)

// survey finds, in one pass over line, the places every built-in detector
// starts from, so that each does not scan the whole line. Go compiled to
// Wasm has no vector instructions and pays dearly for every loop iteration
// and call, so survey looks at eight bytes at a time (SWAR): it visits each
// '.', ':' and '@', but reads digits one by one only where 13 bytes or more
// in a row are digits, spaces and dashes.
func survey(line []byte) {
	ats, dots, colons, cardRuns, lastDouble = ats[:0], dots[:0], colons[:0], cardRuns[:0], -1
	words, most := (len(line)+7)/8, len(line)/14+1
	if cap(marked) < words {
		marked = make([]markedWord, words)
	}
	if cap(stretches) < most {
		stretches = make([][2]int, most)
	}
	nm, ns, count := scanWords(line, marked[:words], stretches[:most])
	// Make room for every mark, then fill the lists by index: without
	// append, the loop calls nothing.
	a, d, c := grow(ats, count[0]), grow(dots, count[1]), grow(colons, count[2])
	na, nd, nc := 0, 0, 0
	for _, m := range marked[:nm] {
		for b := m.marks; b != 0; b &= b - 1 {
			k := m.at + bits.TrailingZeros64(b)>>3
			switch line[k] {
			case '.':
				d[nd] = k
				nd++
			case ':':
				if nc > 0 && c[nc-1] == k-1 {
					lastDouble = nc
				}
				c[nc] = k
				nc++
			default:
				a[na] = k
				na++
			}
		}
	}
	ats, dots, colons = a[:na], d[:nd], c[:nc]
	for _, s := range stretches[:ns] {
		addCardRuns(line, s[0], s[1])
	}
}

// grow returns s[:n], reallocated if it has not the room.
func grow(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

// Scratch space for survey.
var (
	marked    []markedWord
	stretches [][2]int
)

// A markedWord is a word of line with a '.', ':' or '@': its offset, and
// the top bit of each such byte.
type markedWord struct {
	at    int
	marks uint64
}

// scanWords reads line eight bytes at a time. It records each word with a
// '.', ':' or '@' in marked, and each stretch of 13 bytes or more of
// digits, spaces and dashes (where card numbers can be) in stretches, which
// have room enough. It returns how many of each it recorded, and the
// numbers of '@', '.' and ':'. It calls nothing, so that Go's Wasm code
// keeps its variables in locals.
func scanWords(line []byte, marked []markedWord, stretches [][2]int) (nm, ns int, count [3]int) {
	n := len(line)
	run := 0 // digits, spaces and dashes up to the word at i
	for i := 0; i < n; i += 8 {
		var w uint64
		if i+8 <= n {
			w = binary.LittleEndian.Uint64(line[i:])
		} else { // the last bytes, and zero bytes after them
			for j := n - 1; j >= i; j-- {
				w = w<<8 | uint64(line[j])
			}
		}
		d := digits(w)
		r := d | is(w, ' ') | is(w, '-')
		if r == hi {
			run += 8
		} else {
			// The top bits of ^r&hi mark the bytes out of any stretch.
			first := bits.TrailingZeros64(^r&hi) >> 3
			if run += first; run >= 13 {
				stretches[ns] = [2]int{i + first - run, i + first}
				ns++
			}
			run = bits.LeadingZeros64(^r&hi) >> 3
		}
		if m := marks(w, d); m != 0 {
			marked[nm] = markedWord{i, m}
			nm++
			count[0] += bits.OnesCount64(is(w, '@'))
			count[1] += bits.OnesCount64(is(w, '.'))
			count[2] += bits.OnesCount64(is(w, ':'))
		}
	}
	if run >= 13 {
		stretches[ns] = [2]int{n - run, n}
		ns++
	}
	return nm, ns, count
}

// addCardRuns adds to cardRuns each run of digit groups split by single
// spaces or dashes in line[start:end] that has 13 digits or more. Those
// bytes are all digits, spaces and dashes, and the bytes around them are
// none of these, so every run in them is whole.
func addCardRuns(line []byte, start, end int) {
	for i := start; i < end; {
		if !isDigit(line[i]) {
			i++
			continue
		}
		first, digits := i, 0
		for {
			j := i + 1
			for j < end && isDigit(line[j]) {
				j++
			}
			digits += j - i
			i = j
			if j+1 >= end || (line[j] != ' ' && line[j] != '-') || !isDigit(line[j+1]) {
				break
			}
			i = j + 1
		}
		if digits >= 13 {
			cardRuns = append(cardRuns, [2]int{first, i})
		}
	}
}

const (
	ones = 0x0101010101010101
	hi   = 0x8080808080808080
)

// The word functions return the top bit of each byte of w that has some
// property. They work on the low seven bits of each byte, where adding
// 0x80-x sets the top bit exactly when the byte is x or more and no sum
// carries into the next byte, and drop bytes of 0x80 and more.

// digits marks the bytes of w that are decimal digits.
func digits(w uint64) uint64 {
	t := w &^ hi
	return (t + (0x80-'0')*ones) &^ (t + (0x80-'9'-1)*ones) &^ w & hi
}

// marks marks the bytes of w that are '.', ':' or '@': those from '.' to
// ':' that are not digits (given) or '/', and '@'.
func marks(w, digits uint64) uint64 {
	t := w &^ hi
	inRange := (t + (0x80-'.')*ones) &^ (t + (0x80-':'-1)*ones)
	notSlash := (t ^ '/'*ones) + 0x7f*ones
	notAt := (t ^ '@'*ones) + 0x7f*ones
	return (inRange&notSlash&^digits | ^notAt) &^ w & hi
}

// is marks the bytes of w that are c, an ASCII byte.
func is(w uint64, c byte) uint64 {
	return ^((w&^hi ^ uint64(c)*ones) + 0x7f*ones) &^ w & hi
}

// Character classes of ASCII bytes, as bits of class[c].
const (
	cHexDot = 1 << iota // hex digits and '.'
	cIPv6               // hex digits, ':' and '.'
	cWord               // letters, digits and '_'
	cLocal              // the local part of an e-mail address: word characters and . % + -
	cDomain             // a domain name: letters, digits, . and -
	cZone               // an IPv6 zone: word characters and . - ~
)

// class holds the classes of every byte; bytes from 0x80 on have none, so
// the checks that need Unicode look at the rune instead.
var class = func() (t [256]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		var k uint8
		digit := '0' <= c && c <= '9'
		letter := 'a' <= c|0x20 && c|0x20 <= 'z'
		hex := digit || 'a' <= c|0x20 && c|0x20 <= 'f'
		word := digit || letter || c == '_'
		for _, b := range []struct {
			in  bool
			bit uint8
		}{
			{hex || c == '.', cHexDot},
			{hex || c == ':' || c == '.', cIPv6},
			{word, cWord},
			{word || strings.IndexByte(".%+-", byte(c)) >= 0, cLocal},
			{digit || letter || c == '.' || c == '-', cDomain},
			{word || c == '.' || c == '-' || c == '~', cZone},
		} {
			if b.in {
				k |= b.bit
			}
		}
		t[c] = k
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// cleanBefore reports whether line[:i] does not end in a letter, digit,
// underscore or dot, so that a match starting at i is not part of a longer
// word or dotted number.
func cleanBefore(line []byte, i int) bool {
	if i == 0 {
		return true
	}
	if c := line[i-1]; c < utf8.RuneSelf {
		return class[c]&cWord == 0 && c != '.'
	}
	r, _ := utf8.DecodeLastRune(line[:i])
	return !isWord(r)
}

// cleanAfter reports whether line[i:] does not start with a letter, digit,
// underscore, or a dot and a digit, so that a match ending at i is not part
// of a longer word or dotted number. A plain dot may end a sentence.
func cleanAfter(line []byte, i int) bool {
	if i == len(line) {
		return true
	}
	if c := line[i]; c < utf8.RuneSelf {
		return class[c]&cWord == 0 && !(c == '.' && i+1 < len(line) && isDigit(line[i+1]))
	}
	r, _ := utf8.DecodeRune(line[i:])
	return !isWord(r)
}

// scan returns the end of the run of bytes from i on that are all of
// class k.
func scan(line []byte, i int, k uint8) int {
	for i < len(line) && class[line[i]]&k != 0 {
		i++
	}
	return i
}

func findEmail(d *detector, line []byte) {
	at := 0
	for _, i := range ats {
		if i < at {
			continue
		}
		at = i + 1
		start := i
		for start > 0 && class[line[start-1]]&cLocal != 0 {
			start--
		}
		if start == i {
			continue // no local part
		}
		if n := domainLen(line[i+1 : scan(line, i+1, cDomain)]); n > 0 {
			spans = append(spans, span{start, i + 1 + n, d.mask})
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

func findIPv4(d *detector, line []byte) {
	// From each dot, the run of digits and dots around it.
	at := 0
	for x, k := range dots {
		if len(dots)-x < 3 {
			break // an address has three dots
		}
		if k < at {
			continue
		}
		i := k
		for i > at && isDigit(line[i-1]) {
			i--
		}
		j := k + 1
		for j < len(line) && (isDigit(line[j]) || line[j] == '.') {
			j++
		}
		at = j
		end := j
		if line[end-1] == '.' { // a full stop
			end--
		}
		if i < k && isIPv4(line[i:end]) && cleanBefore(line, i) && cleanAfter(line, end) {
			spans = append(spans, span{i, end, d.mask})
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

func findIPv6(d *detector, line []byte) {
	// From each colon, the run of hex digits, colons and dots around it.
	at := 0
	for x, k := range colons {
		if len(colons)-x < 6 && lastDouble <= x {
			break // too few colons left, and no "::": isIPv6 would refuse every run
		}
		if k < at {
			continue
		}
		i := k
		for i > at && class[line[i-1]]&cHexDot != 0 {
			i--
		}
		for line[i] == '.' {
			i++
		}
		j := scan(line, k+1, cIPv6)
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
			if z := scan(line, j+1, cZone); z > j+1 {
				end, at = z, z
			}
		}
		// Most runs, such as times, have neither the six colons nor the
		// "::" that isIPv6 wants, and no part of them can have either.
		n, double := 1, false
		for _, c := range colons[x+1:] {
			if c >= j {
				break
			}
			n++
			double = double || line[c-1] == ':'
		}
		if n < 6 && !double {
			continue
		}
		// Also try without a first group glued to a word: "IPv6:2001:db8::1".
		if !isIPv6(line, start, end) {
			k := bytes.IndexByte(line[start:end], ':')
			if k < 0 || !isIPv6(line, start+k+1, end) {
				continue
			}
			start += k + 1
		}
		spans = append(spans, span{start, end, d.mask})
	}
}

// isIPv6 reports whether line[start:end] is an IPv6 address that stands
// apart from its neighbours.
func isIPv6(line []byte, start, end int) bool {
	// Cheap checks first, in one pass: an address has "::" or six colons
	// or more (seven, less one for an IPv4 tail), and a decimal digit.
	s := line[start:end]
	if z := bytes.IndexByte(s, '%'); z >= 0 {
		s = s[:z]
	}
	colons, compressed, digit := 0, false, false
	for i, c := range s {
		if c == ':' {
			colons++
			compressed = compressed || i > 0 && s[i-1] == ':'
		} else if isDigit(c) {
			digit = true
		}
	}
	if (colons < 6 && !compressed) || !digit || macLike(s) {
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

var cardGroups [][2]int // scratch space for findCard

// findCard finds card numbers in the runs of digit groups survey found.
func findCard(d *detector, line []byte) {
	for _, run := range cardRuns {
		groups := cardGroups[:0] // [start, end) offsets in line
		for i := run[0]; i < run[1]; {
			j := i + 1
			for j < run[1] && isDigit(line[j]) {
				j++
			}
			groups = append(groups, [2]int{i, j})
			i = j + 1
		}
		cardGroups = groups
		for g := 0; g < len(groups); {
			if n := cardAt(line, groups[g:]); n >= 0 {
				start, end := groups[g][0], groups[g+n][1]
				if (g > 0 || cleanBefore(line, start)) && (g+n < len(groups)-1 || cleanAfter(line, end)) {
					spans = append(spans, span{start, end, d.mask})
					g += n + 1
					continue
				}
			}
			g++
		}
	}
}

// cardAt returns the index of the last group of the longest card number
// made of groups from the first on, or -1 if there is none.
func cardAt(line []byte, groups [][2]int) int {
	first := groups[0]
	if c := line[first[0]]; c < '2' || c > '6' {
		return -1
	}
	grouped := 3 <= first[1]-first[0] && first[1]-first[0] <= 6
	// The Luhn check doubles every second digit from the right, so keep
	// the sums for an even and for an odd number of digits, and extend
	// both group by group.
	var sums [2]int
	digits, best := 0, -1
	for j, g := range groups {
		// Several groups: each of 3 to 6 digits, all with the same separator.
		if j > 0 && (!grouped || g[1]-g[0] < 3 || g[1]-g[0] > 6 || line[g[0]-1] != line[first[1]]) {
			break
		}
		if digits+g[1]-g[0] > 19 {
			break
		}
		for _, c := range line[g[0]:g[1]] {
			d := int(c - '0')
			dd := 2 * d
			if dd > 9 {
				dd -= 9
			}
			if digits%2 == 0 { // doubled when the count is even
				sums[0], sums[1] = sums[0]+dd, sums[1]+d
			} else {
				sums[0], sums[1] = sums[0]+d, sums[1]+dd
			}
			digits++
		}
		if digits >= 13 && sums[digits%2]%10 == 0 {
			best = j
		}
	}
	return best
}

func main() {}
