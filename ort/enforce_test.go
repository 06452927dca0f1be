package ort

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
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

// TestEnforceOrderRetainsNothing: two interleaved chains, every node guarded
// on its file predecessor, peak the same as without guards (three live
// 4 MiB tensors), however long the chains.
func TestEnforceOrderRetainsNothing(t *testing.T) {
	lib := needLib(t)
	for _, n := range []int{4, 16} {
		b := build.New("two")
		b.Input("x", f32, []int64{1024, 1024})
		b.Output("y", f32, []int64{1024, 1024})
		pa, pb := "x", "x"
		for i := 0; i < n; i++ {
			a, c := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
			b.Node("Sin", a, []string{pa}, []string{a})
			b.Node("Cos", c, []string{pb}, []string{c})
			pa, pb = a, c
		}
		b.Node("Add", "add", []string{pa, pb}, []string{"y"})
		path := save(t, b, fmt.Sprintf("two%d", n))
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := RandomInputs(m, InputOptions{Seed: 1})
		st, err := ortorder.EnforceOrder(m.Proto.Graph, 17, 0)
		if err != nil || st.Guards != 2*n-1 {
			t.Fatalf("EnforceOrder: %+v, %v; want %d guards", st, err, 2*n-1)
		}
		guarded := filepath.Join(t.TempDir(), "guarded.onnx")
		if err := m.Save(guarded); err != nil {
			t.Fatal(err)
		}
		var peaks []float64
		for _, p := range []string{path, guarded} {
			_, ms, err := Measure(p, in, nil, MeasureOptions{Session: DefaultCheckOptions(), LibPath: lib, Runs: 1})
			if err != nil {
				t.Fatal(err)
			}
			peaks = append(peaks, float64(ms.PeakRSSGrowthBytes)/(1<<20))
		}
		t.Logf("n=%d: %.1f MiB without guards, %.1f MiB with %d", n, peaks[0], peaks[1], st.Guards)
		if peaks[1] > peaks[0]+1 || peaks[1] > 13 {
			t.Errorf("n=%d: guards raised the peak: %.1f -> %.1f MiB", n, peaks[0], peaks[1])
		}
	}
}
