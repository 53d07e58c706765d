package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

type point struct {
	X, Y int
	Name string
}

type level int

type textLevel struct{ v string }

func (t *textLevel) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		return errors.New("bad level")
	}
	t.v = strings.ToUpper(string(b))
	return nil
}

type jsonList []string

func (l *jsonList) UnmarshalJSON(b []byte) error {
	*l = append(*l, string(b))
	return nil
}

// sprintf and Failf print what fmt.Sprintf and fmt.Errorf print.
func TestSprintfMatchesFmt(t *testing.T) {
	err := errors.New("boom")
	var nilErr error
	var nilPtr *point
	for _, tc := range []struct {
		format string
		args   []any
	}{
		{"plain", nil},
		{"%v %s %d", []any{"a", "b", 3}},
		{"%q %x %X % x %#x", []any{"hi\n", "hi", "hi", "abc", "hi"}},
		{"%5d|%-5d|%05d|%+d|% d|%x|%X|%#x|%o|%#o|%b", []any{42, 42, -42, 42, 42, 255, 255, 255, 8, 8, 5}},
		{"%.3d|%8.3d", []any{7, -7}},
		{"%c %q %U", []any{'é', 'x', 0x1F600}},
		{"%t %v", []any{true, false}},
		{"%f %.2f %e %E %g %G %8.3f %-8.2f| %+.1f %v %v", []any{1.5, math.Pi, 123456.789, 0.000123, 1e21, 1e-7, 2.0, 3.14159, 2.5, float32(0.1), 100.0}},
		{"%v %v %v", []any{math.Inf(1), math.Inf(-1), math.NaN()}},
		{"%s|%10s|%-10s|%.2s|%q|%#q|%+q", []any{"abc", "abc", "abc", "héllo", `a"b`, "back`", "é"}},
		{"%v %s", []any{err, err}},
		{"%v %d", []any{time.Second, time.Second}},
		{"%v %+v", []any{point{1, 2, "p"}, point{1, 2, "p"}}},
		{"%v %v", []any{&point{1, 2, "p"}, []int{1, 2, 3}}},
		{"%v %v %v", []any{map[string]int{"b": 2, "a": 1}, map[int]bool{3: true, 1: false}, []string{"x", "y"}}},
		{"%v %s %x", []any{[]byte("hi"), []byte("hi"), []byte("hi")}},
		{"%v %d %T %T %T", []any{level(3), level(3), level(3), point{}, nil}},
		{"%v %v", []any{nil, nilErr}},
		{"%v", []any{nilPtr}},
		{"%v", []any{[]any{"a", 1.0, nil, map[string]any{"k": []any{true}}}}},
		{"%d %s", []any{"str", 5}},
		{"%d %d", []any{1}},
		{"%d", []any{1, "extra", 2}},
		{"%!", nil},
		{"%z", []any{1}},
		{"%", nil},
		{"100%%", nil},
		{"%*d|%-*d|%.*f", []any{5, 1, 4, 2, 2, math.E}},
		{"%6.2f%%", []any{12.3456}},
		{"%v", []any{fs.ErrNotExist}},
		{"%s", []any{stringer{}}},
		{"%x", []any{-255}},
		{"%08.3f|%+08d|%-08d|", []any{-3.14159, 42, 42}},
		{"%3c|%-4q|", []any{'x', 'y'}},
		{"%v %v", []any{int8(-8), uint64(math.MaxUint64)}},
		{"%5t|%-6v|", []any{true, false}},
		{"%s", []any{&badError{}}},
	} {
		want := fmt.Sprintf(tc.format, tc.args...)
		if got := sprintf(tc.format, tc.args); got != want {
			t.Errorf("sprintf(%q, %v)\n got %q\nwant %q", tc.format, tc.args, got, want)
		}
	}
}

func TestFailfWraps(t *testing.T) {
	base := errors.New("base")
	other := fs.ErrPermission
	for _, tc := range []struct {
		format string
		args   []any
		is     []error
	}{
		{"no wrap %v", []any{base}, nil},
		{"wrapped: %w", []any{base}, []error{base}},
		{"two: %w and %w", []any{base, other}, []error{base, other}},
		{"not an error: %w", []any{"text"}, nil},
	} {
		want := fmt.Errorf(tc.format, tc.args...)
		got := Failf(tc.format, tc.args...)
		if got.Error() != want.Error() {
			t.Errorf("Failf(%q): %q, want %q", tc.format, got, want)
		}
		for _, e := range []error{base, other} {
			if errors.Is(got, e) != errors.Is(want, e) {
				t.Errorf("Failf(%q): errors.Is(%v) = %v, fmt.Errorf's %v", tc.format, e, errors.Is(got, e), errors.Is(want, e))
			}
		}
		if (errors.Unwrap(got) != nil) != (errors.Unwrap(want) != nil) {
			t.Errorf("Failf(%q): Unwrap %v, fmt.Errorf's %v", tc.format, errors.Unwrap(got), errors.Unwrap(want))
		}
	}
}

// decodeReference is what Decode did with encoding/json.
func decodeReference(c Config, v any) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

type Inner struct {
	Depth int `json:"depth"`
}

type settings struct {
	Inner
	Mask     string            `json:"mask"`
	Kinds    []string          `json:"kinds"`
	Max      int8              `json:"max"`
	Count    uint              `json:"count"`
	Ratio    float32           `json:"ratio"`
	On       bool              `json:"on"`
	Opt      *string           `json:"opt,omitempty"`
	Nested   *Inner            `json:"nested"`
	Table    map[string]int    `json:"table"`
	Any      any               `json:"any"`
	Pair     [2]int            `json:"pair"`
	Level    level             `json:"level"`
	Text     textLevel         `json:"text"`
	List     jsonList          `json:"list"`
	Data     []byte            `json:"data"`
	Skip     string            `json:"-"`
	NoTag    string            // matched by name, in any case
	Rest     map[string]any    `json:"rest"`
	Strs     map[string]string `json:"strs"`
	internal int
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`{}`,
		`{"mask":"x","kinds":["email","ipv4"],"max":12,"count":3,"ratio":0.5,"on":true}`,
		`{"opt":"o","nested":{"depth":2},"depth":5,"table":{"a":1,"b":2},"any":[1,"x",{"k":null}]}`,
		`{"pair":[1],"level":4,"text":"info","list":["a",{"b":1}],"data":"aGVsbG8="}`,
		`{"notag":"n","NOTAG":"m","Mask":"case"}`,
		`{"rest":{"x":[1,2]},"strs":{"k":"v"}}`,
		`{"unknown":1}`,
		`{"Skip":"s"}`,
		`{"internal":1}`,
		`{"max":300}`,
		`{"max":1.5}`,
		`{"count":-1}`,
		`{"mask":1}`,
		`{"kinds":"email"}`,
		`{"kinds":[1]}`,
		`{"on":"yes"}`,
		`{"nested":{"depth":"deep"}}`,
		`{"nested":{"other":1}}`,
		`{"table":{"a":"x"}}`,
		`{"text":"bad"}`,
		`{"text":1}`,
		`{"pair":[1,2,3]}`,
		`{"opt":null,"nested":null}`,
		`{"ratio":1e300}`,
	} {
		c, err := parseConfig([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var got, want settings
		gotErr, wantErr := c.Decode(&got), decodeReference(c, &want)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%s: error %v, want %v", raw, gotErr, wantErr)
			continue
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", raw, got, want)
		}
	}
	var notPtr settings
	for _, v := range []any{nil, notPtr, (*settings)(nil)} {
		gotErr, wantErr := (Config{}).Decode(v), decodeReference(Config{}, v)
		if gotErr == nil || gotErr.Error() != wantErr.Error() {
			t.Errorf("Decode(%T): %v, want %v", v, gotErr, wantErr)
		}
	}
}

// docs/ABI.md: %#v prints as %v, not as Go syntax.
func TestSprintfSharpVIsV(t *testing.T) {
	for _, arg := range []any{point{1, 2, "p"}, "s", []int{1, 2}, map[string]int{"a": 1}} {
		if got, want := sprintf("%#v", []any{arg}), sprintf("%v", []any{arg}); got != want {
			t.Errorf("%%#v of %T = %q, want %%v's %q", arg, got, want)
		}
	}
}
