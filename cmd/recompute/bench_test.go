package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"
)

func TestBenchUsage(t *testing.T) {
	tests := [][]string{
		{"bench", "--models", "nosuchnet"},
		{"bench", "--budgets", "2"},
		{"bench", "--strategies", "magic"},
		{"bench", "--models", "none"},
		{"bench", "extra-arg"},
		{"bench", "--measure-nets", "resnet50:2"},
		{"bench", "--measure-nets", "nosuch:1x2"},
	}
	for _, args := range tests {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if lines := strings.Count(strings.TrimSpace(errb.String()), "\n"); lines > 0 {
			t.Errorf("%v: error is %d lines: %q", args, lines+1, errb.String())
		}
	}
}

// TestBenchCG runs the command end to end on the paper's cg graph only.
func TestBenchCG(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	cg := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "cg", "cg_vgg19.txt")
	if _, err := os.Stat(cg); err != nil {
		testenv.Missing(t, "corpus cg file absent (%v)", err)
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--models", "none", "--cg", cg, "--out", dir, "--budgets", "0.6,1", "--strategies", "none,chen,approx"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "cg_vgg19") || !strings.Contains(errb.String(), "bench: cg_vgg19:") {
		t.Errorf("no table or progress for cg_vgg19:\n%s\n%s", out.String(), errb.String())
	}
	for _, name := range []string{"RESULTS.md", "results.json", "cg_vgg19.png", "cg_vgg19.svg"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}
