package autodiff

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
)

// TestGradForms checks which backward forms Build picks for the patterns
// that decide a U-Net's memory floor (numerics: gradcheck's unet_level).
func TestGradForms(t *testing.T) {
	// level builds s = Relu(Conv(x)); s → MaxPool → Conv → Relu →
	// ConvTranspose → u; Concat(crop(s), crop(u)) → Conv. extraReader adds a
	// second reader of the Concat.
	level := func(kernel int64, extraReader bool) *onnx.Model {
		g := build.New("level")
		g.Input("x", f32, []int64{2, 2, 10, 10})
		g.Initializer(build.Float32s("w1", []int64{3, 2, 3, 3}, make([]float32, 54)))
		g.Initializer(build.Float32s("w2", []int64{4, 3, 3, 3}, make([]float32, 108)))
		g.Initializer(build.Float32s("wt", []int64{4, 3, 2, 2}, make([]float32, 48)))
		g.Initializer(build.Float32s("w3", []int64{5, 6, 3, 3}, make([]float32, 270)))
		g.Initializer(build.Int64s("st", []int64{2}, []int64{1, 1}))
		g.Initializer(build.Int64s("en", []int64{2}, []int64{7, 7}))
		g.Initializer(build.Int64s("ax", []int64{2}, []int64{2, 3}))
		g.Node("Conv", "c1", []string{"x", "w1"}, []string{"h1"})
		g.Node("Relu", "r1", []string{"h1"}, []string{"s"})
		g.Node("MaxPool", "pool", []string{"s"}, []string{"p"}, build.AttrInts("kernel_shape", kernel, kernel), build.AttrInts("strides", 2, 2), build.AttrInts("pads", 0, 0, kernel-2, kernel-2))
		g.Node("Conv", "c2", []string{"p", "w2"}, []string{"h2"}, build.AttrInts("pads", 1, 1, 1, 1))
		g.Node("Relu", "r2", []string{"h2"}, []string{"a2"})
		g.Node("ConvTranspose", "up", []string{"a2", "wt"}, []string{"u"}, build.AttrInts("strides", 2, 2))
		g.Node("Slice", "crop", []string{"s", "st", "en", "ax"}, []string{"sc"})
		g.Node("Slice", "crop_u", []string{"u", "st", "en", "ax"}, []string{"uc"})
		g.Node("Concat", "cat", []string{"sc", "uc"}, []string{"cat"}, build.AttrInt("axis", 1))
		g.Node("Conv", "c3", []string{"cat", "w3"}, []string{"y"})
		if extraReader {
			g.Node("Relu", "r3", []string{"cat"}, []string{"catr"})
			g.Output("catr", f32, []int64{2, 6, 6, 6})
		}
		g.Output("y", f32, []int64{2, 5, 4, 4})
		return &onnx.Model{Proto: build.Model(g.G, 17)}
	}
	for _, c := range []struct {
		name  string
		m     *onnx.Model
		count map[string]int // op type (with "Grad/" names only) → nodes
	}{
		// Non-overlapping pool: MaxUnpool folded into the crop gradient
		// by one ScatterElements, no Sum; Concat read by one Conv: no Split.
		{"unet_level", level(2, false), map[string]int{"MaxUnpool": 0, "ScatterElements": 1, "Sum": 0, "Split": 0}},
		// Overlapping windows: the scatter-into-zeros form and a Sum.
		{"overlapping_pool", level(3, false), map[string]int{"MaxUnpool": 0, "ScatterElements": 1, "Sum": 1, "Split": 0}},
		// A second reader of the Concat: its gradient is split as usual.
		{"concat_two_readers", level(2, true), map[string]int{"ScatterElements": 1, "Split": 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tm, err := Build(c.m, Options{Loss: "sum"})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, n := range tm.Proto.Graph.Node {
				if len(n.GetName()) > 5 && n.GetName()[:5] == "Grad/" {
					got[n.GetOpType()]++
				}
			}
			for op, want := range c.count {
				if got[op] != want {
					t.Errorf("%d %s nodes in the backward, want %d (all: %v)", got[op], op, want, got)
				}
			}
		})
	}
}
