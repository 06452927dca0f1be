package ort

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
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

// Clones ORT does not run under their own name: a Conv its NCHWc layout
// transform renames after its output still ran; a clone of a Reshape of an initializer was
// folded at load; any other is unseen.
func TestAnalyzeClonesFoldedAndRenamed(t *testing.T) {
	node := func(name, op string, in []string, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Input: in, Output: []string{out}}
	}
	g := &onnxpb.GraphProto{
		Initializer: []*onnxpb.TensorProto{{Name: proto.String("w")}, {Name: proto.String("shape")}},
		Node: []*onnxpb.NodeProto{
			node("fwd_relu", "Relu", []string{"x"}, "r"),
			node("fwd_w", "Reshape", []string{"w", "shape"}, "wr"),
			node("conv", "Conv", []string{"r", "wr"}, "c"),
			node("fwd_w_rc1", "Reshape", []string{"w", "shape"}, "wr_rc1"),
			node("conv_rc1", "Conv", []string{"r", "wr_rc1"}, "c_rc1"),
			node("fwd_relu_rc1", "Relu", []string{"x"}, "r_rc1"),
			node("bwd", "Add", []string{"c_rc1", "r_rc1"}, "out"),
		},
	}
	for _, tc := range []struct {
		name     string
		executed []string
		want     CloneOrder
	}{
		{"optimised", []string{"fwd_relu", "c_nchwc", "c_rc1_nchwc", "bwd"}, CloneOrder{Clones: 3, Ran: 1, Folded: 1, Unseen: 1}},
		{"as written", []string{"fwd_relu", "fwd_w", "conv", "fwd_w_rc1", "conv_rc1", "fwd_relu_rc1", "bwd"}, CloneOrder{Clones: 3, Ran: 3}},
	} {
		got := AnalyzeClones(g, tc.executed, nil)
		if got.Clones != tc.want.Clones || got.Ran != tc.want.Ran || got.Folded != tc.want.Folded || got.Unseen != tc.want.Unseen {
			t.Errorf("%s: AnalyzeClones = %+v, want clones %d, ran %d, folded %d, unseen %d", tc.name, got, tc.want.Clones, tc.want.Ran, tc.want.Folded, tc.want.Unseen)
		}
	}
}
