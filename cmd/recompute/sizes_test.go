package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var negativeBytes = regexp.MustCompile(`-[0-9][0-9,.]* ?(B|bytes|KiB|MiB|GiB|TiB|PiB)\b`)

// Planning refuses values of unknown size that recomputation would touch
// (an ORT training artifact with a symbolic batch, run without --batch):
// exit 1, one line naming the dimension and the flags, no output written.
// --batch binds it; --allow-unknown-sizes plans anyway, with a warning.
func TestUnknownSizesRefused(t *testing.T) {
	in := filepath.Join(rwCorpus(t, "train"), "mobilenetv2_head_training_model.onnx")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stderr   []string
		wantFile bool
	}{
		{"rewrite unbound", []string{"rewrite", in}, 1, []string{"unknown sizes", "symbolic dimension batch not bound", "--batch N", "--dim batch=N", "--allow-unknown-sizes"}, false},
		{"plan unbound", []string{"plan", in}, 1, []string{"symbolic dimension batch not bound"}, false},
		{"rewrite bound", []string{"rewrite", in, "--batch", "8"}, 0, nil, true},
		{"rewrite --dim", []string{"rewrite", in, "--dim", "batch=8"}, 0, nil, true},
		{"rewrite allowed", []string{"rewrite", in, "--allow-unknown-sizes"}, 0, []string{"warning: 102 values of unknown size count 0 bytes"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.onnx")
			args := tc.args
			if args[0] == "rewrite" {
				args = append(args, "-o", out)
			}
			code, _, stderr := rwRun(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			if tc.code != 0 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line:\n%s", stderr)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); (err == nil) != tc.wantFile {
				t.Errorf("output written: %v, want %v", err == nil, tc.wantFile)
			}
		})
	}
}

// Absurd sizes are a one-line error naming the problem, never wrapped or
// negative byte counts.
func TestSizeOverflow(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "resnet50", "--batch", "100000000000"},
		{"rewrite", "resnet50", "--batch", "100000000000", "-o", filepath.Join(t.TempDir(), "x.onnx")},
		{"plan", "resnet50", "--batch", "4000000000000000000"},
		{"inspect", "resnet50", "--batch", "100000000000"},
	} {
		code, stdout, stderr := rwRun(t, args...)
		if code != 1 || !strings.Contains(stderr, "sizes too large") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
		}
		if negativeBytes.MatchString(stdout + stderr) {
			t.Errorf("%s: a negative byte count? %s%s", strings.Join(args, " "), stdout, stderr)
		}
	}
}
