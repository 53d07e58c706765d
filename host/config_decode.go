package host

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// decoder lays a parsed TOML tree on a Config, field by field, so that
// one bad value does not hide the next: every unknown key and every value
// of the wrong type becomes a ConfigError, and decoding goes on.
// BurntSushi/toml's own decoding stops at the first, with Go's type names.
type decoder struct {
	file  string
	lines map[string]int // key (keyPath form) -> line, from keyLines
	errs  ConfigErrors
	// failed holds the keys whose values were refused: the checks skip
	// them, so one mistake gives one message.
	failed map[string]bool
}

var (
	unmarshalerType     = reflect.TypeFor[toml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) bad(key, format string, args ...any) {
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[key] = true
	d.errs = append(d.errs, &ConfigError{File: d.file, Key: key, Line: lineFor(d.lines, key), Msg: fmt.Sprintf(format, args...)})
}

// decode sets rv from v, the value at key. desc, when set, says in words
// what the key holds (a field's desc tag).
func (d *decoder) decode(key string, v any, rv reflect.Value, desc ...string) {
	want := describeType(rv.Type())
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Struct {
		want = "a list of tables, each written [[" + key + "]]"
	}
	if len(desc) > 0 && desc[0] != "" {
		want = desc[0]
	}
	if reflect.PointerTo(rv.Type()).Implements(unmarshalerType) {
		if err := rv.Addr().Interface().(toml.Unmarshaler).UnmarshalTOML(v); err != nil {
			d.bad(key, "%v", err)
		}
		return
	}
	mismatch := func() { d.bad(key, "must be %s, got %s", want, describeValue(v)) }
	if reflect.PointerTo(rv.Type()).Implements(textUnmarshalerType) {
		s, ok := v.(string)
		if !ok {
			mismatch()
			return
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.bad(key, "%v", err)
		}
		return
	}
	switch rv.Kind() {
	case reflect.Interface:
		rv.Set(reflect.ValueOf(v))
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			mismatch()
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			mismatch()
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			mismatch()
			return
		}
		if rv.OverflowInt(n) {
			d.bad(key, "%d is too large", n)
			return
		}
		rv.SetInt(n)
	case reflect.Float32, reflect.Float64:
		switch n := v.(type) {
		case float64:
			rv.SetFloat(n)
		case int64:
			rv.SetFloat(float64(n))
		default:
			mismatch()
		}
	case reflect.Slice:
		items, ok := listOf(v)
		if !ok {
			mismatch()
			return
		}
		out := reflect.MakeSlice(rv.Type(), len(items), len(items))
		elem := rv.Type().Elem()
		for i, item := range items {
			ik := key + "[" + strconv.Itoa(i+1) + "]"
			if elem.Kind() != reflect.Struct && !isScalarOK(item, elem) {
				// A list of plain values is reported as a whole, on its key.
				d.bad(key, "must be %s; item %d is %s", want, i+1, describeValue(item))
				continue
			}
			d.decode(ik, item, out.Index(i))
		}
		rv.Set(out)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			mismatch()
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMap(rv.Type()))
		}
		for _, k := range sortedKeys(m) {
			ev := reflect.New(rv.Type().Elem()).Elem()
			if old := rv.MapIndex(reflect.ValueOf(k)); old.IsValid() {
				ev.Set(old)
			}
			d.decode(joinKey(key, k), m[k], ev)
			rv.SetMapIndex(reflect.ValueOf(k), ev)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			mismatch()
			return
		}
		d.decodeStruct(key, m, rv)
	default:
		d.bad(key, "cannot be set from a config file")
	}
}

func (d *decoder) decodeStruct(key string, m map[string]any, rv reflect.Value) {
	fields := map[string][]int{} // index paths: an embedded struct's keys sit beside the outer ones
	var names []string
	var collect func(t reflect.Type, path []int)
	collect = func(t reflect.Type, path []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int{}, path...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("toml") == "" {
				collect(f.Type, idx)
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = idx
			names = append(names, tag)
		}
	}
	collect(rv.Type(), nil)
	for _, k := range sortedKeys(m) {
		i, ok := fields[k]
		if !ok {
			msg := "unknown key"
			if s := suggest(k, names); s != "" {
				msg += "; did you mean `" + s + "`?"
			}
			d.bad(joinKey(key, k), "%s", msg)
			continue
		}
		d.decode(joinKey(key, k), m[k], rv.FieldByIndex(i), rv.Type().FieldByIndex(i).Tag.Get("desc"))
	}
}

// isScalarOK reports whether item can go in a list of elem without a type
// error (so the list's own message can say what is wrong instead).
func isScalarOK(item any, elem reflect.Type) bool {
	if reflect.PointerTo(elem).Implements(unmarshalerType) || reflect.PointerTo(elem).Implements(textUnmarshalerType) {
		return true
	}
	switch elem.Kind() {
	case reflect.String:
		_, ok := item.(string)
		return ok
	case reflect.Bool:
		_, ok := item.(bool)
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, ok := item.(int64)
		return ok
	}
	return true
}

func listOf(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []map[string]any:
		out := make([]any, len(v))
		for i, m := range v {
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describeType says in words what a Go type holds, for "must be ..."
// messages.
func describeType(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return `a duration in quotes, such as "30s"`
	case reflect.TypeFor[ByteSize]():
		return `a size such as 65536 or "64KiB"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "a list of tables"
		}
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "a table"
	}
	return "a value"
}

// describeValue says in words what a TOML value is, with the value when
// it is short.
func describeValue(v any) string {
	switch v := v.(type) {
	case string:
		if utf8.RuneCountInString(v) > 40 {
			return "a string"
		}
		return "a string (" + strconv.Quote(v) + ")"
	case int64:
		return "a number (" + strconv.FormatInt(v, 10) + ")"
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return "a number (" + fmt.Sprint(v) + ")"
		}
		return "a decimal number (" + strconv.FormatFloat(v, 'g', -1, 64) + ")"
	case bool:
		return "a boolean (" + strconv.FormatBool(v) + ")"
	case []any:
		return "a list"
	case []map[string]any:
		return "a list of tables"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("%T", v)
}

// suggest returns the candidate closest to word, if it is close enough to
// be a likely typo, or "".
func suggest(word string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := 1
	if utf8.RuneCountInString(word) > 4 {
		limit = 2
	}
	if bestD == 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// joinKey appends a table key to a key path, quoting it unless bare.
func joinKey(key, k string) string {
	if !bareKeyRE(k) {
		k = strconv.Quote(k)
	}
	if key == "" {
		return k
	}
	return key + "." + k
}

func bareKeyRE(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// lineFor is the line of key, or of its nearest enclosing key that has
// one (a missing key is reported at its table), or 0.
func lineFor(lines map[string]int, key string) int {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l
		}
		i := max(strings.LastIndexAny(key, ".["), 0)
		key = key[:i]
	}
	return 0
}

// keyLines finds the line of every key, table header and array-of-tables
// entry in src, named as the decoder names them ("pipeline[2].plugins",
// "plugins.redact.config"). BurntSushi/toml keeps key positions to
// itself, and they do not tell entries of an array of tables apart, so
// this reads the text: headers, "key =" lines, and enough of strings,
// arrays and inline tables to skip values that span lines. The file has
// already parsed, so it is well-formed.
func keyLines(src []byte) map[string]int {
	lines := map[string]int{}
	counts := map[string]int{} // array-of-tables path -> entries so far
	table := ""
	var s lineScanner
	for n, line := range strings.Split(string(src), "\n") {
		if s.busy() {
			s.scan(line)
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == '#':
		case strings.HasPrefix(t, "[["):
			segs, _ := keySegments(t[2:], "]")
			path := resolveSegs(segs, counts)
			counts[path]++
			table = path + "[" + strconv.Itoa(counts[path]) + "]"
			lines[table] = n + 1
		case t[0] == '[':
			segs, _ := keySegments(t[1:], "]")
			table = resolveSegs(segs, counts)
			lines[table] = n + 1
		default:
			segs, rest := keySegments(t, "=")
			key := table
			for _, seg := range segs {
				key = joinKey(key, seg)
				if _, ok := lines[key]; !ok {
					lines[key] = n + 1
				}
			}
			s.scan(rest)
		}
	}
	return lines
}

// resolveSegs joins header segments into a key path, indexing each prefix
// that is an array of tables by its latest entry.
func resolveSegs(segs []string, counts map[string]int) string {
	path := ""
	for i, seg := range segs {
		path = joinKey(path, seg)
		if c, ok := counts[path]; ok && i < len(segs)-1 {
			path += "[" + strconv.Itoa(c) + "]"
		}
	}
	return path
}

// keySegments reads a dotted key (bare, "quoted" or 'literal' parts) up
// to stop, returning its parts and the text after stop.
func keySegments(s, stop string) ([]string, string) {
	var segs []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return segs, ""
		}
		var seg string
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if uq, err := strconv.Unquote(s[:min(end+1, len(s))]); err == nil {
				seg = uq
			} else {
				seg = s[1:min(end, len(s))]
			}
			s = s[min(end+1, len(s)):]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return append(segs, s[1:]), ""
			}
			seg, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexAny(s, ".="+stop+" \t")
			if end < 0 {
				end = len(s)
			}
			seg, s = s[:end], s[end:]
		}
		segs = append(segs, seg)
		s = strings.TrimLeft(s, " \t")
		switch {
		case strings.HasPrefix(s, "."):
			s = s[1:]
		case strings.HasPrefix(s, stop):
			return segs, s[len(stop):]
		default:
			return segs, s
		}
	}
}

// lineScanner follows a value across lines: open brackets and braces,
// and multi-line strings.
type lineScanner struct {
	depth int
	multi string // `"""` or `'''` while inside one
}

func (s *lineScanner) busy() bool { return s.depth > 0 || s.multi != "" }

func (s *lineScanner) scan(line string) {
	for i := 0; i < len(line); i++ {
		if s.multi != "" {
			if strings.HasPrefix(line[i:], s.multi) {
				i += 2
				s.multi = ""
			} else if line[i] == '\\' && s.multi == `"""` {
				i++
			}
			continue
		}
		switch c := line[i]; c {
		case '#':
			return
		case '[', '{':
			s.depth++
		case ']', '}':
			s.depth--
		case '"', '\'':
			q := line[i : i+1]
			if strings.HasPrefix(line[i:], q+q+q) {
				s.multi = q + q + q
				i += 2
				continue
			}
			for i++; i < len(line) && line[i:i+1] != q; i++ {
				if c == '"' && line[i] == '\\' {
					i++
				}
			}
		}
	}
}
