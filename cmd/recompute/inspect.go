package main

import (
	"errors"
	"io"
)

// runInspect is not written yet; the helper that owns this file replaces it.
func runInspect(args []string, stdout, stderr io.Writer) error {
	return errors.New("inspect: not implemented yet")
}
