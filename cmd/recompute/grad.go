package main

import (
	"errors"
	"io"
)

// runGrad is not written yet; the helper that owns this file replaces it.
func runGrad(args []string, stdout, stderr io.Writer) error {
	return errors.New("grad: not implemented yet")
}
