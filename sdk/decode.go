package sdk

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
)

// decodeStrict stores c in the value v points to, as encoding/json's
// Decoder with DisallowUnknownFields would store c's JSON, with the same
// error messages: struct fields match keys by their json tag or, failing
// that, their name in any case; a key no field takes is an error; numbers
// must fit the field; UnmarshalJSON and UnmarshalText methods are used.
// The SDK does this itself because importing encoding/json (and fmt) adds
// their package initialisation to every plugin: 0.4 MB of .wasm.
func decodeStrict(c Config, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		if v == nil {
			return errors.New("config: json: Unmarshal(nil)")
		}
		if rv.Kind() != reflect.Pointer {
			return errors.New("config: json: Unmarshal(non-pointer " + rv.Type().String() + ")")
		}
		return errors.New("config: json: Unmarshal(nil " + rv.Type().String() + ")")
	}
	d := decoder{}
	d.value(map[string]any(c), rv.Elem())
	if d.err != nil {
		return errors.New("config: " + d.err.Error())
	}
	return nil
}

type decoder struct {
	err   error
	path  []string // field names from the top struct, for type errors
	owner string   // the struct type holding the field being decoded
}

type jsonUnmarshaler interface{ UnmarshalJSON([]byte) error }
type textUnmarshaler interface{ UnmarshalText([]byte) error }

// kindOf names a JSON value as encoding/json's type errors do.
func kindOf(x any) string {
	switch x := x.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number " + strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

func (d *decoder) typeError(x any, t reflect.Type) {
	if d.err != nil {
		return
	}
	what := kindOf(x)
	if _, ok := x.(float64); ok && !isNumberKind(t.Kind()) {
		what = "number"
	}
	if len(d.path) == 0 {
		d.err = errors.New("json: cannot unmarshal " + what + " into Go value of type " + t.String())
		return
	}
	d.err = errors.New("json: cannot unmarshal " + what + " into Go struct field " + d.owner + "." +
		strings.Join(d.path, ".") + " of type " + t.String())
}

func isNumberKind(k reflect.Kind) bool {
	return reflect.Int <= k && k <= reflect.Float64
}

// value stores the JSON value x (a Config value) in v.
func (d *decoder) value(x any, v reflect.Value) {
	if d.err != nil {
		return
	}
	if x == nil {
		// null leaves a value as it is, and sets a pointer, map, slice
		// or interface to nil.
		switch v.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return
	}
	// Allocate through pointers, and use the methods of what they reach.
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if d.methods(x, v) {
			return
		}
		v = v.Elem()
	}
	if v.CanAddr() && d.methods(x, v.Addr()) {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.typeError(x, v.Type())
			return
		}
		v.Set(reflect.ValueOf(x))
		return
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			d.typeError(x, v.Type())
			return
		}
		d.object(m, v)
		return
	case reflect.Map:
		m, ok := x.(map[string]any)
		if !ok {
			d.typeError(x, v.Type())
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			d.typeError(x, v.Type())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(v.Type(), len(m)))
		}
		for _, k := range sortedKeys(m) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(m[k], e)
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		return
	case reflect.Slice, reflect.Array:
		a, ok := x.([]any)
		if !ok {
			if s, isStr := x.(string); isStr && v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
				d.bytes(s, v)
				return
			}
			d.typeError(x, v.Type())
			return
		}
		if v.Kind() == reflect.Slice {
			v.Set(reflect.MakeSlice(v.Type(), len(a), len(a)))
		}
		for i := range v.Len() {
			if i < len(a) {
				d.value(a[i], v.Index(i))
			} else {
				v.Index(i).SetZero()
			}
		}
		return
	}
	switch x := x.(type) {
	case string:
		if v.Kind() != reflect.String {
			d.typeError(x, v.Type())
			return
		}
		v.SetString(x)
	case bool:
		if v.Kind() != reflect.Bool {
			d.typeError(x, v.Type())
			return
		}
		v.SetBool(x)
	case float64:
		d.number(x, v)
	default:
		d.typeError(x, v.Type())
	}
}

// methods uses p's UnmarshalJSON or (for a string) UnmarshalText method,
// reporting whether it had one.
func (d *decoder) methods(x any, p reflect.Value) bool {
	if !p.CanInterface() {
		return false
	}
	switch u := p.Interface().(type) {
	case jsonUnmarshaler:
		if err := u.UnmarshalJSON(appendJSON(nil, x)); err != nil && d.err == nil {
			d.err = err
		}
		return true
	case textUnmarshaler:
		s, ok := x.(string)
		if !ok {
			d.typeError(x, p.Type().Elem())
			return true
		}
		if err := u.UnmarshalText([]byte(s)); err != nil && d.err == nil {
			d.err = err
		}
		return true
	}
	return false
}

func (d *decoder) number(f float64, v reflect.Value) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := int64(f)
		if float64(n) != f || v.OverflowInt(n) {
			d.typeError(f, v.Type())
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := uint64(f)
		if f < 0 || float64(n) != f || v.OverflowUint(n) {
			d.typeError(f, v.Type())
			return
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		if v.OverflowFloat(f) {
			d.typeError(f, v.Type())
			return
		}
		v.SetFloat(f)
	default:
		d.typeError(f, v.Type())
	}
}

// bytes decodes base64 into a []byte, as encoding/json does.
func (d *decoder) bytes(s string, v reflect.Value) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	s = strings.TrimRight(s, "=")
	out := make([]byte, 0, len(s)*3/4)
	var acc, bits uint
	for i := 0; i < len(s); i++ {
		k := strings.IndexByte(alphabet, s[i])
		if k < 0 {
			if d.err == nil {
				d.err = errors.New("illegal base64 data at input byte " + strconv.Itoa(i))
			}
			return
		}
		acc, bits = acc<<6|uint(k), bits+6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	v.SetBytes(out)
}

// field is a struct field a key can set: its json name and where it is.
type field struct {
	name   string
	tagged bool
	index  []int
}

// fields lists t's fields as encoding/json sees them: exported, not
// tagged "-", with embedded structs' fields promoted (the shallower first).
func fields(t reflect.Type, index []int, out []field) []field {
	type embedded struct {
		t     reflect.Type
		index []int
	}
	var later []embedded
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		at := append(append([]int(nil), index...), i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				later = append(later, embedded{ft, at})
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			out = append(out, field{f.Name, false, at})
		} else {
			out = append(out, field{name, true, at})
		}
	}
	for _, e := range later {
		out = fields(e.t, e.index, out)
	}
	return out
}

func (d *decoder) object(m map[string]any, v reflect.Value) {
	fs := fields(v.Type(), nil, nil)
	for _, k := range sortedKeys(m) {
		var f *field
		for i := range fs {
			if fs[i].name == k {
				f = &fs[i]
				break
			}
		}
		if f == nil {
			for i := range fs {
				if strings.EqualFold(fs[i].name, k) {
					f = &fs[i]
					break
				}
			}
		}
		if f == nil {
			if d.err == nil {
				d.err = errors.New("json: unknown field " + strconv.Quote(k))
			}
			return
		}
		fv, ok := fieldByIndex(v, f.index)
		if !ok {
			if d.err == nil {
				d.err = errors.New("json: cannot set embedded pointer to unexported struct: " + v.Type().String())
			}
			return
		}
		// Type errors name the struct being decoded and the path of json
		// names to the field, as encoding/json's do.
		owner, path := d.owner, d.path
		d.owner = v.Type().Name()
		d.path = append(d.path[:len(d.path):len(d.path)], f.name)
		d.value(m[k], fv)
		d.owner, d.path = owner, path
		if d.err != nil {
			return
		}
	}
}

// fieldByIndex is v.FieldByIndex, allocating embedded pointers on the way.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for k, i := range index {
		if k > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return v, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}

// sortedKeys returns m's keys in order (so that the first error is always
// the same one, and values print as fmt prints maps). An insertion sort: a
// config table is small, and slices.Sort would add 20 KB to every plugin.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		i := len(keys)
		keys = append(keys, k)
		for ; i > 0 && keys[i-1] > k; i-- {
			keys[i] = keys[i-1]
		}
		keys[i] = k
	}
	return keys
}

// appendJSON appends x, a Config value, as JSON (for UnmarshalJSON).
func appendJSON(b []byte, x any) []byte {
	switch x := x.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case string:
		return appendJSONString(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}
