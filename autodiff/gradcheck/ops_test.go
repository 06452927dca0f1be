package gradcheck

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

const f32 = onnxpb.TensorProto_FLOAT

func randT(name string, r *rand.Rand, scale float64, dims ...int64) *onnxpb.TensorProto {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * scale)
	}
	return build.Float32s(name, dims, v)
}

// scaledUnary: x (input) · w (param) · scale + shift → op → y, keeping the
// argument inside op's domain (scale and shift are Constant nodes, not
// parameters).
func scaledUnary(op string, scale, shift float32) func(g *build.Graph, r *rand.Rand) {
	return func(g *build.Graph, r *rand.Rand) {
		g.Input("x", f32, []int64{2, 5})
		g.Initializer(randT("w", r, 1, 2, 5))
		g.Node("Constant", "scale", nil, []string{"s"}, build.AttrTensor("value", build.Float32s("s", nil, []float32{scale})))
		g.Node("Constant", "shift", nil, []string{"c"}, build.AttrTensor("value", build.Float32s("c", nil, []float32{shift})))
		g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
		g.Node("Mul", "ms", []string{"h", "s"}, []string{"hs"})
		g.Node("Add", "a", []string{"hs", "c"}, []string{"hc"})
		g.Node(op, "op", []string{"hc"}, []string{"y"})
		g.Output("y", f32, []int64{2, 5})
	}
}

// einsum: Einsum(equation) of two parameters a and b (x, an input, scales a).
func einsum(eq string, ad, bd, yd []int64) func(g *build.Graph, r *rand.Rand) {
	return func(g *build.Graph, r *rand.Rand) {
		g.Input("x", f32, ad)
		g.Initializer(randT("a", r, 1, ad...))
		g.Initializer(randT("b", r, 1, bd...))
		g.Node("Mul", "m", []string{"x", "a"}, []string{"h"})
		g.Node("Einsum", "op", []string{"h", "b"}, []string{"y"}, build.AttrString("equation", eq))
		g.Output("y", f32, yd)
	}
}

// opCase is a one- or two-node forward model around one op.
type opCase struct {
	name  string
	make  func(g *build.Graph, r *rand.Rand)
	loss  string
	opset int64 // 0: 17
}

// training builds the case's forward model (weights seeded) at its opset
// and its training graph.
func (c opCase) training(t *testing.T) *onnx.Model {
	t.Helper()
	g := build.New(c.name)
	c.make(g, rand.New(rand.NewPCG(1, 2)))
	opset := c.opset
	if opset == 0 {
		opset = 17
	}
	opt := autodiff.Options{Loss: c.loss}
	convForm := strings.Contains(c.name, "_as_conv") // the cases of the convolution form
	if convForm {
		opt.ConvInputGrad = "auto"
	}
	tm, err := autodiff.Build(&onnx.Model{Proto: build.Model(g.G, opset)}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if convForm && !slices.ContainsFunc(tm.Proto.Graph.Node, func(n *onnxpb.NodeProto) bool {
		return n.GetOpType() == "Conv" && strings.HasPrefix(n.GetName(), "Grad/") && strings.HasSuffix(n.GetName(), "/dX")
	}) {
		t.Fatal("no input gradient in the convolution form")
	}
	return tm
}

// check compares coords sampled gradient coordinates per parameter of the
// case's training graph with finite differences on ONNX Runtime.
func (c opCase) check(t *testing.T, coords int) {
	t.Helper()
	res, err := Check(c.training(t), Options{Coords: coords, Tolerance: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		for _, p := range res.Params {
			t.Logf("%s %+v", p.Name, p.Coords)
		}
	}
	report(t, res)
}

// TestOps checks each gradient rule alone on ONNX Runtime, on awkward
// geometries (strides with remainders, groups, dilations, ceil mode).
func TestOps(t *testing.T) {
	needORT(t)
	conv := func(x []int64, w []int64, out []int64, attrs ...*onnxpb.AttributeProto) func(g *build.Graph, r *rand.Rand) {
		return func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, x)
			g.Initializer(randT("w", r, 0.5, w...))
			g.Initializer(randT("b", r, 0.5, w[0]))
			g.Node("Conv", "conv", []string{"x", "w", "b"}, []string{"y"}, attrs...)
			g.Output("y", f32, out)
		}
	}
	cases := []opCase{
		{"conv_s2_p3_k7", conv([]int64{2, 3, 11, 11}, []int64{4, 3, 7, 7}, []int64{2, 4, 6, 6},
			build.AttrInts("strides", 2, 2), build.AttrInts("pads", 3, 3, 3, 3)), "sum", 0},
		{"conv_s2_k1", conv([]int64{2, 4, 9, 9}, []int64{6, 4, 1, 1}, []int64{2, 6, 5, 5},
			build.AttrInts("strides", 2, 2)), "mse", 0},
		{"conv_batch1_s2", conv([]int64{1, 3, 9, 9}, []int64{4, 3, 3, 3}, []int64{1, 4, 4, 4},
			build.AttrInts("strides", 2, 2)), "mse", 0},
		{"conv_batch1_group", conv([]int64{1, 4, 7, 7}, []int64{4, 2, 3, 3}, []int64{1, 4, 7, 7},
			build.AttrInts("pads", 1, 1, 1, 1), build.AttrInt("group", 2)), "mse", 0},
		{"conv_group_dil", conv([]int64{2, 4, 9, 9}, []int64{6, 2, 3, 3}, []int64{2, 6, 5, 5},
			build.AttrInts("dilations", 2, 2), build.AttrInt("group", 2)), "mse", 0},
	}
	// after wraps op: x (input) · w (param, x's shape) → op → y, so the
	// gradient of w is the op's input gradient (times x).
	after := func(xd, yd []int64, op string, extra func(g *build.Graph, r *rand.Rand) []string, attrs ...*onnxpb.AttributeProto) func(g *build.Graph, r *rand.Rand) {
		return func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, xd)
			g.Initializer(randT("w", r, 1, xd...))
			g.Node("Mul", "scale", []string{"x", "w"}, []string{"h"})
			in := []string{"h"}
			if extra != nil {
				in = append(in, extra(g, r)...)
			}
			g.Node(op, "op", in, []string{"y"}, attrs...)
			g.Output("y", f32, yd)
		}
	}
	i64 := func(name string, v ...int64) func(g *build.Graph, r *rand.Rand) []string {
		return func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Int64s(name, []int64{int64(len(v))}, v))
			return []string{name}
		}
	}
	param := func(dims ...int64) func(g *build.Graph, r *rand.Rand) []string {
		return func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(randT("p", r, 0.7, dims...))
			return []string{"p"}
		}
	}
	in4 := []int64{2, 3, 7, 7}
	cases = append(cases,
		// Input gradients in their convolution form (stride 1, large
		// images: ConvTranspose's column buffer would be larger), with
		// asymmetric pads and dilations, 2-D and 1-D. The loss is a sum:
		// with a mean squared error the small coordinates of these large
		// inputs drown in float32 rounding of the central differences.
		opCase{"conv_dx_as_conv", after([]int64{1, 4, 40, 40}, []int64{1, 3, 40, 40}, "Conv", param(3, 4, 3, 3), build.AttrInts("pads", 1, 1, 1, 1)), "sum", 0},
		opCase{"conv_dx_as_conv_dil_asym", after([]int64{2, 3, 36, 36}, []int64{2, 2, 35, 35}, "Conv", param(2, 3, 3, 3), build.AttrInts("dilations", 2, 2), build.AttrInts("pads", 2, 1, 2, 1)), "sum", 0},
		opCase{"conv1d_dx_as_conv", after([]int64{2, 2, 4000}, []int64{2, 3, 3998}, "Conv", param(3, 2, 5), build.AttrInts("pads", 1, 1)), "sum", 0},
		// Non-overlapping windows whose last one hangs over the edge
		// (GoogLeNet's 2x2 ceil pools on 7x7 maps): MaxUnpool would infer
		// 8x8 and ORT refuses a smaller output_shape.
		opCase{"maxpool_2x2_ceil_odd", after(in4, []int64{2, 3, 4, 4}, "MaxPool", nil, build.AttrInts("kernel_shape", 2, 2), build.AttrInts("strides", 2, 2), build.AttrInt("ceil_mode", 1)), "mse", 0},
		opCase{"maxpool_pad_ceil", after(in4, []int64{2, 3, 4, 4}, "MaxPool", nil, build.AttrInts("kernel_shape", 3, 3), build.AttrInts("strides", 2, 2), build.AttrInts("pads", 1, 1, 0, 0), build.AttrInt("ceil_mode", 1)), "mse", 0},
		opCase{"avgpool_excl_pad_ceil", after(in4, []int64{2, 3, 4, 4}, "AveragePool", nil, build.AttrInts("kernel_shape", 3, 3), build.AttrInts("strides", 2, 2), build.AttrInts("pads", 1, 1, 0, 0), build.AttrInt("ceil_mode", 1)), "mse", 0},
		opCase{"avgpool_incl_pad", after(in4, []int64{2, 3, 4, 4}, "AveragePool", nil, build.AttrInts("kernel_shape", 3, 3), build.AttrInts("strides", 2, 2), build.AttrInts("pads", 1, 1, 1, 1), build.AttrInt("count_include_pad", 1)), "mse", 0},
		opCase{"globalavgpool", after(in4, []int64{2, 3, 1, 1}, "GlobalAveragePool", nil), "mse", 0},
		opCase{"lrn", after([]int64{2, 6, 3, 3}, []int64{2, 6, 3, 3}, "LRN", nil, build.AttrInt("size", 3), build.AttrFloat("alpha", 0.3), build.AttrFloat("beta", 0.75), build.AttrFloat("bias", 1.5)), "mse", 0},
		opCase{"softmax_axis1", after([]int64{2, 5, 3}, []int64{2, 5, 3}, "Softmax", nil, build.AttrInt("axis", 1)), "mse", 0},
		opCase{"logsoftmax", after([]int64{2, 5}, []int64{2, 5}, "LogSoftmax", nil), "mse", 0},
		opCase{"sigmoid", after([]int64{2, 5}, []int64{2, 5}, "Sigmoid", nil), "mse", 0},
		opCase{"tanh", after([]int64{2, 5}, []int64{2, 5}, "Tanh", nil), "mse", 0},
		opCase{"hardsigmoid", after([]int64{2, 5}, []int64{2, 5}, "HardSigmoid", nil, build.AttrFloat("alpha", 0.4)), "mse", 0},
		opCase{"leakyrelu", after([]int64{2, 5}, []int64{2, 5}, "LeakyRelu", nil, build.AttrFloat("alpha", 0.1)), "mse", 0},
		opCase{"erf", after([]int64{2, 5}, []int64{2, 5}, "Erf", nil), "mse", 0},
		opCase{"sqrt_abs", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 5})
			g.Initializer(randT("w", r, 1, 2, 5))
			g.Node("Mul", "sq", []string{"w", "w"}, []string{"w2"})
			g.Node("Add", "pos", []string{"w2", "x"}, []string{"h"})
			g.Node("Abs", "abs", []string{"x"}, []string{"ax"})
			g.Node("Add", "pos2", []string{"w2", "ax"}, []string{"h2"})
			g.Node("Sqrt", "op", []string{"h2"}, []string{"y"})
			g.Output("y", f32, []int64{2, 5})
		}, "mse", 0},
		opCase{"transpose", after([]int64{2, 3, 4}, []int64{4, 2, 3}, "Transpose", nil, build.AttrInts("perm", 2, 0, 1)), "mse", 0},
		opCase{"slice", after([]int64{2, 6, 5}, []int64{2, 3, 5}, "Slice", func(g *build.Graph, r *rand.Rand) []string {
			return append(append(i64("st", 1)(g, r), i64("en", 4)(g, r)...), i64("ax", 1)(g, r)...)
		}), "mse", 0},
		opCase{"reducemean", after([]int64{2, 3, 4}, []int64{2, 1, 4}, "ReduceMean", nil, build.AttrInts("axes", 1)), "mse", 0},
		opCase{"reducesum", after([]int64{2, 3, 4}, []int64{2, 4}, "ReduceSum", i64("axes", 1), build.AttrInt("keepdims", 0)), "mse", 0},
		opCase{"flatten", after([]int64{2, 3, 4}, []int64{2, 12}, "Flatten", nil), "cross-entropy", 0},
		opCase{"div_broadcast", after([]int64{2, 3, 4}, []int64{2, 3, 4}, "Div", param(3, 1)), "mse", 0},
		opCase{"pow_broadcast", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 3})
			g.Initializer(randT("w", r, 1, 2, 3))
			g.Initializer(randT("p", r, 1.5, 3))
			g.Node("Mul", "sq", []string{"w", "w"}, []string{"w2"})
			g.Node("Abs", "abs", []string{"x"}, []string{"ax"})
			g.Node("Add", "pos", []string{"w2", "ax"}, []string{"h"})
			g.Node("Pow", "op", []string{"h", "p"}, []string{"y"})
			g.Output("y", f32, []int64{2, 3})
		}, "sum", 0},
		opCase{"sub_broadcast", after([]int64{2, 3, 4}, []int64{2, 3, 4}, "Sub", param(4)), "mse", 0},
		opCase{"matmul_batched", after([]int64{2, 3, 4}, []int64{2, 3, 5}, "MatMul", param(4, 5)), "mse", 0},
		opCase{"matmul_bcast", after([]int64{2, 3, 4}, []int64{2, 3, 5}, "MatMul", param(1, 4, 5)), "mse", 0},
		opCase{"gemm_trans", after([]int64{4, 3}, []int64{3, 5}, "Gemm", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(randT("B", r, 0.7, 5, 4))
			g.Initializer(randT("C", r, 0.7, 5))
			return []string{"B", "C"}
		}, build.AttrInt("transA", 1), build.AttrInt("transB", 1), build.AttrFloat("alpha", 0.7), build.AttrFloat("beta", 1.3)), "cross-entropy", 0},
		opCase{"convtranspose", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 4, 4, 4})
			g.Initializer(randT("w", r, 0.5, 4, 3, 3, 3))
			g.Initializer(randT("b", r, 0.5, 6))
			g.Node("ConvTranspose", "op", []string{"x", "w", "b"}, []string{"y"}, build.AttrInts("strides", 2, 2),
				build.AttrInts("pads", 1, 1, 0, 0), build.AttrInts("output_padding", 1, 1), build.AttrInt("group", 2))
			g.Output("y", f32, []int64{2, 6, 9, 9})
		}, "mse", 0},
		opCase{"layernorm", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 3, 6})
			g.Initializer(randT("w", r, 1, 2, 3, 6))
			g.Initializer(randT("s", r, 1, 6))
			g.Initializer(randT("b", r, 1, 6))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("LayerNormalization", "op", []string{"h", "s", "b"}, []string{"y"}, build.AttrInt("axis", -1))
			g.Output("y", f32, []int64{2, 3, 6})
		}, "mse", 0},
		opCase{"batchnorm", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{3, 4, 3, 3})
			g.Initializer(randT("w", r, 1, 3, 4, 3, 3))
			g.Initializer(randT("s", r, 1, 4))
			g.Initializer(randT("b", r, 1, 4))
			g.Initializer(build.Float32s("mean", []int64{4}, make([]float32, 4)))
			g.Initializer(build.Float32s("var", []int64{4}, []float32{1, 1, 1, 1}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("BatchNormalization", "op", []string{"h", "s", "b", "mean", "var"}, []string{"y"})
			g.Output("y", f32, []int64{3, 4, 3, 3})
		}, "mse", 0},
		opCase{"resize_linear_half_pixel", after([]int64{1, 2, 3, 4}, []int64{1, 2, 6, 7}, "Resize", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Int64s("sizes", []int64{4}, []int64{1, 2, 6, 7}))
			return []string{"", "", "sizes"}
		}, build.AttrString("mode", "linear")), "mse", 0},
		opCase{"resize_linear_align", after([]int64{1, 2, 3, 4}, []int64{1, 2, 5, 9}, "Resize", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Int64s("sizes", []int64{4}, []int64{1, 2, 5, 9}))
			return []string{"", "", "sizes"}
		}, build.AttrString("mode", "linear"), build.AttrString("coordinate_transformation_mode", "align_corners")), "mse", 0},
		opCase{"resize_nearest", after([]int64{1, 2, 3, 4}, []int64{1, 2, 6, 8}, "Resize", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Float32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
			return []string{"", "scales"}
		}, build.AttrString("mode", "nearest")), "mse", 0},
		opCase{"gather_embedding", func(g *build.Graph, r *rand.Rand) {
			g.Input("ids", onnxpb.TensorProto_INT64, []int64{2, 5})
			g.Initializer(randT("emb", r, 1, 7, 4))
			g.Node("Gather", "op", []string{"emb", "ids"}, []string{"y"})
			g.Output("y", f32, []int64{2, 5, 4})
		}, "mse", 0},
		opCase{"tan", after([]int64{2, 5}, []int64{2, 5}, "Tan", nil), "mse", 0},
		opCase{"atan", after([]int64{2, 5}, []int64{2, 5}, "Atan", nil), "mse", 0},
		opCase{"sinh", after([]int64{2, 5}, []int64{2, 5}, "Sinh", nil), "mse", 0},
		opCase{"cosh", scaledUnary("Cosh", 1, 0.5), "mse", 0},
		opCase{"asinh", after([]int64{2, 5}, []int64{2, 5}, "Asinh", nil), "mse", 0},
		opCase{"asin", scaledUnary("Asin", 0.5, 0), "mse", 0},
		opCase{"acos", scaledUnary("Acos", 0.5, 0), "mse", 0},
		opCase{"atanh", scaledUnary("Atanh", 0.5, 0), "mse", 0},
		opCase{"acosh", scaledUnary("Acosh", 0.5, 2), "mse", 0},
		opCase{"softsign", after([]int64{2, 5}, []int64{2, 5}, "Softsign", nil), "mse", 0},
		opCase{"mish_opset18", after([]int64{2, 5}, []int64{2, 5}, "Mish", nil), "mse", 18},
		opCase{"celu", after([]int64{2, 5}, []int64{2, 5}, "Celu", nil, build.AttrFloat("alpha", 0.7)), "mse", 0},
		opCase{"thresholdedrelu", after([]int64{2, 5}, []int64{2, 5}, "ThresholdedRelu", nil, build.AttrFloat("alpha", 0.2)), "mse", 0},
		opCase{"shrink", after([]int64{2, 5}, []int64{2, 5}, "Shrink", nil, build.AttrFloat("lambd", 0.2), build.AttrFloat("bias", 0.1)), "mse", 0},
		opCase{"castlike", after([]int64{2, 5}, []int64{2, 5}, "CastLike", param(1)), "mse", 0},
		opCase{"globalmaxpool", after([]int64{2, 3, 4, 4}, []int64{2, 3, 1, 1}, "GlobalMaxPool", nil), "mse", 0},
		opCase{"depthtospace_dcr", after([]int64{1, 8, 2, 3}, []int64{1, 2, 4, 6}, "DepthToSpace", nil, build.AttrInt("blocksize", 2)), "mse", 0},
		opCase{"depthtospace_crd", after([]int64{1, 8, 2, 3}, []int64{1, 2, 4, 6}, "DepthToSpace", nil, build.AttrInt("blocksize", 2), build.AttrString("mode", "CRD")), "mse", 0},
		opCase{"spacetodepth", after([]int64{1, 2, 4, 6}, []int64{1, 8, 2, 3}, "SpaceToDepth", nil, build.AttrInt("blocksize", 2)), "mse", 0},
		opCase{"reducelogsum", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 3, 4})
			g.Initializer(randT("w", r, 1, 2, 3, 4))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("Exp", "e", []string{"h"}, []string{"p"})
			g.Node("ReduceLogSum", "op", []string{"p"}, []string{"y"}, build.AttrInts("axes", 1))
			g.Output("y", f32, []int64{2, 1, 4})
		}, "mse", 0},
		opCase{"topk", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 6})
			g.Initializer(randT("w", r, 1, 2, 6))
			g.Initializer(build.Int64s("k", []int64{1}, []int64{3}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("TopK", "op", []string{"h", "k"}, []string{"y", "idx"})
			g.Output("y", f32, []int64{2, 3})
		}, "mse", 0},
		opCase{"einsum_matmul", einsum("ij,jk->ik", []int64{3, 4}, []int64{4, 5}, []int64{3, 5}), "mse", 0},
		opCase{"einsum_batched_transposed", einsum("bij,bkj->bki", []int64{2, 3, 4}, []int64{2, 5, 4}, []int64{2, 5, 3}), "mse", 0},
		opCase{"einsum_implicit", einsum("ij,jk", []int64{3, 4}, []int64{4, 5}, []int64{3, 5}), "mse", 0},
		opCase{"einsum_summed_alone", einsum("ij,k->ik", []int64{3, 4}, []int64{5}, []int64{3, 5}), "mse", 0},
		opCase{"einsum_dot", einsum("i,i->", []int64{4}, []int64{4}, []int64{}), "sum", 0},
		// A U-Net level (unetLevel; the backward forms: TestGradForms).
		opCase{"unet_level", unetLevel(2, false), "mse", 0},
		opCase{"where_concat_split", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 4})
			g.Initializer(randT("w", r, 1, 2, 4))
			g.Initializer(randT("v", r, 1, 2, 2))
			g.Initializer(build.Int64s("split", []int64{2}, []int64{1, 1}))
			g.Node("Greater", "c", []string{"x", "w"}, []string{"cond"})
			g.Node("Where", "where", []string{"cond", "w", "x"}, []string{"h"})
			g.Node("Concat", "cat", []string{"h", "v"}, []string{"hc"}, build.AttrInt("axis", 1))
			g.Node("Split", "split", []string{"hc", "split"}, []string{"a", "b"}, build.AttrInt("axis", 0))
			g.Node("Mul", "y", []string{"a", "b"}, []string{"y"})
			g.Output("y", f32, []int64{1, 6})
		}, "mse", 0},
		opCase{"dropout", after([]int64{4, 6}, []int64{4, 6}, "Dropout", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Float32s("ratio", nil, []float32{0.3}))
			return []string{"ratio"}
		}), "mse", 0},
		opCase{"abs", after([]int64{2, 5}, []int64{2, 5}, "Abs", nil), "mse", 0},
		opCase{"prelu", after([]int64{2, 3, 4}, []int64{2, 3, 4}, "PRelu", param(3, 1)), "mse", 0},
		opCase{"pad", after([]int64{2, 3}, []int64{3, 6}, "Pad", i64("pads", 1, 2, 0, 1)), "mse", 0},
		opCase{"gather_axis1", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{3, 5, 4})
			g.Initializer(randT("w", r, 1, 3, 5, 4))
			g.Initializer(build.Int64s("idx", []int64{2, 3}, []int64{4, 0, -1, 2, 2, 1}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("Gather", "op", []string{"h", "idx"}, []string{"y"}, build.AttrInt("axis", 1))
			g.Output("y", f32, []int64{3, 2, 3, 4})
		}, "mse", 0},
		opCase{"softplus", after([]int64{2, 5}, []int64{2, 5}, "Softplus", nil), "mse", 0},
		opCase{"hardswish", after([]int64{2, 5}, []int64{2, 5}, "HardSwish", nil), "mse", 0},
		opCase{"mean", after([]int64{2, 3}, []int64{2, 3}, "Mean", param(3)), "mse", 0},
		opCase{"slice_steps", after([]int64{2, 7, 6}, []int64{2, 3, 2}, "Slice", func(g *build.Graph, r *rand.Rand) []string {
			return append(append(append(i64("st", 1, -1)(g, r), i64("en", 7, 0)(g, r)...), i64("ax", 1, 2)(g, r)...), i64("steps", 2, -3)(g, r)...)
		}), "mse", 0},
		opCase{"instancenorm", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 3, 4, 5})
			g.Initializer(randT("w", r, 1, 2, 3, 4, 5))
			g.Initializer(randT("s", r, 1, 3))
			g.Initializer(randT("b", r, 1, 3))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("InstanceNormalization", "op", []string{"h", "s", "b"}, []string{"y"})
			g.Output("y", f32, []int64{2, 3, 4, 5})
		}, "mse", 0},
		opCase{"matmul_vec_left", after([]int64{4}, []int64{2, 5}, "MatMul", param(2, 4, 5)), "mse", 0},
		opCase{"matmul_vec_right", after([]int64{2, 3, 4}, []int64{2, 3}, "MatMul", param(4)), "mse", 0},
		opCase{"elu", after([]int64{2, 5}, []int64{2, 5}, "Elu", nil, build.AttrFloat("alpha", 0.8)), "mse", 0},
		opCase{"selu", after([]int64{2, 5}, []int64{2, 5}, "Selu", nil), "mse", 0},
		opCase{"max_broadcast", after([]int64{2, 3}, []int64{2, 3}, "Max", param(3)), "mse", 0},
		opCase{"min", after([]int64{2, 3}, []int64{2, 3}, "Min", param(2, 3)), "mse", 0},
		opCase{"tile", after([]int64{2, 3}, []int64{4, 9}, "Tile", i64("reps", 2, 3)), "mse", 0},
		opCase{"reducemax", after([]int64{2, 3, 4}, []int64{2, 4}, "ReduceMax", nil, build.AttrInts("axes", 1), build.AttrInt("keepdims", 0)), "mse", 0},
		opCase{"reducemin", after([]int64{2, 3, 4}, []int64{2, 1, 1}, "ReduceMin", nil, build.AttrInts("axes", 1, 2)), "mse", 0},
		opCase{"reducesumsquare", after([]int64{2, 3, 4}, []int64{2, 1, 4}, "ReduceSumSquare", nil, build.AttrInts("axes", 1)), "mse", 0},
		opCase{"reducel1", after([]int64{2, 3, 4}, []int64{2, 4}, "ReduceL1", nil, build.AttrInts("axes", 1), build.AttrInt("keepdims", 0)), "mse", 0},
		opCase{"reducel2", after([]int64{2, 3, 4}, []int64{2, 1, 4}, "ReduceL2", nil, build.AttrInts("axes", 1)), "mse", 0},
		opCase{"reducelogsumexp", after([]int64{2, 3, 4}, []int64{1, 1, 1}, "ReduceLogSumExp", nil), "mse", 0},
		opCase{"gatherelements", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{3, 4})
			g.Initializer(randT("w", r, 1, 3, 4))
			g.Initializer(build.Int64s("idx", []int64{2, 4}, []int64{0, 2, 2, 1, 1, 0, 2, 2}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("GatherElements", "op", []string{"h", "idx"}, []string{"y"}, build.AttrInt("axis", 0))
			g.Output("y", f32, []int64{2, 4})
		}, "mse", 0},
		opCase{"nll_loss_in_model", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{3, 5})
			g.Initializer(randT("w", r, 1, 3, 5))
			g.Initializer(build.Int64s("t", []int64{3}, []int64{4, 0, 2}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("LogSoftmax", "ls", []string{"h"}, []string{"lp"}, build.AttrInt("axis", 1))
			g.Node("NegativeLogLikelihoodLoss", "op", []string{"lp", "t"}, []string{"y"})
			g.Output("y", f32, []int64{})
		}, "sum", 0},
		opCase{"pad_reflect", after([]int64{2, 4}, []int64{4, 9}, "Pad", i64("pads", 1, 2, 1, 3), build.AttrString("mode", "reflect")), "mse", 0},
		opCase{"pad_edge", after([]int64{2, 4}, []int64{5, 7}, "Pad", i64("pads", 2, 1, 1, 2), build.AttrString("mode", "edge")), "mse", 0},
		opCase{"cumsum_exclusive", after([]int64{2, 5}, []int64{2, 5}, "CumSum", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Int64s("axis", nil, []int64{1}))
			return []string{"axis"}
		}, build.AttrInt("exclusive", 1)), "mse", 0},
		opCase{"sin_cos", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 5})
			g.Initializer(randT("w", r, 2, 2, 5))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("Sin", "sin", []string{"h"}, []string{"s"})
			g.Node("Cos", "cos", []string{"h"}, []string{"c"})
			g.Node("Mul", "op", []string{"s", "c"}, []string{"y"})
			g.Output("y", f32, []int64{2, 5})
		}, "mse", 0},
		opCase{"trilu_lower_k", after([]int64{2, 4, 4}, []int64{2, 4, 4}, "Trilu", func(g *build.Graph, r *rand.Rand) []string {
			g.Initializer(build.Int64s("k", nil, []int64{1}))
			return []string{"k"}
		}, build.AttrInt("upper", 0)), "mse", 0},
		opCase{"misc_elementwise", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 6})
			g.Initializer(randT("w", r, 1, 2, 6))
			g.Initializer(build.Float32s("one", nil, []float32{1}))
			g.Initializer(build.Int64s("shape", []int64{3}, []int64{3, 2, 2}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("Relu", "relu", []string{"h"}, []string{"r"})
			g.Node("Exp", "exp", []string{"h"}, []string{"e"})
			g.Node("Add", "add", []string{"e", "one"}, []string{"e1"})
			g.Node("Log", "log", []string{"e1"}, []string{"l"})
			g.Node("Reciprocal", "rec", []string{"e1"}, []string{"q"})
			g.Node("Neg", "neg", []string{"q"}, []string{"nq"})
			g.Node("Identity", "id", []string{"nq"}, []string{"i"})
			g.Node("Cast", "to_double", []string{"i"}, []string{"d"}, build.AttrInt("to", int64(onnxpb.TensorProto_DOUBLE)))
			g.Node("Cast", "to_float", []string{"d"}, []string{"f"}, build.AttrInt("to", int64(onnxpb.TensorProto_FLOAT)))
			g.Node("Sum", "sum", []string{"r", "l", "f"}, []string{"s"})
			g.Node("Reshape", "op", []string{"s", "shape"}, []string{"y"})
			g.Output("y", f32, []int64{3, 2, 2})
		}, "mse", 0},
		opCase{"gelu_opset20", after([]int64{2, 5}, []int64{2, 5}, "Gelu", nil), "mse", 20},
		opCase{"gelu_tanh_opset20", after([]int64{2, 5}, []int64{2, 5}, "Gelu", nil, build.AttrString("approximate", "tanh")), "mse", 20},
		opCase{"clip_squeeze_expand", func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, []int64{2, 1, 3})
			g.Initializer(randT("w", r, 1, 2, 1, 3))
			g.Initializer(build.Float32s("lo", nil, []float32{-0.3}))
			g.Initializer(build.Float32s("hi", nil, []float32{0.4}))
			g.Initializer(build.Int64s("ax", []int64{1}, []int64{1}))
			g.Initializer(build.Int64s("shape", []int64{3}, []int64{2, 4, 3}))
			g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
			g.Node("Clip", "clip", []string{"h", "lo", "hi"}, []string{"c"})
			g.Node("Squeeze", "sq", []string{"c", "ax"}, []string{"s"})
			g.Node("Unsqueeze", "unsq", []string{"s", "ax"}, []string{"u"})
			g.Node("Expand", "op", []string{"u", "shape"}, []string{"y"})
			g.Output("y", f32, []int64{2, 4, 3})
		}, "mse", 0},
	)
	// Every gradient rule is exercised here (loss ops through the losses).
	covered := map[string]bool{"SoftmaxCrossEntropyLoss": true}
	for _, c := range cases {
		g := build.New(c.name)
		c.make(g, rand.New(rand.NewPCG(1, 2)))
		for _, n := range g.G.Node {
			covered[n.GetOpType()] = true
		}
	}
	for _, op := range autodiff.Supported() {
		if !covered[op] && !autodiff.GradientFree(op) {
			t.Errorf("gradient rule of %s has no case in TestOps", op)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, 3) })
	}
}
