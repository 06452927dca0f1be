//go:build !unix

package onnx

import "os"

// mapFile is not available here: Load reads the file into memory.
func mapFile(f *os.File, size int64) ([]byte, bool) { return nil, false }

func unmapFile(b []byte) {}
