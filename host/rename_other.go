//go:build !linux

package host

// renameNoReplace renames src to dst unless dst exists, in which case it
// fails with an error matching fs.ErrExist. dst is looked up first, which
// is not atomic against other writers.
func renameNoReplace(src, dst string) error { return renameChecked(src, dst) }
