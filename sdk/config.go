package sdk

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Config holds a plugin's settings: the [plugins.NAME.config] table of the
// host's config file, as decoded from JSON (numbers are float64, tables are
// map[string]any, arrays are []any).
type Config map[string]any

// parseConfig uses the small decoder in json.go rather than encoding/json,
// which a plugin then links only if it calls Decode.
func parseConfig(raw []byte) (Config, error) {
	if len(raw) == 0 {
		return Config{}, nil
	}
	m, err := decodeObject(raw)
	if err != nil {
		return nil, errors.New("config is not a JSON object: " + err.Error())
	}
	return m, nil
}

// Has reports whether key is set.
func (c Config) Has(key string) bool {
	_, ok := c[key]
	return ok
}

// String returns the string at key, def when unset, or an error naming the
// key when it holds another type.
func (c Config) String(key, def string) (string, error) {
	v, ok := c[key]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", typeError(key, "a string", v)
	}
	return s, nil
}

// Int returns the integer at key, def when unset, or an error.
func (c Config) Int(key string, def int) (int, error) {
	v, ok := c[key]
	if !ok {
		return def, nil
	}
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) {
		return 0, typeError(key, "an integer", v)
	}
	return int(f), nil
}

// Bool returns the boolean at key, def when unset, or an error.
func (c Config) Bool(key string, def bool) (bool, error) {
	v, ok := c[key]
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, typeError(key, "true or false", v)
	}
	return b, nil
}

// Strings returns the array of strings at key (a single string counts as a
// one-element array), def when unset, or an error.
func (c Config) Strings(key string, def []string) ([]string, error) {
	v, ok := c[key]
	if !ok {
		return def, nil
	}
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, typeError(key, "an array of strings", v)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, typeError(key, "an array of strings", v)
}

// Only returns an error naming the first key, in sorted order, that is not
// one of keys, so that a misspelt setting fails the plugin's load instead
// of being ignored. Call it first when reading settings with the getters.
func (c Config) Only(keys ...string) error {
	first, found := "", false
	for k := range c {
		if !slices.Contains(keys, k) && (!found || k < first) {
			first, found = k, true
		}
	}
	if !found {
		return nil
	}
	known := "none"
	if len(keys) > 0 {
		known = strings.Join(keys, ", ")
	}
	return errors.New("unknown config key " + strconv.Quote(first) + " (settings of this plugin: " + known + ")")
}

// Decode decodes the whole config into v, a pointer to a struct with json
// tags, as encoding/json would with unknown fields disallowed; unknown
// keys are an error. The SDK does it without encoding/json (decode.go).
func (c Config) Decode(v any) error {
	return decodeStrict(c, v)
}

// typeError says what the key holds in the words fmt's "%v (%T)" would use.
func typeError(key, want string, got any) error {
	return errors.New("config key " + strconv.Quote(key) + ": want " + want +
		", got " + formatValue(got) + " (" + typeName(got) + ")")
}
