package rewrite

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/planner"
)

// TestKeepFusions checks which producers keepFusions recomputes with a
// clone: graph q -> x -> P -> v -> X -> a, backward B0 and B1 read a, and
// the plan recomputes X between them.
func TestKeepFusions(t *testing.T) {
	const (
		x = iota
		v
		a
		h
		gr
	)
	graph := func(xBytes int64, xResident, qRecomputable bool) *planner.Graph {
		return &planner.Graph{
			Values: []planner.Value{
				{Name: "x", Bytes: xBytes, Resident: xResident},
				{Name: "v", Bytes: 4}, {Name: "a", Bytes: 4},
				{Name: "h", Bytes: 4, Output: true}, {Name: "g", Bytes: 4, Output: true},
			},
			Ops: []planner.Op{
				{Name: "Q", Outputs: []int{x}, Recomputable: qRecomputable, Cost: 1},
				{Name: "P", Inputs: []int{x}, Outputs: []int{v}, Recomputable: true, Cost: 1},
				{Name: "X", Inputs: []int{v}, Outputs: []int{a}, Recomputable: true, Cost: 1},
				{Name: "B0", Backward: true, Inputs: []int{a}, Outputs: []int{h}},
				{Name: "B1", Backward: true, Inputs: []int{a}, Outputs: []int{gr}},
			},
		}
	}
	const Q, P, X, B0, B1 = 0, 1, 2, 3, 4
	plan := []int{Q, P, X, B0, X, B1}
	// B1: {X} says that an op fuses with X's output, so X's clone cannot
	// be left out.
	tests := []struct {
		name      string
		g         *planner.Graph
		fused     map[int][]int
		unguarded map[int]bool
		want      []int
		dropped   int
	}{
		{"clone left out, its original output held", graph(4, true, false), map[int][]int{X: {P}}, nil,
			[]int{Q, P, X, B0, B1}, 1},
		{"producer recomputed with its fused reader", graph(4, true, false), map[int][]int{X: {P}, B1: {X}}, nil,
			[]int{Q, P, X, B0, P, X, B1}, 0},
		{"not fused: plan kept", graph(4, true, false), nil, nil, plan, 0},
		{"producer's input held", graph(4, false, false), map[int][]int{X: {P}, B1: {X}}, nil,
			[]int{Q, P, X, B0, P, X, B1}, 0},
		{"fused chain, not recomputable", graph(4, false, false), map[int][]int{X: {P}, P: {Q}, B1: {X}}, nil, plan, 0},
		{"fused chain recomputed", graph(4, false, true), map[int][]int{X: {P}, P: {Q}, B1: {X}}, nil,
			[]int{Q, P, X, B0, Q, P, X, B1}, 0},
		{"peak would rise", graph(100, false, true), map[int][]int{X: {P}, B1: {X}}, nil, plan, 0},
		{"unguarded clone reads a clone", graph(4, true, false), nil, map[int]bool{X: true},
			[]int{Q, P, X, B0, P, X, B1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := planner.Liveness(tc.g, plan)
			before, err := planner.Replay(tc.g, s)
			if err != nil {
				t.Fatal(err)
			}
			out, added, dropped := keepFusions(tc.g, s, tc.fused, tc.unguarded)
			var got []int
			for _, st := range out {
				if st.Op >= 0 {
					got = append(got, st.Op)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
			if added-dropped != len(tc.want)-len(plan) || dropped != tc.dropped {
				t.Errorf("added %d, dropped %d; want %d dropped", added, dropped, tc.dropped)
			}
			after, err := planner.Replay(tc.g, out)
			if err != nil {
				t.Fatalf("result does not replay: %v", err)
			}
			if after.PeakBytes > before.PeakBytes {
				t.Errorf("peak rose from %d to %d", before.PeakBytes, after.PeakBytes)
			}
		})
	}
}
