//go:build wasip1

package sdk

// plugin_stateless tells the host that this plugin's output for a chunk
// depends on that chunk alone, so the host may run several instances on
// successive chunks of one file (docs/ABI.md, "Stateless plugins"). Only
// Map and Filter handlers are: Lines may read LineEnding and a Stream
// keeps what it likes. The host asks after plugin_configure, so a handler
// registered there counts.
//
//go:wasmexport plugin_stateless
func statelessExport() int32 {
	if p.stateless() {
		return 1
	}
	return 0
}
