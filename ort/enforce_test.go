package ort

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort/ortorder"
)

// TestEnforceOrder: the clone written just before its consumer (the
// schedule's order) runs first in ORT and saves nothing; after EnforceOrder
// ORT runs the file order, the clone runs late and the peak drops from 3T
// to 2T, with bit-identical results.
func TestEnforceOrder(t *testing.T) {
	lib := needLib(t)
	const rows, cols = 1024, 2048 // T = 8 MiB
	const T = float64(rows*cols*4) / (1 << 20)
	path := chainModel(t, chainCloneLate, rows, cols, "Sin", "dot")
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fileOrder := NodeNames(m.Proto.Graph)
	st, err := ortorder.EnforceOrder(m.Proto.Graph, 17, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Guards != 1 || st.Mismatched != 0 {
		// fwd_relu_rc0 waits for chain8; every other node reads its predecessor.
		t.Errorf("EnforceOrder stats %+v, want 1 guard", st)
	}
	fixed := filepath.Join(t.TempDir(), "fixed.onnx")
	if err := m.Save(fixed); err != nil {
		t.Fatal(err)
	}
	in, _ := RandomInputs(m, InputOptions{Seed: 1})
	so := DefaultCheckOptions()
	so.Profile = true
	before, stBefore, err := Measure(path, in, nil, MeasureOptions{Session: so, LibPath: lib, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	after, stAfter, err := Measure(fixed, in, nil, MeasureOptions{Session: so, LibPath: lib, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(&before[0], &after[0]); !d.Identical {
		t.Errorf("results differ: %+v", d)
	}
	var executed []string
	for _, n := range stAfter.NodeOrder {
		if slices.Contains(fileOrder, n) {
			executed = append(executed, n)
		}
	}
	if !slices.Equal(executed, fileOrder) {
		t.Errorf("ORT order after EnforceOrder:\n%v\nwant the file order\n%v", executed, fileOrder)
	}
	pb, pa := float64(stBefore.PeakRSSGrowthBytes)/(1<<20)/T, float64(stAfter.PeakRSSGrowthBytes)/(1<<20)/T
	t.Logf("peak %.2f T -> %.2f T", pb, pa)
	if pb < 2.9 || pa > 2.4 {
		t.Errorf("peak %.2f T -> %.2f T, want 3T -> 2T", pb, pa)
	}
}

// TestEnforceOrderShares: EnforceOrder leaves nodes it shares with another
// graph untouched.
func TestEnforceOrderShares(t *testing.T) {
	m, err := onnx.Load(chainModel(t, chainCloneLate, 2, 2, "Sin", "dot"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := m.Encode()
	g := &onnxpb.GraphProto{Node: m.Proto.Graph.Node, Initializer: m.Proto.Graph.Initializer,
		Input: m.Proto.Graph.Input, Output: m.Proto.Graph.Output}
	if _, err := ortorder.EnforceOrder(g, 17, 0); err != nil {
		t.Fatal(err)
	}
	after, _ := m.Encode()
	if string(before) != string(after) {
		t.Error("EnforceOrder changed a node or initializer of the graph it shares them with")
	}
	if len(g.Node) <= len(m.Proto.Graph.Node) {
		t.Error("no guard added")
	}
}
