// Command dedupe is a plugin that drops repeated lines, keeping the first
// occurrence of each. Lines are compared exactly (case and spaces matter;
// the line terminator does not, so "a\r\n" repeats "a\n"). Each file is
// deduplicated on its own.
//
// By default a line is dropped if it appeared anywhere earlier in the file.
// To keep memory small, the plugin remembers an 8-byte hash of each distinct
// line, not the line. Two different lines can in theory share a hash, in
// which case the later one is dropped by mistake; with n distinct lines the
// chance of that is about n²/2⁶⁵ (1 in 37 million for a million lines). The
// hash is seeded from the sandbox's random source, which the host keeps
// deterministic, so input crafted against this build could force a
// collision; use adjacent mode, or grep, where that matters.
//
// A file with more than max_entries distinct lines fails with an error
// instead of using more memory, or passing duplicates through unnoticed;
// raise max_entries (each entry takes up to about 40 bytes, so the default
// may use 40 MB) or use adjacent mode.
//
// Settings:
//
//	adjacent     bool  drop a line only if it repeats the line just before it,
//	                   like uniq; uses constant memory (default false)
//	max_entries  int   most distinct lines remembered per file, at least 1
//	                   (default 1000000; unused in adjacent mode)
package main

import (
	"bytes"
	"errors"
	"hash/maphash"
	"strconv"

	"github.com/filehost/host/sdk"
)

type settings struct {
	adjacent   bool
	maxEntries int
}

type dedupe struct {
	settings
	seed    maphash.Seed
	seen    map[uint64]struct{} // hashes of the distinct lines so far
	prev    []byte              // the previous line, in adjacent mode
	hasPrev bool
	line    int // number of the current line
	dropped int
}

const defaultMaxEntries = 1_000_000

var d = &dedupe{
	settings: settings{maxEntries: defaultMaxEntries},
	seed:     maphash.MakeSeed(),
	seen:     map[uint64]struct{}{},
}

func init() {
	sdk.Describe(sdk.Meta{
		Name:        "dedupe",
		Version:     "1.0.0",
		Description: "Drops repeated lines, keeping the first occurrence of each.",
		Settings: []sdk.Setting{
			{Name: "adjacent", Type: "bool", Default: `false`, Description: "drop a line only if it repeats the line just before it, like uniq"},
			{Name: "max_entries", Type: "integer", Default: `1000000`, Description: "most distinct lines remembered per file (unused in adjacent mode)"},
		},
	})
	sdk.Configure(func(c sdk.Config) error {
		if err := c.Only("adjacent", "max_entries"); err != nil {
			return err
		}
		var s settings
		var err error
		if s.adjacent, err = c.Bool("adjacent", false); err != nil {
			return err
		}
		if s.maxEntries, err = c.Int("max_entries", defaultMaxEntries); err != nil {
			return err
		}
		if s.maxEntries < 1 {
			return errors.New(`config key "max_entries": must be at least 1`)
		}
		d.settings = s
		return nil
	})
	sdk.Handle(d)
}

func (d *dedupe) Begin(string) error {
	clear(d.seen) // reuse the map's memory
	d.prev, d.hasPrev = d.prev[:0], false
	d.line, d.dropped = 0, 0
	return nil
}

func (d *dedupe) Line(line []byte, emit func([]byte)) error {
	d.line++
	if d.adjacent {
		if d.hasPrev && bytes.Equal(line, d.prev) {
			d.dropped++
			return nil
		}
		d.prev, d.hasPrev = append(d.prev[:0], line...), true
		emit(line)
		return nil
	}
	h := maphash.Bytes(d.seed, line)
	if _, ok := d.seen[h]; ok {
		d.dropped++
		return nil
	}
	if len(d.seen) >= d.maxEntries {
		return errors.New("line " + strconv.Itoa(d.line) + ": more than " + strconv.Itoa(d.maxEntries) +
			" distinct lines (max_entries); raise max_entries or set adjacent = true")
	}
	d.seen[h] = struct{}{}
	emit(line)
	return nil
}

func (d *dedupe) End(func([]byte)) error {
	sdk.Debug("dropped " + strconv.Itoa(d.dropped) + " of " + strconv.Itoa(d.line) + " lines as duplicates")
	return nil
}

func main() {}
