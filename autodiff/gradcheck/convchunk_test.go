package gradcheck

import (
	"math/rand/v2"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// TestConvWeightGradChunks checks on ONNX Runtime the Conv and
// ConvTranspose weight gradients summed over batch chunks: one sample per
// chunk (batch ≤ 8 and 9..15), several samples per chunk with a shorter last
// chunk (batch 17: chunks of 2), with groups, strides that need the crop,
// dilations, and 1-D and 3-D convolutions. The loss is Σ y·c for a
// random input c: linear in the weights, so that central differences are
// exact up to rounding, and dY = c differs per sample (a chunk that paired
// X and dY of different samples would fail). dX has its own cases in
// TestOps; here x is an input. Each parameter is checked along its
// gradient direction and at its largest coordinate (random small
// coordinates drown in float32 rounding of these larger sums); a dropped or
// misplaced chunk moves both by about its share of the batch.
func TestConvWeightGradChunks(t *testing.T) {
	needORT(t)
	conv := func(op string, x, w, out []int64, attrs ...*onnxpb.AttributeProto) func(g *build.Graph, r *rand.Rand) {
		return func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, x)
			g.Initializer(randT("w", r, 0.5, w...))
			g.Initializer(randT("b", r, 0.5, out[1]))
			g.Input("c", f32, out)
			g.Node(op, "conv", []string{"x", "w", "b"}, []string{"y"}, attrs...)
			g.Node("Mul", "weigh", []string{"y", "c"}, []string{"z"})
			g.Output("z", f32, out)
		}
	}
	cases := []opCase{
		{"conv_batch4", conv("Conv", []int64{4, 3, 7, 7}, []int64{5, 3, 3, 3}, []int64{4, 5, 7, 7},
			build.AttrInts("pads", 1, 1, 1, 1)), "sum", 0},
		{"conv_batch10_s2_crop", conv("Conv", []int64{10, 3, 10, 10}, []int64{4, 3, 3, 3}, []int64{10, 4, 4, 4},
			build.AttrInts("strides", 2, 2)), "sum", 0},
		{"conv_batch17_group_dil", conv("Conv", []int64{17, 4, 9, 9}, []int64{6, 2, 3, 3}, []int64{17, 6, 5, 5},
			build.AttrInts("dilations", 2, 2), build.AttrInt("group", 2)), "sum", 0},
		{"conv_batch17_s2_pads", conv("Conv", []int64{17, 3, 10, 10}, []int64{4, 3, 3, 3}, []int64{17, 4, 5, 4},
			build.AttrInts("strides", 2, 2), build.AttrInts("pads", 1, 0, 1, 0)), "sum", 0},
		{"conv1d_batch9", conv("Conv", []int64{9, 2, 11}, []int64{3, 2, 4}, []int64{9, 3, 4},
			build.AttrInts("strides", 2)), "sum", 0},
		{"conv3d_batch3", conv("Conv", []int64{3, 2, 5, 5, 5}, []int64{3, 2, 3, 3, 3}, []int64{3, 3, 3, 3, 3}), "sum", 0},
		{"convtranspose_batch12_group", conv("ConvTranspose", []int64{12, 4, 4, 4}, []int64{4, 3, 3, 3}, []int64{12, 6, 9, 9},
			build.AttrInts("strides", 2, 2), build.AttrInts("pads", 1, 1, 0, 0), build.AttrInts("output_padding", 1, 1), build.AttrInt("group", 2)), "sum", 0},
		{"convtranspose_batch17", conv("ConvTranspose", []int64{17, 3, 4, 4}, []int64{3, 2, 3, 3}, []int64{17, 2, 9, 9},
			build.AttrInts("strides", 2, 2)), "sum", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, 1) })
	}
}
