//go:build unix

package onnx

import (
	"errors"
	"os"
	"syscall"
)

// processRuns reports whether a process with this PID exists (signal 0
// checks without sending; EPERM means it exists under another user).
func processRuns(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
