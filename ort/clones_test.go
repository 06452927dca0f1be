package ort

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
)

func TestAnalyzeClones(t *testing.T) {
	// A clone that ran before the chain (ORT's order for a clone written
	// late) and one that ran after it (guarded).
	for _, tc := range []struct {
		v        chainVariant
		executed []string
		want     CloneOrder
	}{
		{chainCloneLate, []string{"fwd_relu_rc0", "fwd_relu", "chain1", "chain2", "chain3", "chain4", "chain5", "chain6", "chain7", "chain8", "bwd_dot", "bwd_sum"},
			CloneOrder{Clones: 1, Ran: 1, AfterReaders: 0, AfterForward: 0, MedianGap: 9, MaxGap: 9, EarlyExamples: []string{"fwd_relu_rc0"}}},
		{chainCloneEarly, []string{"fwd_relu", "chain1", "chain2", "chain3", "chain4", "chain5", "chain6", "chain7", "chain8", "fwd_relu_rc0", "bwd_dot", "bwd_sum"},
			CloneOrder{Clones: 1, Ran: 1, AfterReaders: 1, AfterForward: 1}},
		{chainPlain, []string{"fwd_relu", "chain1"}, CloneOrder{AfterForward: 0}},
	} {
		path := chainModel(t, tc.v, 2, 2, "Sin", "dot")
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		// forward: relu and the chain.
		fw := make([]bool, len(m.Proto.Graph.Node))
		for i, n := range m.Proto.Graph.Node {
			fw[i] = n.GetName() == "fwd_relu" || len(n.GetName()) == 6 && n.GetName()[:5] == "chain"
		}
		got := AnalyzeClones(m.Proto.Graph, tc.executed, fw)
		if got.Clones != tc.want.Clones || got.Ran != tc.want.Ran || got.AfterReaders != tc.want.AfterReaders ||
			got.AfterForward != tc.want.AfterForward || got.MedianGap != tc.want.MedianGap || got.MaxGap != tc.want.MaxGap ||
			len(got.EarlyExamples) != len(tc.want.EarlyExamples) {
			t.Errorf("%s: AnalyzeClones = %+v, want %+v", tc.v, got, tc.want)
		}
	}
}
