package models

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/models.golden")

// summary describes a model in one line: input and output dims, node and
// parameter counts and the op histogram.
func summary(name string) (string, error) {
	m, err := Build(name, Options{NoWeights: true})
	if err != nil {
		return "", err
	}
	g := m.Proto.Graph
	var in []int64
	for _, d := range g.Input[0].GetType().GetTensorType().GetShape().GetDim() {
		in = append(in, d.GetDimValue())
	}
	counts := opCounts(m)
	types := make([]string, 0, len(counts))
	for op := range counts {
		types = append(types, op)
	}
	sort.Strings(types)
	var hist []string
	for _, op := range types {
		hist = append(hist, fmt.Sprintf("%s=%d", op, counts[op]))
	}
	return fmt.Sprintf("%s: %s %v -> logits %v; %d nodes, %d parameters; %s",
		name, g.Input[0].GetName(), in, outputDims(m), len(g.Node), trainableParams(m), strings.Join(hist, " ")), nil
}

// TestGolden compares the summaries of all networks at the paper's sizes
// with testdata/models.golden (go test -run Golden -update rewrites it).
func TestGolden(t *testing.T) {
	var lines []string
	for _, name := range Names() {
		s, err := summary(name)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "models.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("line %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		if len(gl) != len(wl) {
			t.Errorf("%d lines, golden has %d", len(gl), len(wl))
		}
	}
}
