// Package testenv decides what a test does when something it needs from
// outside the repository is missing: the shared corpus, ONNX Runtime, ORT's
// training build, Debian's python3-onnx or libonnx-testdata.
//
// Promise: on a developer's machine the test skips and says what to
// install; in CI (CI=true, which .ci/run sets, and which installs all of it)
// the test fails instead, so a green CI run never hides a test that did
// not run.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// InCI reports whether the tests run in CI, where every dependency must be
// present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips tb, or fails it in CI, because a dependency named by the
// formatted message is absent. The message should say how to get it.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	tb.Skip(failInCI(tb, format, args...))
}

// Partial is for a test that can still check part of what it checks
// without the dependency: it logs that the rest was not checked and goes
// on, or fails in CI.
func Partial(tb testing.TB, format string, args ...any) {
	tb.Helper()
	tb.Log(failInCI(tb, format, args...))
}

// failInCI fails tb in CI and otherwise returns the message.
func failInCI(tb testing.TB, format string, args ...any) string {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("CI=true and a test dependency is missing: %s", msg)
	}
	return msg
}
