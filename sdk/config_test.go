package sdk

import "testing"

func TestConfigOnly(t *testing.T) {
	c := Config{"mask": "x", "kinds": []any{"email"}, "pattern": "p"}
	if err := c.Only("mask", "kinds", "patterns"); err == nil ||
		err.Error() != `unknown config key "pattern" (settings of this plugin: mask, kinds, patterns)` {
		t.Errorf("got %v", err)
	}
	if err := c.Only("mask", "kinds", "pattern"); err != nil {
		t.Errorf("all known: %v", err)
	}
	if err := c.Only(); err == nil || err.Error() != `unknown config key "kinds" (settings of this plugin: none)` {
		t.Errorf("no settings: %v", err)
	}
	if err := (Config{}).Only(); err != nil {
		t.Errorf("empty: %v", err)
	}
}
