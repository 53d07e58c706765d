package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jsonSeeds are inputs for TestDecodeObjectMatchesEncodingJSON and the seed
// corpus of FuzzDecodeObject.
var jsonSeeds = []string{
	// Valid.
	`{}`,
	` {} `,
	"\t\r\n{\n\t\"a\" :\r 1 ,\"b\":2}\n",
	`{"kinds":["email","ipv4","ipv6","card"]}`,
	`{"a":{"b":{"c":{"d":[1,[2,[3,{}]]]}}}}`,                   // nested tables
	`{"rules":[{"name":"x","n":1},{"name":"y","on":true},{}]}`, // arrays of tables
	`{"empty":[],"nested":[[]],"obj":{},"null":null,"t":true,"f":false}`,
	`{"a":1,"a":2}`,             // a repeated key keeps the last
	`{"a":{"x":1},"a":{"y":2}}`, // ... replacing, not merging
	`{"":""}`,
	`{"é":"ü","日本":"語","emoji":"😀"}`, // unicode
	`{"esc":"\"\\\/\b\f\n\r\t","u":"\u0041\u00e9\u65e5\u0000\u001f"}`,
	`{"html":"\u003c\u003e\u0026"}`,
	`{"pair":"\ud83d\ude00","PAIR":"\uD83D\uDE00"}`, // surrogate pairs
	`{"lone":"\ud800","low":"\udc00x","rev":"\udc00\ud800","twohigh":"\ud800\ud800\udc00"}`,
	`{"hi_then_esc":"\ud800\n","hi_then_bad":"\ud800\u0041","hi_end":"\ud800"}`,
	"{\"bad_utf8\":\"a\xffb\xc3\",\"\xfe\":1,\"surr_utf8\":\"\xed\xa0\x80\",\"del\":\"\x7f\"}",
	`{"n":[0,-0,1,-1,0.5,-0.5,1e3,1E3,1e+3,1e-3,1.5e10,123456789012345678901234567890]}`, // big numbers
	`{"max":1.7976931348623157e308,"tiny":5e-324,"under":1e-400,"long":0.1000000000000000055511151231257827}`,
	`{"i":9007199254740993,"neg":-9223372036854775808}`,
	// Invalid.
	``,
	` `,
	`null`,
	`[]`,
	`[{}]`,
	`"s"`,
	`1`,
	`true`,
	`{`,
	`}`,
	`{"a"}`,
	`{"a":}`,
	`{"a":1,}`,
	`{,}`,
	`{"a":1 "b":2}`,
	`{a:1}`,
	`{'a':1}`,
	`{"a":[1,]}`,
	`{"a":[1 2]}`,
	`{"a":[}`,
	`{} {}`,
	`{}x`,
	`{}]`,
	"\ufeff{}", // byte order mark
	`{"a":01}`,
	`{"a":-}`,
	`{"a":+1}`,
	`{"a":.5}`,
	`{"a":1.}`,
	`{"a":1e}`,
	`{"a":1e+}`,
	`{"a":0x10}`,
	`{"a":NaN}`,
	`{"a":Infinity}`,
	`{"a":1e400}`,
	`{"a":-1e400}`,
	`{"a":tru}`,
	`{"a":nul}`,
	`{"a":True}`,
	`{"a":"\x"}`,
	`{"a":"\u12"}`,
	`{"a":"\u12G4"}`,
	`{"a":"\ud800\u12G4"}`,
	`{"a":"\U0041"}`,
	"{\"a\":\"tab\there\"}",
	"{\"a\":\"nl\nhere\"}",
	`{"a":"unterminated`,
	`{"a":"\`,
	`{"a":"\ud800\`,
	`{"a":"\ud800\u`,
	`{"a":"\ud800\udc0`,
	`{"a" 1}`,
	"{\"a\":1}\x00",
}

// equalToEncodingJSON reports an error unless decodeObject accepts in
// exactly when json.Unmarshal into a map does, with equal results. The one
// intended difference: encoding/json takes a top-level null as a nil map,
// while the SDK requires an object.
func equalToEncodingJSON(in []byte) error {
	var want map[string]any
	werr := json.Unmarshal(in, &want)
	got, gerr := decodeObject(in)
	if werr == nil && want == nil {
		if gerr == nil {
			return fmt.Errorf("%q: accepted a top-level null", in)
		}
		return nil
	}
	if (werr == nil) != (gerr == nil) {
		return fmt.Errorf("%q: got error %v, encoding/json error %v", in, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%q: got %#v, encoding/json %#v", in, got, want)
	}
	return nil
}

func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonSeeds {
		if err := equalToEncodingJSON([]byte(in)); err != nil {
			t.Error(err)
		}
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, in := range jsonSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := equalToEncodingJSON(in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDecodeObjectDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}")
	}
	for _, n := range []int{maxDepth, maxDepth + 1} {
		if err := equalToEncodingJSON(nest(n)); err != nil {
			t.Errorf("depth %d: %v", n, err)
		}
	}
	if _, err := decodeObject(nest(maxDepth + 1)); err == nil || !strings.Contains(err.Error(), "exceeded max depth") {
		t.Errorf("depth %d: got %v, want a depth error", maxDepth+1, err)
	}
}

func TestDecodeObjectErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{``, "unexpected end of JSON input at offset 0"},
		{`[1]`, "invalid character '[' looking for beginning of object at offset 0"},
		{`null`, "invalid character 'n' looking for beginning of object at offset 0"},
		{`{"a":1,}`, "invalid character '}' looking for beginning of object key string at offset 7"},
		{`{"a":1}x`, "invalid character 'x' after top-level value at offset 7"},
		{`{"a" 1}`, "invalid character '1' after object key at offset 5"},
		{`{"a":[1 2]}`, "invalid character '2' after array element at offset 8"},
		{`{"a":01}`, "invalid character '1' after object key:value pair at offset 6"},
		{`{"a":1.}`, "invalid character '}' after decimal point in numeric literal at offset 7"},
		{`{"a":tru}`, "invalid character '}' in literal true (expecting 'e') at offset 8"},
		{`{"a":"\q"}`, "invalid character 'q' in string escape code at offset 7"},
		{"{\"a\":\"\t\"}", "invalid byte 0x9 in string literal at offset 6"},
		{"{\"a\":1}\xff", "invalid byte 0xff after top-level value at offset 7"},
		{`{"a":"x`, "unexpected end of JSON input at offset 7"},
		{`{"n":1e400}`, "number 1e400 at offset 5 does not fit in a float64"},
	} {
		_, err := decodeObject([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: got error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig(nil)
	if err != nil || cfg == nil || len(cfg) != 0 {
		t.Errorf("no settings: got %v, %v; want an empty config", cfg, err)
	}
	_, err = parseConfig([]byte(`[1]`))
	if err == nil || !strings.HasPrefix(err.Error(), "config is not a JSON object: ") {
		t.Errorf("got %v, want a config is not a JSON object error", err)
	}
}

// The messages formatValue and typeName build without fmt read as fmt's.
func TestTypeErrorMatchesFmt(t *testing.T) {
	cfg, err := parseConfig([]byte(`{"s":"x y","n":1.5,"big":1e21,"b":true,"z":null,` +
		`"a":["x",2,false,null,[],{}],"m":{"k":"v","j":[1],"a":{"b":2}},"e":[],"o":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range cfg {
		got := typeError(key, "an integer", v).Error()
		want := fmt.Sprintf("config key %q: want %s, got %v (%T)", key, "an integer", v, v)
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

type stringer struct{}

func (stringer) String() string { return "from String" }

type badError struct{}

func (*badError) Error() string { panic("bad") }

func TestGuardFormatsPanics(t *testing.T) {
	var nilMap map[string]int
	for _, tt := range []struct {
		panicWith func()
		want      string
	}{
		{func() { nilMap["x"] = 1 }, "panic: assignment to entry in nil map"},
		{func() { _ = []int{}[len(nilMap)] }, "panic: runtime error: index out of range [0] with length 0"},
		{func() { panic("text") }, "panic: text"},
		{func() { panic(errors.New("an error")) }, "panic: an error"},
		{func() { panic(stringer{}) }, "panic: from String"},
		{func() { panic(2 * time.Second) }, "panic: 2s"},
		{func() { panic(42) }, "panic: 42"},
		{func() { panic(int64(-7)) }, "panic: -7"},
		{func() { panic(uint8(255)) }, "panic: 255"},
		{func() { panic(1.5) }, "panic: 1.5"},
		{func() { panic(float32(0.1)) }, "panic: 0.1"},
		{func() { panic(true) }, "panic: true"},
		{func() { panic([]any{"a", 1.0}) }, "panic: [a 1]"},
		{func() { panic(struct{}{}) }, "panic: (value of unknown type)"},
		{func() { panic(&badError{}) }, "panic: (value of unknown type whose Error or String method panicked)"},
	} {
		err := guard(func() error { tt.panicWith(); return nil })
		if err == nil || err.Error() != tt.want {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
	if err := guard(func() error { return nil }); err != nil {
		t.Errorf("no panic: got %v", err)
	}
}
