module runtimecmp

go 1.26.8

require (
	github.com/samyfodil/wazy v0.8.0
	github.com/tetratelabs/wazero v1.12.0
)

require golang.org/x/sys v0.44.0 // indirect
