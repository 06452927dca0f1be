package main

import (
	"errors"
	"io"
)

// runPlan is not written yet; the helper that owns this file replaces it.
func runPlan(args []string, stdout, stderr io.Writer) error {
	return errors.New("plan: not implemented yet")
}
