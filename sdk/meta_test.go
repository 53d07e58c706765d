package sdk

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDescribe(t *testing.T) {
	defer func(m []byte) { p.meta = m }(p.meta)
	tests := []struct {
		meta Meta
		want string
	}{
		{Meta{}, `{}`},
		{Meta{Name: "n"}, `{"name":"n"}`},
		{Meta{Version: "1", Settings: []Setting{{Name: "a"}, {Name: "b", Type: "bool", Default: "false", Description: "d"}}},
			`{"version":"1","settings":[{"name":"a"},{"name":"b","type":"bool","default":"false","description":"d"}]}`},
		{Meta{Description: "quote \" backslash \\ tab \t nl \n bell \a é \xff"},
			`{"description":"quote \" backslash \\ tab \t nl \n bell \u0007 é \ufffd"}`},
	}
	for _, tt := range tests {
		Describe(tt.meta)
		if p.meta[len(p.meta)-1] != 0 {
			t.Errorf("%+v: the document does not end with NUL", tt.meta)
		}
		got := metaDoc()
		if got != tt.want {
			t.Errorf("Describe(%+v) = %s, want %s", tt.meta, got, tt.want)
		}
		// encoding/json reads it back as what was described.
		var back struct {
			Name, Version, Description string
			Settings                   []Setting
		}
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		want := tt.meta
		if want.Description == tests[3].meta.Description {
			want.Description = "quote \" backslash \\ tab \t nl \n bell \a é \ufffd"
		}
		if back.Name != want.Name || back.Version != want.Version || back.Description != want.Description ||
			!reflect.DeepEqual(back.Settings, want.Settings) {
			t.Errorf("%s read back as %+v", got, back)
		}
	}
}
