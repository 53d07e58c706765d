package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Only Config.Decode reaches encoding/json, so the linker drops it from
// plugins that do not call Decode. Importing it (and fmt, for Failf and the
// *f log helpers) still keeps their package initialisation, which pulls in
// package os: about 0.4 MB of every plugin's .wasm that only moving those
// functions out of package sdk would save.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
