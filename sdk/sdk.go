// Package sdk lets a Go program be a plugin of the file-processing host.
//
// A plugin is a Go main package built for WebAssembly as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm .
//
// It registers exactly one handler from an init function (main is never
// called in a reactor, but must exist):
//
//	func init() {
//		sdk.Map(func(line []byte) []byte { return bytes.ToUpper(line) })
//	}
//
//	func main() {}
//
// The host streams each file through the plugin as chunks of whole lines;
// the SDK splits them, calls the handler once per line and batches the
// output, so a per-line handler costs no boundary crossing per line.
//
// Lines are handed to handlers without their terminator ("\n" or "\r\n").
// A line emitted from a per-line handler gets the terminator of the input
// line it came from, so CRLF files stay CRLF and a last line without a
// newline stays without one. Lines emitted at the end of a file get the
// terminator of the file's last terminated line ("\n" if none).
//
// The same program also builds for the native platform, where [Run] drives
// the registered handler over a reader, so plugin logic can be unit-tested
// with go test and shown in runnable examples.
package sdk

import (
	"errors"
	"runtime"
)

// ABIVersion is the version of the host ABI this SDK implements (docs/ABI.md).
const ABIVersion = 1

// Stream is a stateful handler: Begin is called once per file, Line once per
// line, End once after the last line. Emit from Line sends a line with the
// terminator of the current input line; emit from End uses the file's
// last terminator. Any error fails the file with its message.
type Stream interface {
	Begin(name string) error
	Line(line []byte, emit func([]byte)) error
	End(emit func([]byte)) error
}

// Map registers fn to replace each line with the line it returns. The SDK
// copies the result at once, so fn may return a buffer it reuses. fn may
// also change line in place and return it, or a part of it (as
// bytes.TrimSpace does), which costs no copy at all; line is valid only
// until fn returns.
func Map(fn func(line []byte) []byte) {
	Handle(&lineFunc{mapFn: fn, fn: func(line []byte, emit func([]byte)) error {
		emit(fn(line))
		return nil
	}})
}

// Filter registers keep: a line is kept when keep returns true.
func Filter(keep func(line []byte) bool) {
	Handle(&lineFunc{keep: keep, fn: func(line []byte, emit func([]byte)) error {
		if keep(line) {
			emit(line)
		}
		return nil
	}})
}

// Lines registers fn to turn each line into zero or more lines, each sent
// with emit. An error fails the file.
func Lines(fn func(line []byte, emit func([]byte)) error) {
	Handle(&lineFunc{fn: fn})
}

// Whole registers fn to transform a file's entire content at once. The SDK
// buffers the whole file in plugin memory, so use it only for small files;
// prefer the streaming handlers otherwise. The result is written as is.
func Whole(fn func(name string, content []byte) ([]byte, error)) {
	Handle(&whole{fn: fn})
}

// Handle registers a stateful stream handler. A later call replaces an
// earlier one.
func Handle(s Stream) {
	p.handler = s
}

// Configure registers fn to receive the plugin's settings from the host's
// config file. It runs once per plugin instance, before any file; an error
// stops the plugin from loading and is shown to the user, so validate
// settings (compile patterns, check ranges) here.
func Configure(fn func(Config) error) {
	p.configure = fn
}

// Failf returns an error that fails the file with a formatted message,
// as fmt.Errorf does (%w wraps), with the SDK's own formatting (see
// sprintf): the plugin does not link fmt.
func Failf(format string, args ...any) error {
	return errorf(format, args)
}

// LineEnding returns the terminator of the line being handled: "\n",
// "\r\n", or "" for a file's last line when it has none. Handlers that
// count bytes or rebuild the input exactly use it.
func LineEnding() string {
	switch p.curTerm {
	case 1:
		return "\n"
	case 2:
		return "\r\n"
	}
	return ""
}

// Debug, Info, Warn and Error write msg to the host's log, tagged with the
// plugin's name and the file being processed.
func Debug(msg string) { hostLog(levelDebug, msg) }
func Info(msg string)  { hostLog(levelInfo, msg) }
func Warn(msg string)  { hostLog(levelWarn, msg) }
func Error(msg string) { hostLog(levelError, msg) }

// Debugf, Infof, Warnf and Errorf are Debug, Info, Warn and Error with a
// message formatted as by fmt.Sprintf, with the SDK's own formatting (see
// sprintf): the plugin does not link fmt.
func Debugf(format string, args ...any) { logf(levelDebug, format, args...) }
func Infof(format string, args ...any)  { logf(levelInfo, format, args...) }
func Warnf(format string, args ...any)  { logf(levelWarn, format, args...) }
func Errorf(format string, args ...any) { logf(levelError, format, args...) }

// Log levels, the same numbers as log/slog.
const (
	levelDebug = -4
	levelInfo  = 0
	levelWarn  = 4
	levelError = 8
)

func logf(level int32, format string, args ...any) {
	hostLog(level, sprintf(format, args))
}

// plugin is the single registered plugin of this program.
type plugin struct {
	handler   Stream
	configure func(Config) error
	config    Config
	meta      []byte // the metadata document and its NUL, from Describe

	out      []byte // output batched for one host emit
	lastTerm int    // terminator of the last terminated input line (see term)
	curTerm  int    // terminator of the line being handled
	open     bool   // output ends in a line emitted without terminator
	emitLine func([]byte)
	emitEnd  func([]byte)
	ends     [lineBatch]int32 // where the lines of a chunk end (chunkDirect)
}

var p = newPlugin()

// Terminators are kept as their length: 0 (none), 1 ("\n") or 2 ("\r\n"),
// an integer being cheaper to store per line than a slice.
const lf, crlf = 1, 2

// term returns the terminator of length n.
func term(n int) []byte { return crlfBytes[2-n:] }

var crlfBytes = []byte("\r\n")

// lineBatch is how many line ends chunkDirect finds with one call.
const lineBatch = 1024

// outFlush is the size at which batched output is handed to the host.
const outFlush = 64 << 10

func newPlugin() *plugin {
	pl := &plugin{lastTerm: lf}
	pl.emitLine = func(b []byte) {
		pl.out = append(pl.out, b...)
		pl.out = append(pl.out, term(pl.curTerm)...)
		pl.open = pl.curTerm == 0
	}
	pl.emitEnd = func(b []byte) {
		if pl.open { // keep end lines apart from an unterminated last line
			pl.out = append(pl.out, term(pl.lastTerm)...)
			pl.open = false
		}
		pl.out = append(pl.out, b...)
		pl.out = append(pl.out, term(pl.lastTerm)...)
	}
	return pl
}

var errNoHandler = errors.New("plugin registered no handler (call sdk.Map, sdk.Lines, sdk.Handle... from init)")

func (pl *plugin) doConfigure(raw []byte) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	pl.config = cfg
	if pl.handler == nil {
		return errNoHandler
	}
	if pl.configure != nil {
		return pl.configure(cfg)
	}
	return nil
}

func (pl *plugin) begin(name string) error {
	if pl.handler == nil {
		return errNoHandler
	}
	pl.out = pl.out[:0]
	pl.lastTerm, pl.curTerm, pl.open = lf, lf, false
	return pl.handler.Begin(name)
}

// chunk handles a chunk of whole lines; only a file's last line may lack a
// terminator.
func (pl *plugin) chunk(data []byte) error {
	if pl.stateless() {
		pl.chunkDirect(pl.handler.(*lineFunc), data)
		return nil
	}
	for len(data) > 0 {
		var line []byte
		i := indexNL(data)
		if i < 0 {
			line, data = data, nil
			pl.curTerm = 0
		} else {
			line, data = data[:i:i], data[i+1:] // an append by the handler cannot reach the next line
			if i > 0 && line[i-1] == '\r' {
				line = line[:i-1]
				pl.curTerm = crlf
			} else {
				pl.curTerm = lf
			}
			pl.lastTerm = pl.curTerm
		}
		if err := pl.handler.Line(line, pl.emitLine); err != nil {
			return err
		}
		if len(pl.out) >= outFlush {
			pl.flush()
		}
	}
	return nil
}

// chunkDirect is chunk for a Map or Filter handler, which it calls
// directly: in Wasm every call through an interface or a closure costs
// much, and the general path makes three a line.
//
// The output is built in place, in data: the host's buffer is the
// plugin's to change during the call (docs/ABI.md), and a handler's result
// is never longer than its line in the common case. A line kept as it is
// stays where it is, so a run of such lines costs no copy until a line
// before it was dropped or changed, and then one copy for the whole run.
// A result that does not fit before the next line sends the rest of the
// chunk to the general way, appending to pl.out.
func (pl *plugin) chunkDirect(h *lineFunc, data []byte) {
	w := 0   // the output so far is data[:w]
	run := 0 // and data[run:i] is output still to move to w
	i := 0   // where the next line starts
	for i < len(data) {
		// One call finds the ends of many lines: in Wasm a call per line
		// costs more than the search.
		base, ends := i, pl.ends[:]
		n := lineEnds(data[i:], ends)
		if n < len(ends) && (n == 0 || base+int(ends[n-1])+1 < len(data)) {
			ends[n] = int32(len(data) - base) // the file's last line, unterminated
			n++
		}
		for _, e := range ends[:n] {
			end := base + int(e) // where the line's content ends
			next, tl := end, 0   // where the next line starts; the terminator
			if end < len(data) {
				next, tl = end+1, lf
				if end > i && data[end-1] == '\r' {
					end, tl = end-1, crlf
				}
				pl.lastTerm = tl
			}
			pl.curTerm = tl
			line := data[i:end:end] // an append by the handler cannot reach the next line
			if h.mapFn == nil {
				if !h.keep(line) {
					w += moveRun(data, w, run, i)
					run = next
				} else if tl == 0 {
					pl.open = true
				}
				i = next
				continue
			}
			if tl == 0 { // the file's last line, emitted without one
				pl.open = true
			}
			r := h.mapFn(line)
			if len(r) == len(line) && (len(r) == 0 || &r[0] == &line[0]) {
				i = next // unchanged, or changed in place: part of the run
				continue
			}
			w += moveRun(data, w, run, i)
			if w+len(r) > end {
				// No room: the general way from here on.
				pl.out = append(pl.out, data[:w]...)
				pl.out = append(pl.out, r...)
				pl.out = append(pl.out, term(tl)...)
				pl.chunkAppend(h, data[next:])
				return
			}
			w += copy(data[w:], r)
			w += copy(data[w:], data[end:next]) // the terminator, still in place
			run, i = next, next
		}
	}
	w += moveRun(data, w, run, i)
	pl.emitChunk(data[:w])
}

// moveRun moves the output data[run:i] down to data[w:] and returns its
// length.
func moveRun(data []byte, w, run, i int) int {
	if w != run {
		copy(data[w:], data[run:i])
	}
	return i - run
}

// chunkAppend is chunkDirect appending each result to pl.out, for a chunk
// whose output outgrows it.
func (pl *plugin) chunkAppend(h *lineFunc, data []byte) {
	for len(data) > 0 {
		var line []byte
		tl := 0
		i := indexNL(data)
		if i < 0 {
			line, data = data, nil
		} else {
			line, data, tl = data[:i:i], data[i+1:], lf
			if i > 0 && line[i-1] == '\r' {
				line, tl = line[:i-1:i-1], crlf
			}
			pl.lastTerm = tl
		}
		pl.curTerm = tl
		if h.mapFn != nil {
			line = h.mapFn(line)
		} else if !h.keep(line) {
			continue
		}
		pl.out = append(pl.out, line...)
		pl.out = append(pl.out, term(tl)...)
		pl.open = tl == 0
		if len(pl.out) >= outFlush {
			pl.flush()
		}
	}
	pl.emitChunk(pl.out)
	pl.out = pl.out[:0]
}

// emitChunk hands a chunk's output over before plugin_chunk returns: the
// host may run the next chunk on another instance (plugin_stateless).
// The collector's goroutines get their turn first: emitting with a cycle
// unfinished lets a plugin that allocates per line run out of memory
// (TestGarbageIsCollected), for reasons not yet understood.
func (pl *plugin) emitChunk(out []byte) {
	if len(out) > 0 {
		runtime.Gosched()
		hostEmit(out)
	}
}

// stateless reports whether the registered handler keeps no state between
// chunks: Map and Filter.
func (pl *plugin) stateless() bool {
	h, ok := pl.handler.(*lineFunc)
	return ok && (h.mapFn != nil || h.keep != nil)
}

func (pl *plugin) end() error {
	err := pl.handler.End(pl.emitEnd)
	pl.flush()
	return err
}

func (pl *plugin) flush() {
	if len(pl.out) > 0 {
		runtime.Gosched()
		hostEmit(pl.out)
		pl.out = pl.out[:0]
	}
}

// guard turns a panic in plugin code into an error, so the host reports the
// panic's message for the file instead of a bare trap. The value is
// formatted without fmt (see formatValue): errors (runtime errors
// included), Stringers, strings, booleans and numbers read as with %v.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("panic: " + panicText(r))
		}
	}()
	return fn()
}

// panicText formats r, surviving an Error or String method that panics.
func panicText(r any) (s string) {
	defer func() {
		if recover() != nil {
			s = "(" + typeName(r) + " whose Error or String method panicked)"
		}
	}()
	return formatValue(r)
}

type lineFunc struct {
	fn    func(line []byte, emit func([]byte)) error
	mapFn func(line []byte) []byte // for Map: fn calls it
	keep  func(line []byte) bool   // for Filter: fn calls it
}

func (l *lineFunc) Begin(string) error { return nil }
func (l *lineFunc) Line(line []byte, emit func([]byte)) error {
	return l.fn(line, emit)
}
func (l *lineFunc) End(func([]byte)) error { return nil }

type whole struct {
	fn   func(name string, content []byte) ([]byte, error)
	name string
	buf  []byte
}

func (w *whole) Begin(name string) error {
	w.name, w.buf = name, w.buf[:0]
	return nil
}

func (w *whole) Line(line []byte, _ func([]byte)) error {
	w.buf = append(w.buf, line...)
	w.buf = append(w.buf, term(p.curTerm)...)
	return nil
}

func (w *whole) End(func([]byte)) error {
	res, err := w.fn(w.name, w.buf)
	if err != nil {
		return err
	}
	p.flush()
	hostEmit(res) // as is, without a second copy
	return nil
}
