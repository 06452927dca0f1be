//go:build unix

package onnx

import (
	"os"
	"syscall"
)

// mapFile maps the file f of size bytes copy-on-write: pages are read from
// the file when first touched, are not part of the Go heap (so a model of
// gigabytes does not double the garbage collector's heap goal), and a
// write to them, should any code make one, stays private to the process.
// The mapping is never unmapped by the garbage collector; see Load.
func mapFile(f *os.File, size int64) ([]byte, bool) {
	if size <= 0 || int64(int(size)) != size {
		return nil, false
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	return b, true
}

// unmapFile releases a mapping of mapFile that nothing aliases.
func unmapFile(b []byte) { _ = syscall.Munmap(b) }
