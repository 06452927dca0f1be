package gradcheck

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
)

// unetLevel builds a U-Net level: s = Relu(Conv(x)) feeds a MaxPool
// (kernel×kernel, stride 2: windows overlap when kernel > 2) → Conv → Relu →
// ConvTranspose → u, and a crop (Slice); Concat(crop(s), crop(u)) → Conv.
// With extraReader the Concat has a second reader.
func unetLevel(kernel int64, extraReader bool) func(g *build.Graph, r *rand.Rand) {
	return func(g *build.Graph, r *rand.Rand) {
		g.Input("x", f32, []int64{2, 2, 10, 10})
		g.Initializer(randT("w1", r, 0.5, 3, 2, 3, 3))
		g.Initializer(randT("w2", r, 0.5, 4, 3, 3, 3))
		g.Initializer(randT("wt", r, 0.5, 4, 3, 2, 2))
		g.Initializer(randT("w3", r, 0.5, 5, 6, 3, 3))
		g.Initializer(build.Int64s("st", []int64{2}, []int64{1, 1}))
		g.Initializer(build.Int64s("en", []int64{2}, []int64{7, 7}))
		g.Initializer(build.Int64s("ax", []int64{2}, []int64{2, 3}))
		g.Node("Conv", "c1", []string{"x", "w1"}, []string{"h1"})
		g.Node("Relu", "r1", []string{"h1"}, []string{"s"})
		g.Node("MaxPool", "pool", []string{"s"}, []string{"p"}, build.AttrInts("kernel_shape", kernel, kernel),
			build.AttrInts("strides", 2, 2), build.AttrInts("pads", 0, 0, kernel-2, kernel-2))
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
	}
}

// TestGradForms checks which backward forms autodiff picks for the patterns
// that decide a U-Net's memory floor (their numerics: TestOps/unet_level).
func TestGradForms(t *testing.T) {
	for _, c := range []struct {
		name  string
		model func(g *build.Graph, r *rand.Rand)
		count map[string]int // op type → nodes in the backward ("Grad/…" names)
	}{
		// Windows that cannot overlap: the MaxUnpool is folded into the
		// crop's gradient by one ScatterElements, no Sum; the Concat's only
		// reader is a Conv: its gradient goes to the parts, no Split.
		{"unet_level", unetLevel(2, false), map[string]int{"MaxUnpool": 0, "ScatterElements": 1, "Sum": 0, "Split": 0}},
		// Overlapping windows: the scatter into zeros, then a Sum.
		{"overlapping_pool", unetLevel(3, false), map[string]int{"MaxUnpool": 0, "ScatterElements": 1, "Sum": 1, "Split": 0}},
		// A second reader of the Concat: its gradient is split as usual.
		{"concat_two_readers", unetLevel(2, true), map[string]int{"ScatterElements": 1, "Split": 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tm := opCase{name: c.name, make: c.model, loss: "sum"}.training(t)
			got := map[string]int{}
			for _, n := range tm.Proto.Graph.Node {
				if strings.HasPrefix(n.GetName(), "Grad/") {
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
