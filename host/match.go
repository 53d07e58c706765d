package host

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// HeadSize is how many of a file's first bytes decide its content: the
// most net/http.DetectContentType reads.
const HeadSize = 512

// Content is what a file's first bytes say it is.
type Content struct {
	// MIME is the sniffed type without parameters, such as "text/plain",
	// "image/png" or "application/octet-stream".
	MIME string
	// Text is true for UTF-8 (or ASCII, or single-byte) text: a text/* type
	// in the UTF-8 sense. UTF-16 text counts as binary, since plugins read
	// lines of bytes split at '\n'.
	Text bool
}

// Sniff classifies head, the first bytes of a file (up to HeadSize; an
// empty file is text), with the WHATWG sniffing rules of
// net/http.DetectContentType: a known signature (PNG, PDF, ZIP, ...) or,
// failing that, no control bytes other than whitespace means text.
func Sniff(head []byte) Content {
	full := http.DetectContentType(head)
	mt, params, _ := strings.Cut(full, ";")
	mt = strings.TrimSpace(mt)
	text := strings.HasPrefix(mt, "text/") && !strings.Contains(strings.ToLower(params), "utf-16")
	return Content{MIME: mt, Text: text}
}

func (c Content) String() string {
	kind := "binary"
	if c.Text {
		kind = "text"
	}
	return kind + " (" + c.MIME + ")"
}

// ReadHead returns up to HeadSize first bytes of the file at path, or nil
// if it cannot be read (the error then shows when the file is opened to
// be processed).
func ReadHead(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, HeadSize)
	n, _ := io.ReadFull(f, head)
	return head[:n]
}

func checkContent(c string) error {
	switch c {
	case "", "any", "text", "binary":
		return nil
	}
	msg := fmt.Sprintf("must be \"text\", \"binary\" or \"any\", is %q", c)
	if s := suggest(c, []string{"any", "text", "binary"}); s != "" {
		msg += "; did you mean `" + s + "`?"
	}
	return errors.New(msg)
}

var mimeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*/([a-z0-9][a-z0-9.+-]*|\*)$`)

func checkMIME(m string) error {
	if !mimeRE.MatchString(strings.ToLower(m)) {
		return fmt.Errorf("bad MIME type %q: write TYPE/SUBTYPE or TYPE/* (e.g. \"text/csv\", \"image/*\")", m)
	}
	return nil
}

// matchMIME reports whether the sniffed type mt matches pattern
// ("image/png" or "image/*"), ignoring case.
func matchMIME(pattern, mt string) bool {
	pattern, mt = strings.ToLower(pattern), strings.ToLower(mt)
	if fam, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(mt, fam+"/")
	}
	return pattern == mt
}

// Takes reports whether the pipeline takes a file named name whose first
// bytes are head: its name matches one of Match's globs, its content kind
// is Content, and its sniffed type matches one of MIME. An empty criterion
// takes every file.
func (p *PipelineConfig) Takes(name string, head []byte) bool {
	var s sniffed
	return p.takes(name, head, &s)
}

// sniffed sniffs a head once for all the pipelines tried.
type sniffed struct {
	done bool
	c    Content
}

func (s *sniffed) get(head []byte) Content {
	if !s.done {
		s.c, s.done = Sniff(head), true
	}
	return s.c
}

func (p *PipelineConfig) takes(name string, head []byte, s *sniffed) bool {
	if len(p.Match) > 0 && !slicesAny(p.Match, func(g string) bool { ok, _ := path.Match(g, name); return ok }) {
		return false
	}
	if (p.Content == "" || p.Content == "any") && len(p.MIME) == 0 {
		return true
	}
	c := s.get(head)
	switch p.Content {
	case "text":
		if !c.Text {
			return false
		}
	case "binary":
		if c.Text {
			return false
		}
	}
	return len(p.MIME) == 0 || slicesAny(p.MIME, func(m string) bool { return matchMIME(m, c.MIME) })
}

func slicesAny(s []string, f func(string) bool) bool {
	for _, v := range s {
		if f(v) {
			return true
		}
	}
	return false
}

// PipelineFor returns the pipeline for a file named name in watch folder
// w, whose first bytes are head (up to HeadSize; see ReadHead): the first
// of the folder's pipelines that takes it, or nil. A nil head is read as
// an empty file, which is text.
func (c *Config) PipelineFor(w WatchConfig, name string, head []byte) *PipelineConfig {
	var s sniffed
	if len(w.Pipelines) == 0 {
		for i := range c.Pipeline {
			if c.Pipeline[i].takes(name, head, &s) {
				return &c.Pipeline[i]
			}
		}
		return nil
	}
	for _, pn := range w.Pipelines {
		if p, ok := c.pipeline(pn); ok && p.takes(name, head, &s) {
			return p
		}
	}
	return nil
}

// NoPipeline is the error for a file that no pipeline of w takes: it is
// ErrNoPipeline, with what was looked at and what to do.
func (c *Config) NoPipeline(w WatchConfig, name string, head []byte) error {
	return fmt.Errorf("%w: %s is %s; add a pipeline that takes it, or a last pipeline with plugins = [] to pass such files through unchanged",
		ErrNoPipeline, name, Sniff(head))
}

// ResultName returns the name of the result of an input named input (a
// base name), relative to processed/: Output with {name}, {stem} and
// {ext} replaced by the input's name, its name without the extension,
// and the extension with its dot ("people.csv": "people.csv", "people",
// ".csv"). Without Output, or if a name would make the result leave
// processed/, it is the input's name.
func (p *PipelineConfig) ResultName(input string) string {
	if p == nil || p.Output == "" {
		return input
	}
	ext := filepath.Ext(input)
	stem := strings.TrimSuffix(input, ext)
	if stem == "" { // ".bashrc": all stem, no extension
		stem, ext = input, ""
	}
	out := strings.NewReplacer("{name}", input, "{stem}", stem, "{ext}", ext).Replace(p.Output)
	if checkResultPath(out) != nil {
		return input
	}
	return filepath.FromSlash(out)
}

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// checkOutput validates a pipeline's output pattern.
func checkOutput(out string) error {
	if out == "" {
		return nil
	}
	for _, ph := range placeholderRE.FindAllString(out, -1) {
		switch ph {
		case "{name}", "{stem}", "{ext}":
		default:
			return fmt.Errorf("unknown placeholder %s in %q: use {name}, {stem} or {ext}", ph, out)
		}
	}
	if strings.ContainsAny(placeholderRE.ReplaceAllString(out, "x"), "{}") {
		return fmt.Errorf("unmatched brace in %q", out)
	}
	return checkResultPath(placeholderRE.ReplaceAllString(out, "x"))
}

// checkResultPath is the rule for a result's path below processed/:
// relative, '/'-separated, with no empty, "." or ".." part.
func checkResultPath(p string) error {
	if p == "" {
		return errors.New("is empty")
	}
	if strings.HasPrefix(p, "/") || filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		return fmt.Errorf("%q is absolute: it must be a name, or a path below processed/", p)
	}
	if strings.Contains(p, `\`) {
		return fmt.Errorf("%q: separate folders with '/'", p)
	}
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "..":
			return fmt.Errorf("%q leaves processed/ (\"..\")", p)
		case part == "" || part == ".":
			return fmt.Errorf("%q has an empty or \".\" part", p)
		case strings.HasPrefix(part, "."):
			return fmt.Errorf("%q: a part starting with '.' would be hidden (and taken for a temp file)", p)
		}
	}
	return nil
}

// pipelineFor is Config.PipelineFor, unless Options.Pipeline forces one.
func (h *Host) pipelineFor(w WatchConfig, name string, head []byte) *PipelineConfig {
	if h.forced != "" {
		if p, ok := h.cfg.pipeline(h.forced); ok {
			return p
		}
	}
	return h.cfg.PipelineFor(w, name, head)
}
