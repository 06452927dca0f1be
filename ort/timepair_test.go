package ort

import (
	"strings"
	"testing"
)

// TestTimePair times a model against its recomputing variant: one run of
// each per round, settled sessions, and the ratio the median of the
// rounds' ratios (what verify reports as the time ratio).
func TestTimePair(t *testing.T) {
	needLib(t)
	a := chainModel(t, chainPlain, 64, 256, "Sin", "add")
	b := chainModel(t, chainCloneLate, 64, 256, "Sin", "add")
	in := seededInputs(t, a)
	for _, rounds := range []int{0, 1, 4} {
		pt, err := TimePair(a, b, in, nil, Options{}, rounds)
		if err != nil {
			t.Fatal(err)
		}
		want := max(rounds, 1)
		if len(pt.A) != want || len(pt.B) != want || len(pt.Ratios) != want {
			t.Fatalf("rounds %d: %d, %d runs and %d ratios, want %d each", rounds, len(pt.A), len(pt.B), len(pt.Ratios), want)
		}
		for i := range pt.A {
			if pt.A[i] <= 0 || pt.B[i] <= 0 || pt.Ratios[i] != pt.B[i]/pt.A[i] {
				t.Errorf("round %d: a %v s, b %v s, ratio %v", i, pt.A[i], pt.B[i], pt.Ratios[i])
			}
		}
		if pt.Ratio != Median(pt.Ratios) || pt.Warm != SettleRuns || !strings.Contains(pt.Method, "one process") {
			t.Errorf("ratio %v (rounds %v), warm %d, method %q", pt.Ratio, pt.Ratios, pt.Warm, pt.Method)
		}
	}
	if _, err := TimePair(a, a+".missing", in, nil, Options{}, 1); err == nil || !strings.Contains(err.Error(), ".missing") {
		t.Errorf("missing second model: err = %v, want it named", err)
	}
}
