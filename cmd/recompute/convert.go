package main

import (
	"errors"
	"io"
)

// runConvert is not written yet; the helper that owns this file replaces it.
func runConvert(args []string, stdout, stderr io.Writer) error {
	return errors.New("convert: not implemented yet")
}
