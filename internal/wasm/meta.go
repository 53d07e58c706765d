package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/samyfodil/wazy/api"
)

// Meta is what a plugin says about itself through the optional plugin_meta
// export (docs/ABI.md, "Metadata"). Every field is optional.
type Meta struct {
	Name        string    `json:"name,omitempty"`
	Version     string    `json:"version,omitempty"`
	Description string    `json:"description,omitempty"`
	Settings    []Setting `json:"settings,omitempty"`
}

// Setting describes one key of the plugin's [plugins.NAME.config] table.
type Setting struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Default     string `json:"default,omitempty"` // as written in TOML; "" for none
	Description string `json:"description,omitempty"`
}

// MaxMeta is the largest metadata document the host reads, not counting
// its terminating NUL.
const MaxMeta = 64 << 10

// Meta returns what the plugin declared about itself, or nil if it
// declares nothing.
func (p *Plugin) Meta() *Meta { return p.meta }

// readMeta calls the plugin's plugin_meta export, if it has one, once at
// load, as a load-time call: under the call timeout, its output dropped.
func readMeta(ctx context.Context, inst *instance) (*Meta, error) {
	fn := inst.mod.ExportedFunction("plugin_meta")
	if fn == nil {
		return nil, nil
	}
	if err := checkMetaShape(fn.Definition()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inst.timer = newCallTimer(inst.p.spec.CallTimeout, cancel)
	inst.loading = true
	defer func() { inst.loading, inst.timer = false, nil }()
	if err := inst.invoke(ctx, export{"plugin_meta", fn}); err != nil {
		return nil, err
	}
	return metaAt(inst.mem, uint32(inst.stack[0]))
}

func checkMetaShape(def api.FunctionDefinition) error {
	if len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 1 || def.ResultTypes()[0] != api.ValueTypeI32 {
		return fmt.Errorf("export plugin_meta has type %s, want (func (result i32))", funcType(def.ParamTypes(), def.ResultTypes()))
	}
	return nil
}

// metaAt reads and parses the NUL-terminated document at ptr; 0 means the
// plugin declares nothing.
func metaAt(mem api.Memory, ptr uint32) (*Meta, error) {
	if ptr == 0 {
		return nil, nil
	}
	size := mem.Size()
	if ptr >= size {
		return nil, fmt.Errorf("plugin_meta returned %#x, outside memory", ptr)
	}
	b, _ := mem.Read(ptr, min(size-ptr, MaxMeta+1))
	end := bytes.IndexByte(b, 0)
	if end < 0 {
		if len(b) > MaxMeta {
			return nil, fmt.Errorf("plugin_meta: no NUL within %d bytes of %#x (the document is limited to 64 KiB)", MaxMeta, ptr)
		}
		return nil, fmt.Errorf("plugin_meta: the document at %#x runs to the end of memory without a NUL", ptr)
	}
	m, err := ParseMeta(b[:end])
	if err != nil {
		return nil, fmt.Errorf("plugin_meta: %w", err)
	}
	return m, nil
}

// ParseMeta checks a metadata document by the rules of docs/ABI.md: a JSON
// object whose known keys have the right types, every setting named once.
// Unknown keys are ignored, so later hosts can define more.
func ParseMeta(doc []byte) (*Meta, error) {
	if !utf8.Valid(doc) {
		return nil, errors.New("metadata is not UTF-8")
	}
	if t := bytes.TrimSpace(doc); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("metadata is not a JSON object")
	}
	var m Meta
	if err := json.Unmarshal(doc, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("metadata key %q: want %s, got JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return nil, fmt.Errorf("metadata is not a JSON object: %v", err)
	}
	seen := map[string]bool{}
	for i, s := range m.Settings {
		if s.Name == "" {
			return nil, fmt.Errorf("metadata settings[%d] has no name", i)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("metadata settings: %q is listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	return &m, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct":
		return "an object"
	}
	return goKind
}
