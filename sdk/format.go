package sdk

// Value formatting for error messages without fmt, which would add about
// 0.3 MB to every plugin: these cover what the SDK formats (config values
// and panic values) and match fmt's %v for them.

import "strconv"

// formatValue formats v as fmt's %v does for errors, String methods,
// strings, booleans, numbers and the values of a Config (nested []any and
// map[string]any). Other values show only as "(TYPE)" when typeName knows
// TYPE, else as "(value of unknown type)".
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int8:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint8:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case uintptr:
		return strconv.FormatUint(uint64(v), 10)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []any:
		s := "["
		for i, e := range v {
			if i > 0 {
				s += " "
			}
			s += formatValue(e)
		}
		return s + "]"
	case map[string]any:
		keys := sortedKeys(v) // as fmt prints them
		s := "map["
		for i, k := range keys {
			if i > 0 {
				s += " "
			}
			s += k + ":" + formatValue(v[k])
		}
		return s + "]"
	}
	return "(" + typeName(v) + ")"
}

// typeName is fmt's %T for the types a Config holds.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "<nil>"
	case string:
		return "string"
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float64"
	case []any:
		return "[]interface {}"
	case map[string]any:
		return "map[string]interface {}"
	}
	return "value of unknown type"
}
