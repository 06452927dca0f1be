package main

import (
	"strings"
	"testing"
)

// The progress line appears on a terminal only (forced here with
// RECOMPUTE_PROGRESS=1), says which step runs, and is cleared before the
// command's own output; elsewhere nothing is written.
func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want []string
	}{
		{"1", []string{"plan", "resnet50", "--batch", "2", "--size", "64"}, []string{"\r\033[Kplan resnet50: loading (", "plan resnet50: planning (approx) (", "\r\033[K"}},
		{"1", []string{"rewrite", "resnet50", "--batch", "2", "--size", "64", "-o", "OUT"}, []string{"rewrite resnet50: loading", "rewrite resnet50: planning", "rewrite resnet50: saving"}},
		{"", []string{"plan", "resnet50", "--batch", "2", "--size", "64"}, nil},
		{"0", []string{"plan", "resnet50", "--batch", "2", "--size", "64"}, nil},
	} {
		t.Setenv("RECOMPUTE_PROGRESS", tc.env)
		args := tc.args
		for i, a := range args {
			if a == "OUT" {
				args[i] = t.TempDir() + "/out.onnx"
			}
		}
		code, _, stderr := rwRun(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if tc.want == nil && strings.Contains(stderr, "\r") {
			t.Errorf("RECOMPUTE_PROGRESS=%q, not a terminal: progress written: %q", tc.env, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr lacks %q: %q", args[0], w, stderr)
			}
		}
		// The line is cleared at the end: after the last clear, no
		// progress text ("… (1.2 s)") remains.
		if i := strings.LastIndex(stderr, "\r\033[K"); tc.want != nil && strings.Contains(stderr[i:], " s)") {
			t.Errorf("progress line not cleared: %q", stderr[i:])
		}
	}
	var p *progress
	p.step("nothing") // a nil progress does nothing
	p.end()
}
