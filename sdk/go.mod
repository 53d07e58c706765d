module github.com/filehost/host/sdk

// 1.24 is the first Go with //go:wasmexport, which a plugin needs; the SDK
// uses nothing newer and no third-party modules.
go 1.24
