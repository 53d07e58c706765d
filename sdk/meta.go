package sdk

import "unicode/utf8"

// Meta is what a plugin says about itself: the host shows it in
// host --check, host plugin inspect, the dashboard and /api/plugins
// (docs/ABI.md, "Metadata"). Every field is optional.
type Meta struct {
	Name        string
	Version     string
	Description string
	Settings    []Setting
}

// Setting describes one key of the plugin's [plugins.NAME.config] table.
// Type and Default are free text for people, by convention in TOML's
// words ("string", "bool", "integer", "array of strings") and syntax
// ("false", `"\t "`); Default is "" when there is none.
type Setting struct {
	Name        string
	Type        string
	Default     string
	Description string
}

// Describe registers the plugin's metadata; call it from init. The host
// reads it once when it loads the plugin, before any settings are known,
// so it must not depend on them.
func Describe(info Meta) {
	p.meta = append(info.json(nil), 0) // the ABI's document ends with NUL
}

// json encodes info as the metadata document, leaving out empty fields.
func (info Meta) json(b []byte) []byte {
	b = append(b, '{')
	sep := false
	field := func(key, val string) {
		if val == "" {
			return
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = appendJSONString(append(appendJSONString(b, key), ':'), val)
	}
	field("name", info.Name)
	field("version", info.Version)
	field("description", info.Description)
	if len(info.Settings) > 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"settings":[`...)
		for i, s := range info.Settings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `{"name":`...), s.Name)
			sep = true
			field("type", s.Type)
			field("default", s.Default)
			field("description", s.Description)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// metaDoc returns the registered document without its NUL, for tests.
func metaDoc() string {
	if len(p.meta) == 0 {
		return ""
	}
	return string(p.meta[:len(p.meta)-1])
}
