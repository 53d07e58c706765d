//go:build !wasip1

package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/filehost/host/sdk"
	"github.com/filehost/host/sdk/sdktest"
)

func TestCSV2JSONL(t *testing.T) {
	sdktest.Cases(t, "in.csv", []sdktest.Case{
		{"empty", "", "", ""},
		{"header only", "", "a,b\n", ""},
		{"header only no newline", "", "a,b", ""},
		{"simple", "", "name,age\nAnn,41\nBob,7\n", `{"name":"Ann","age":"41"}` + "\n" + `{"name":"Bob","age":"7"}` + "\n"},
		{"header order kept", "", "z,a,m\n1,2,3\n", `{"z":"1","a":"2","m":"3"}` + "\n"},
		{"no trailing newline", "", "a\n1\n2", "{\"a\":\"1\"}\n{\"a\":\"2\"}"},
		{"crlf", "", "a,b\r\n1,2\r\n", "{\"a\":\"1\",\"b\":\"2\"}\r\n"},
		{"crlf no trailing newline", "", "a\r\n1\r\n2", "{\"a\":\"1\"}\r\n{\"a\":\"2\"}"},
		{"stray cr at end of file", "", "a\r\n1\r", "{\"a\":\"1\"}"},
		{"quoted", "", "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n", `{"a":"x, y","b":"say \"hi\""}` + "\n"},
		{"empty fields", "", "a,b,c\n,,\n", `{"a":"","b":"","c":""}` + "\n"},
		{"empty lines skipped", "", "\na\n\n1\n\n", "{\"a\":\"1\"}\n"},
		{"cr-only lines skipped", "", "\r\r\na\n\r\r\n1\n\r", "{\"a\":\"1\"}\n"},
		{"cr before crlf dropped", "", "a\r\r\n\"x\"\r\r\n", "{\"a\":\"x\"}\r\n"},
		{"multi-line field", "", "id,text\n1,\"line one\nline two\"\n2,x\n",
			`{"id":"1","text":"line one\nline two"}` + "\n" + `{"id":"2","text":"x"}` + "\n"},
		{"multi-line crlf", "", "id,text\r\n1,\"a\r\n\r\nb\"\r\n", `{"id":"1","text":"a\n\nb"}` + "\r\n"},
		{"quote at line end inside field", "", "a\n\"x\"\"\ny\"\n", `{"a":"x\"\ny"}` + "\n"},
		{"multi-line header", "", "\"first\nname\",b\n1,2\n", `{"first\nname":"1","b":"2"}` + "\n"},
		{"bom", "", "\uFEFFa,b\n1,2\n", `{"a":"1","b":"2"}` + "\n"},
		{"json escaping", "", "k\n<a&b>\t\\ \u2028\n", `{"k":"<a&b>\t\\ \u2028"}` + "\n"},
		{"unicode", "", "städt\nZürich ☃\n", `{"städt":"Zürich ☃"}` + "\n"},
		{"invalid utf-8", "", "k\na\xffb\n", `{"k":"a\ufffdb"}` + "\n"},
		{"semicolon", `{"delimiter": ";"}`, "a;b\n1,5;2\n", `{"a":"1,5","b":"2"}` + "\n"},
		{"tab", `{"delimiter": "\t"}`, "a\tb\tc\n1\t\t3\n", `{"a":"1","b":"","c":"3"}` + "\n"},
		{"tab trim keeps empty fields", `{"delimiter": "\t", "trim_space": true}`, "a \t b\tc\n 1 \t\t3\n", `{"a":"1","b":"","c":"3"}` + "\n"},
		{"multibyte delimiter", `{"delimiter": "¦"}`, "a¦b\n1¦2\n", `{"a":"1","b":"2"}` + "\n"},
		{"no trim by default", "", "a, b\n1, 2 \n", `{"a":"1"," b":" 2 "}` + "\n"},
		{"trim space", `{"trim_space": true}`, " a , b \n 1 , \" 2 \"\n", `{"a":"1","b":"2"}` + "\n"},
		{"trim space before quote", `{"trim_space": true}`, "a,b\n1,  \"x,\ny\"\n", `{"a":"1","b":"x,\ny"}` + "\n"},
	})
}

func TestCSV2JSONLErrors(t *testing.T) {
	tests := []struct{ name, config, in, want string }{
		{"too few fields", "", "a,b\n1,2\n3\n", "line 3: record has 1 fields, header has 2"},
		{"too many fields", "", "a,b\n\n1,2,3\n", "line 3: record has 3 fields, header has 2"},
		{"after multi-line record", "", "a,b\n1,\"x\ny\"\n2\n", "line 4: record has 1 fields, header has 2"},
		{"multi-line record counted from its start", "", "a,b\n1,\"x\ny\",3\n", "line 2: record has 3 fields, header has 2"},
		{"whitespace-only line", "", "a,b\n1,2\n  \n", "line 3: record has 1 fields, header has 2"},
		{"unclosed quote", "", "a,b\n1,2\n3,\"oops\n4,5\n", "line 3: quoted field not closed at end of file"},
		{"bare quote", "", "a,b\n1,x\"y\n", `line 2, column 4: bare " in non-quoted-field`},
		{"bare quote after multi-line field", "", "a,b\n\"1\n\",x\"y\n", `line 3, column 4: bare " in non-quoted-field`},
		{"column in bytes", "", "a,b\nä,\"x\"y\n", `line 2, column 6: extraneous or missing " in quoted-field`},
		{"text after quote", "", "a,b\n1,\"x\"y\n", `line 2, column 5: extraneous or missing " in quoted-field`},
		{"space after quote even with trim", `{"trim_space": true}`, "a,b\n1,\"x\" ,2\n", `line 2, column 5: extraneous or missing "`},
		{"space before quote without trim", "", "a,b\n1, \"x\"\n", `line 2, column 4: bare "`},
		{"empty header name", "", "a,,c\n1,2,3\n", "line 1: header column 2 has no name"},
		{"empty header after trim", `{"trim_space": true}`, "a, ,c\n", "line 1: header column 2 has no name"},
		{"duplicate header", "", "id,name,id\n", `line 1: header name "id" is used by columns 1 and 3`},
		{"duplicate header after trim", `{"trim_space": true}`, "id, id\n", `header name "id" is used by columns 1 and 2`},
		{"header after blank lines", "", "\n\na,a\n", "line 3: header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdk.Run(strings.NewReader(tt.in), new(strings.Builder), "in.csv", tt.config)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCSV2JSONLStatePerFile(t *testing.T) {
	// A failed file must not leave a header or half a record behind.
	_ = sdk.Run(strings.NewReader("a,b\n1,\"open\n"), new(strings.Builder), "bad.csv", "")
	var out strings.Builder
	if err := sdk.Run(strings.NewReader("x\n1\n"), &out, "good.csv", ""); err != nil {
		t.Fatal(err)
	}
	if want := "{\"x\":\"1\"}\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestCSV2JSONLRunawayQuote(t *testing.T) {
	in := "a\n\"" + strings.Repeat("xxxxxxx\n", 2<<20)
	err := sdk.Run(strings.NewReader(in), new(strings.Builder), "in.csv", "")
	if err == nil || !strings.Contains(err.Error(), "line 2: record longer than") {
		t.Errorf("got error %v, want one about a long record at line 2", err)
	}
}

func TestCSV2JSONLBadConfig(t *testing.T) {
	tests := []struct{ config, key string }{
		{`{"delimiter": ""}`, `"delimiter"`},
		{`{"delimiter": ";;"}`, `"delimiter"`},
		{`{"delimiter": "\""}`, `"delimiter"`},
		{`{"delimiter": "\n"}`, `"delimiter"`},
		{`{"delimiter": 44}`, "delimiter"},
		{`{"trim_space": "yes"}`, "trim_space"},
		{`{"separator": ";"}`, `"separator"`},
	}
	for _, tt := range tests {
		err := sdk.Run(strings.NewReader("a\n"), new(strings.Builder), "in.csv", tt.config)
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("config %s: got error %v, want one naming %s", tt.config, err, tt.key)
		}
	}
}

func TestCSV2JSONLConfigErrorText(t *testing.T) {
	tests := []struct{ config, want string }{
		{`{"delimiter": 44}`, `config key "delimiter": want a string`},
		{`{"trim_space": "yes"}`, `config key "trim_space": want true or false`},
		{`{"separator": ";"}`, `unknown config key "separator" (settings of this plugin: delimiter, trim_space)`},
		{`{"delimiter": ";;"}`, `config key "delimiter": want one character other than a quote or line break, got ";;"`},
	}
	for _, tt := range tests {
		err := sdk.Run(strings.NewReader("a\n"), new(strings.Builder), "in.csv", tt.config)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %s: got error %v, want one containing %s", tt.config, err, tt.want)
		}
	}
}

// refParse reads the first record of rec with encoding/csv, configured as
// the plugin's parser, and words a parse error as the plugin does.
func refParse(rec []byte, comma rune, lead, trim bool) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(rec))
	r.Comma, r.TrimLeadingSpace, r.FieldsPerRecord = comma, lead, -1
	fields, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return nil, fmt.Errorf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	} else if err != nil {
		return nil, err
	}
	if trim {
		for i, f := range fields {
			fields[i] = strings.TrimSpace(f)
		}
	}
	return fields, nil
}

var testDelims = []rune{',', ';', '\t', ' ', '|', '¦', '→'}

// checkParse compares the plugin's parser with encoding/csv on text + "\n",
// as the plugin calls it: with text lines each followed by "\n", the first
// not empty once a "\r" at its end is dropped unless it is the only one.
func checkParse(t *testing.T, text string, comma rune, lead, trim bool) {
	if first, _, more := strings.Cut(text, "\n"); more && strings.TrimSuffix(first, "\r") == "" {
		return
	}
	rec := []byte(text + "\n")
	c := &converter{comma: comma, lead: lead, trim: trim, start: 1}
	got, gotErr := c.parse(bytes.Clone(rec))
	want, wantErr := refParse(rec, comma, lead, trim)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("parse %q (comma %q, lead %v, trim %v) = %q, %v; encoding/csv gives %q, %v",
			rec, comma, lead, trim, got, gotErr, want, wantErr)
	}
}

func TestParseMatchesEncodingCSV(t *testing.T) {
	texts := []string{
		"", "\r", "a", "a,b", "a,b,", ",", ",,", "a\r", "a\r\r", "a\rb,c",
		`"a"`, `"a",b`, `a,"b"`, `"a""b",c`, `""`, `"",""`, `"""",x`,
		`"a"b`, `"a" ,b`, `a"b`, `a,b"`, ` "a"`, `  "a" , "b"`, "\t\"a\"\t,b",
		"\"a\nb\"", "\"a\n\nb\",c", "\"a\r\nb\"\r", "\"a\nb\"x", "\"a\nb\"\"\nc\"", "x,\"a\n", "\"",
		"\"a\nb\nc\",d\"e", "a,b\nc,d", "\"a\"\nb", "é,\"ü\"x", "a\xff,\"\xfe\"", "\xff\"",
		"a;b", "a\tb", "a b", "a¦b", "a→b", "\"a→\"→b", "\"a\"\xe2\x86", " a , b ", "   ", " \t ",
	}
	for _, text := range texts {
		for _, comma := range testDelims {
			for _, lead := range []bool{false, true} {
				for _, trim := range []bool{false, true} {
					checkParse(t, text, comma, lead, trim)
				}
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a,\"b\nc\"\"\",d", uint8(0), false, false)
	f.Add(" \"a\" ,b", uint8(1), true, true)
	f.Add("\"x\"\r\ny", uint8(5), true, false)
	f.Fuzz(func(t *testing.T, text string, delim uint8, lead, trim bool) {
		checkParse(t, text, testDelims[int(delim)%len(testDelims)], lead, trim)
	})
}

// jsonString is s as encoding/json writes it, with HTML escaping off.
func jsonString(t testing.TB, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func checkAppendString(t testing.TB, s string) {
	got := appendString([]byte("x"), s)
	if !bytes.HasPrefix(got, []byte("x")) {
		t.Fatalf("appendString(%q) dropped dst", s)
	}
	got = got[1:]
	if want := jsonString(t, s); !bytes.Equal(got, want) {
		t.Errorf("appendString(%q) = %s, encoding/json gives %s", s, got, want)
	}
	if !utf8.Valid(got) {
		t.Errorf("appendString(%q) = %q, not valid UTF-8", s, got)
	}
	var back string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Errorf("appendString(%q) = %s: %v", s, got, err)
	} else if want := strings.ToValidUTF8(s, "\uFFFD"); utf8.ValidString(s) && back != want {
		t.Errorf("appendString(%q) decodes to %q", s, back)
	}
}

func TestAppendString(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	for _, s := range []string{"", "plain", `q"uo\te`, "<a&b>", "\x00\x1f\x7f\b\f\n\r\t", "\u2028\u2029", "é☃😀\uFFFD",
		"bad\xff\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", string(all)} {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("q\"\\\x00\b\f\u2028\xff\xe2\x80é")
	f.Fuzz(func(t *testing.T, s string) { checkAppendString(t, s) })
}
