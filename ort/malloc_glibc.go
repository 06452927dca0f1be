//go:build linux && cgo

package ort

/*
#include <malloc.h>
*/
import "C"

// settleMalloc sets glibc's mmap threshold to the ceiling its dynamic
// threshold reaches in a long-running process (32 MiB on 64-bit: each free
// of a mapped chunk raises the threshold to that chunk's size) and the trim
// threshold to twice that, as glibc does when it raises the threshold. It
// undoes, for timing, the MALLOC_MMAP_THRESHOLD_ the peak measurement sets,
// under which every tensor above 128 KiB is a fresh mapping whose pages
// fault in each run. It reports whether glibc took both settings.
func settleMalloc() bool {
	return C.mallopt(C.M_MMAP_THRESHOLD, 32<<20) == 1 && C.mallopt(C.M_TRIM_THRESHOLD, 64<<20) == 1
}
