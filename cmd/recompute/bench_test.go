package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/bench"
	"github.com/onnx-recompute/recompute/internal/testenv"
)

func TestParseBudgets(t *testing.T) {
	tests := []struct {
		in   string
		want []float64
		bad  bool
	}{
		{in: "0.3,0.5,1", want: []float64{0.3, 0.5, 1}},
		{in: "30%,50%", want: []float64{0.3, 0.5}},
		{in: "0.3:0.5:0.1", want: []float64{0.3, 0.4, 0.5}},
		{in: "0.5:1:0.25", want: []float64{0.5, 0.75, 1}},
		{in: "0", bad: true},
		{in: "1.5", bad: true},
		{in: "x", bad: true},
		{in: "1:0.5:0.1", bad: true},
		{in: ",", bad: true},
	}
	for _, tc := range tests {
		got, err := parseBudgets(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseBudgets(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseBudgets(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseMeasureNets(t *testing.T) {
	got, err := parseMeasureNets("resnet50:8x112, gpt2:1x256,llama:2x64")
	want := []bench.MeasureNet{{Name: "resnet50", Batch: 8, Size: 112}, {Name: "gpt2", Batch: 1, Seq: 256}, {Name: "llama", Batch: 2, Seq: 64}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseMeasureNets = %+v, %v; want %+v", got, err, want)
	}
	if s := formatMeasureNets(want); s != "resnet50:8x112,gpt2:1x256,llama:2x64" {
		t.Errorf("formatMeasureNets = %q", s)
	}
	for _, bad := range []string{"", "resnet50", "resnet50:0x64", "resnet50:2xa", "x:1x1"} {
		if _, err := parseMeasureNets(bad); err == nil {
			t.Errorf("parseMeasureNets(%q) accepted", bad)
		}
	}
}

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
