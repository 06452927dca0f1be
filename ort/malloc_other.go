//go:build !(linux && cgo)

package ort

// settleMalloc has nothing to set without glibc: the runs are timed as
// measured.
func settleMalloc() bool { return false }
