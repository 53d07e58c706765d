// Package csdk holds the C SDK's header, hostplugin.h, for tools that
// write it into a new plugin's folder (host plugin new --lang c). C
// plugins include the header itself; they never need this package.
package csdk

import _ "embed"

// Header is the text of hostplugin.h.
//
//go:embed hostplugin.h
var Header string
