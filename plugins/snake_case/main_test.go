//go:build !wasip1

package main

import (
	"testing"

	"github.com/filehost/host/sdk/sdktest"
)

func TestSnakeCase(t *testing.T) {
	sdktest.Cases(t, "in.txt", []sdktest.Case{
		{"empty", "", "", ""},
		{"words", "", "Hello World\n", "hello_world\n"},
		{"camel", "", "parseHTTPRequest\n", "parse_http_request\n"},
		{"pascal", "", "PascalCase\n", "pascal_case\n"},
		{"acronym first", "", "HTTPServer\n", "http_server\n"},
		{"all caps", "", "ALL CAPS\nALLCAPS\n", "all_caps\nallcaps\n"},
		{"already snake", "", "already_snake_case\n", "already_snake_case\n"},
		{"hyphens and punctuation", "", "user-id, (primary) key!\n", "user_id_primary_key\n"},
		{"runs collapse", "", "a -- b__c...d\n", "a_b_c_d\n"},
		{"trimmed", "", "  __Hello__  \n", "hello\n"},
		{"underscore before capital", "", "snake_Case\n", "snake_case\n"},
		{"digits", "", "Top10Items\nversion2\nmd5Sum\nHTTP2Server\n", "top10_items\nversion2\nmd5_sum\nhttp2_server\n"},
		{"no letters", "", "--- !!! ---\n", "\n"},
		{"unicode", "", "Größe Maß\nÉcoleNormale\n", "größe_maß\nécole_normale\n"},
		{"combining mark", "", "Cafe\u0301 Au Lait\n", "cafe\u0301_au_lait\n"},
		{"uncased script", "", "東京 Tower\n", "東京_tower\n"},
		{"invalid utf-8 separates", "", "abc\xffDef\n", "abc_def\n"},
		{"no trailing newline", "", "A B\nC D", "a_b\nc_d"},
		{"crlf", "", "Foo Bar\r\nBazQux\r\n", "foo_bar\r\nbaz_qux\r\n"},
	})
}

func TestSettingsRejected(t *testing.T) {
	sdktest.BadConfigs(t, []sdktest.BadConfig{
		{`{"chars": " "}`, `unknown config key "chars" (settings of this plugin: none)`},
	})
}
