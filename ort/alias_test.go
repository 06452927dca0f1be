package ort

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
)

// TestReshapeAliases backs the claim that the ordering guards cost no
// memory: ORT's Reshape shares its input's buffer even when the input is
// read again later (s is read by both sums), in every optimisation setting.
func TestReshapeAliases(t *testing.T) {
	lib := needLib(t)
	b := build.New("alias")
	b.Input("x", f32, []int64{1024, 4096})
	b.Output("y", f32, []int64{})
	b.Initializer(build.Int64s("flat", []int64{1}, []int64{-1}))
	b.Node("Sin", "sin", []string{"x"}, []string{"s"})
	b.Node("Reshape", "flatten", []string{"s", "flat"}, []string{"r"})
	b.Node("ReduceSum", "sum_r", []string{"r"}, []string{"a"}, build.AttrInt("keepdims", 0))
	b.Node("ReduceSum", "sum_s", []string{"s"}, []string{"c"}, build.AttrInt("keepdims", 0))
	b.Node("Add", "add", []string{"a", "c"}, []string{"y"})
	path := save(t, b, "alias")
	in := seededInputs(t, path)
	for _, so := range []Options{DefaultCheckOptions(), {Threads: 1, ArenaOff: true}} {
		_, st, err := Measure(path, in, nil, MeasureOptions{Session: so, LibPath: lib, Runs: 2})
		if err != nil {
			t.Fatal(err)
		}
		got := float64(st.PeakRSSGrowthBytes) / (1 << 20)
		t.Logf("%s: %.1f MiB", so, got)
		if got > 20 {
			t.Errorf("%s: peak %.1f MiB: Reshape copied its 16 MiB input", so, got)
		}
	}
}
