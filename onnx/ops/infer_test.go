package ops

import (
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

const (
	f32 = onnxpb.TensorProto_FLOAT
	i64 = onnxpb.TensorProto_INT64
)

// elemOnly declares a value with an element type and no shape.
func elemOnly(name string, elem onnxpb.TensorProto_DataType) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem))}}}}
}

func model(b *build.Graph, opset int64, extra ...*onnxpb.OperatorSetIdProto) *onnx.Model {
	return &onnx.Model{Proto: build.Model(b.G, opset, extra...)}
}

func mustInfer(t *testing.T, m *onnx.Model, opt Options) *Result {
	t.Helper()
	r, err := Infer(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantDims(t *testing.T, r *Result, name string, want ...int64) {
	t.Helper()
	got, ok := r.Values[name]
	if !ok {
		t.Fatalf("%s: not inferred", name)
	}
	if got.Rank != len(want) || !equalDims(got.Dims, want) {
		t.Errorf("%s: got %v, want dims %v", name, got, want)
	}
}

// pytorchReshape builds the Shape→Gather→Unsqueeze→Concat→Reshape chain
// PyTorch exports for x.view(x.size(0), -1), with a symbolic batch "N".
func pytorchReshape(opset int64) *onnx.Model {
	b := build.New("g")
	b.Input("x", f32, []int64{-1, 3, 4, 4}, "N")
	b.Initializer(build.Int64s("zero", nil, []int64{0}))
	b.Initializer(build.Int64s("minus1", []int64{1}, []int64{-1}))
	b.Initializer(build.Int64s("axes0", []int64{1}, []int64{0}))
	b.Op("Shape", "s", []string{"x"})
	b.Op("Gather", "n", []string{"s", "zero"}, build.AttrInt("axis", 0))
	if opset >= 13 {
		b.Op("Unsqueeze", "n1", []string{"n", "axes0"})
	} else {
		b.Op("Unsqueeze", "n1", []string{"n"}, build.AttrInts("axes", 0))
	}
	b.Op("Concat", "shape", []string{"n1", "minus1"}, build.AttrInt("axis", 0))
	b.Op("Reshape", "y", []string{"x", "shape"})
	b.G.Output = append(b.G.Output, elemOnly("y", f32))
	return model(b, opset)
}

func TestFoldShapeArithmetic(t *testing.T) {
	for _, opset := range []int64{11, 13, 17} {
		m := pytorchReshape(opset)
		r := mustInfer(t, m, Options{Batch: 2})
		if len(r.Warnings) > 0 {
			t.Errorf("warnings: %v", r.Warnings)
		}
		wantDims(t, r, "y", 2, 48)
		if k := r.Consts["shape"]; k == nil || !equalDims(k.Ints, []int64{2, -1}) {
			t.Errorf("opset %d: shape const = %+v", opset, k)
		}
		r = mustInfer(t, m, Options{Dims: map[string]int64{"N": 5}})
		wantDims(t, r, "y", 5, 48)
		// Unbound: the rank is still known from the shape vector's length.
		r = mustInfer(t, m, Options{})
		wantDims(t, r, "y", -1, -1)
		if b, ok := r.Values["y"].Bytes(); ok {
			t.Errorf("unbound batch: bytes %d should be unknown", b)
		}
	}
}

func TestSymbolicDims(t *testing.T) {
	b := build.New("g")
	b.Input("x", f32, []int64{-1, -1, 8}, "batch", "seq")
	b.Input("m", f32, []int64{-1, 8}, "")
	b.Op("Relu", "y", []string{"x"})
	b.Op("Relu", "z", []string{"m"})
	m := model(b, 17)
	cases := []struct {
		opt  Options
		y, z []int64
	}{
		{Options{}, []int64{-1, -1, 8}, []int64{-1, 8}},
		{Options{Batch: 4}, []int64{4, -1, 8}, []int64{4, 8}},
		{Options{Batch: 4, Dims: map[string]int64{"seq": 16}}, []int64{4, 16, 8}, []int64{4, 8}},
		{Options{Batch: 4, Dims: map[string]int64{"batch": 3, "seq": 16}}, []int64{3, 16, 8}, []int64{4, 8}},
	}
	for _, c := range cases {
		r := mustInfer(t, m, c.opt)
		wantDims(t, r, "y", c.y...)
		wantDims(t, r, "z", c.z...)
	}
	r := mustInfer(t, m, Options{Batch: 4, Dims: map[string]int64{"seq": 16}})
	if n, ok := r.Values["y"].Bytes(); !ok || n != 4*16*8*4 {
		t.Errorf("bytes of y = %d %v", n, ok)
	}
}

func TestOpsetVariants(t *testing.T) {
	type tc struct {
		name  string
		opset int64
		build func(b *build.Graph)
		out   string
		want  []int64
	}
	cases := []tc{
		{"Squeeze attr", 11, func(b *build.Graph) {
			b.Op("Squeeze", "y", []string{"x"}, build.AttrInts("axes", 1))
		}, "y", []int64{2, 4, 5}},
		{"Squeeze input", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("ax", []int64{1}, []int64{-3}))
			b.Op("Squeeze", "y", []string{"x", "ax"})
		}, "y", []int64{2, 4, 5}},
		{"ReduceSum attr", 11, func(b *build.Graph) {
			b.Op("ReduceSum", "y", []string{"x"}, build.AttrInts("axes", 2, 3), build.AttrInt("keepdims", 0))
		}, "y", []int64{2, 1}},
		{"ReduceSum input", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("ax", []int64{2}, []int64{2, 3}))
			b.Op("ReduceSum", "y", []string{"x", "ax"})
		}, "y", []int64{2, 1, 1, 1}},
		{"ReduceMean attr at 17", 17, func(b *build.Graph) {
			b.Op("ReduceMean", "y", []string{"x"}, build.AttrInts("axes", -1))
		}, "y", []int64{2, 1, 4, 1}},
		{"ReduceMean input at 18", 18, func(b *build.Graph) {
			b.Initializer(build.Int64s("ax", []int64{1}, []int64{-1}))
			b.Op("ReduceMean", "y", []string{"x", "ax"}, build.AttrInt("keepdims", 0))
		}, "y", []int64{2, 1, 4}},
		{"Split attr", 11, func(b *build.Graph) {
			b.Node("Split", "s", []string{"x"}, []string{"y", "y2"}, build.AttrInt("axis", 2), build.AttrInts("split", 1, 3))
		}, "y2", []int64{2, 1, 3, 5}},
		{"Split input", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("sp", []int64{2}, []int64{1, 3}))
			b.Node("Split", "s", []string{"x", "sp"}, []string{"y", "y2"}, build.AttrInt("axis", 2))
		}, "y2", []int64{2, 1, 3, 5}},
		{"Split num_outputs", 18, func(b *build.Graph) {
			b.Node("Split", "s", []string{"x"}, []string{"y", "y2"}, build.AttrInt("axis", 3), build.AttrInt("num_outputs", 2))
		}, "y2", []int64{2, 1, 4, 2}},
		{"Slice attrs", 9, func(b *build.Graph) {
			b.Op("Slice", "y", []string{"x"}, build.AttrInts("starts", 1), build.AttrInts("ends", 1000), build.AttrInts("axes", 3))
		}, "y", []int64{2, 1, 4, 4}},
		{"Slice inputs with step", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("st", []int64{1}, []int64{-1}))
			b.Initializer(build.Int64s("en", []int64{1}, []int64{-1000}))
			b.Initializer(build.Int64s("ax", []int64{1}, []int64{3}))
			b.Initializer(build.Int64s("sp", []int64{1}, []int64{-2}))
			b.Op("Slice", "y", []string{"x", "st", "en", "ax", "sp"})
		}, "y", []int64{2, 1, 4, 3}},
		{"Clip inputs", 13, func(b *build.Graph) {
			b.Initializer(build.Float32s("lo", nil, []float32{0}))
			b.Op("Clip", "y", []string{"x", "lo", ""})
		}, "y", []int64{2, 1, 4, 5}},
		{"Resize scales", 13, func(b *build.Graph) {
			b.Initializer(build.Float32s("sc", []int64{4}, []float32{1, 1, 2, 2}))
			b.Op("Resize", "y", []string{"x", "", "sc"})
		}, "y", []int64{2, 1, 8, 10}},
		{"Resize sizes", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("sz", []int64{4}, []int64{2, 1, 7, 9}))
			b.Op("Resize", "y", []string{"x", "", "", "sz"})
		}, "y", []int64{2, 1, 7, 9}},
		{"Resize scales with empty sizes", 11, func(b *build.Graph) {
			b.Initializer(build.Float32s("roi", []int64{0}, nil))
			b.Initializer(build.Float32s("sc", []int64{4}, []float32{1, 1, 0.5, 0.4}))
			b.Initializer(build.Int64s("sz", []int64{0}, nil))
			b.Op("Resize", "y", []string{"x", "roi", "sc", "sz"})
		}, "y", []int64{2, 1, 2, 2}},
		{"Resize sizes with empty scales", 13, func(b *build.Graph) {
			b.Initializer(build.Float32s("sc", []int64{0}, nil))
			b.Initializer(build.Int64s("sz", []int64{4}, []int64{2, 1, 3, 3}))
			b.Op("Resize", "y", []string{"x", "", "sc", "sz"})
		}, "y", []int64{2, 1, 3, 3}},
		{"Upsample opset 9", 9, func(b *build.Graph) {
			b.Initializer(build.Float32s("sc", []int64{4}, []float32{1, 1, 2, 3}))
			b.Op("Upsample", "y", []string{"x", "sc"})
		}, "y", []int64{2, 1, 8, 15}},
		{"Pad input", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("p", []int64{8}, []int64{0, 0, 1, 2, 0, 0, 3, 4}))
			b.Op("Pad", "y", []string{"x", "p"})
		}, "y", []int64{2, 1, 8, 11}},
		{"Pad attr", 10, func(b *build.Graph) {
			b.Op("Pad", "y", []string{"x"}, build.AttrInts("pads", 0, 0, 1, 2, 0, 0, 3, 4))
		}, "y", []int64{2, 1, 8, 11}},
		{"Expand from ConstantOfShape", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("r", []int64{1}, []int64{5}))
			b.Op("ConstantOfShape", "ones", []string{"r"}, build.AttrTensor("value", build.Int64s("v", []int64{1}, []int64{1})))
			b.Op("Expand", "y", []string{"x", "ones"})
		}, "y", []int64{1, 2, 1, 4, 5}},
		{"MaxPool ceil", 13, func(b *build.Graph) {
			b.Op("MaxPool", "y", []string{"x"}, build.AttrInts("kernel_shape", 2, 2), build.AttrInts("strides", 2, 2), build.AttrInt("ceil_mode", 1))
		}, "y", []int64{2, 1, 2, 3}},
		// A window that would start in the right padding is dropped (PyTorch,
		// ONNX 1.16+ spec text and current ONNX Runtime; onnx 1.12's shape
		// inference still says 3 here).
		{"MaxPool ceil drops a window in the padding", 13, func(b *build.Graph) {
			b.Op("MaxPool", "y", []string{"x"}, build.AttrInts("kernel_shape", 1, 1), build.AttrInts("strides", 1, 3),
				build.AttrInts("pads", 0, 0, 0, 2), build.AttrInt("ceil_mode", 1))
		}, "y", []int64{2, 1, 4, 2}},
		{"Conv SAME_UPPER stride 2", 13, func(b *build.Graph) {
			b.Initializer(build.Float32s("w", []int64{6, 1, 3, 3}, make([]float32, 54)))
			b.Op("Conv", "y", []string{"x", "w"}, build.AttrString("auto_pad", "SAME_UPPER"), build.AttrInts("strides", 2, 2))
		}, "y", []int64{2, 6, 2, 3}},
		{"ConvTranspose", 13, func(b *build.Graph) {
			b.Initializer(build.Float32s("w", []int64{1, 3, 2, 2}, make([]float32, 12)))
			b.Op("ConvTranspose", "y", []string{"x", "w"}, build.AttrInts("strides", 2, 2))
		}, "y", []int64{2, 3, 8, 10}},
		{"Range folded", 13, func(b *build.Graph) {
			b.Initializer(build.Int64s("a", nil, []int64{1}))
			b.Initializer(build.Int64s("l", nil, []int64{10}))
			b.Initializer(build.Int64s("d", nil, []int64{3}))
			b.Op("Range", "y", []string{"a", "l", "d"})
		}, "y", []int64{3}},
		{"Einsum explicit", 13, func(b *build.Graph) {
			b.Input("w", f32, []int64{2, 1, 5, 7})
			b.Op("Einsum", "y", []string{"x", "w"}, build.AttrString("equation", "abij,abjk->abik"))
		}, "y", []int64{2, 1, 4, 7}},
		{"Einsum ellipsis implicit", 13, func(b *build.Graph) {
			b.Input("w", f32, []int64{5, 3})
			b.Op("Einsum", "y", []string{"x", "w"}, build.AttrString("equation", "...ij,jk"))
		}, "y", []int64{2, 1, 4, 3}},
		{"Trilu", 14, func(b *build.Graph) {
			b.Op("Trilu", "y", []string{"x"})
		}, "y", []int64{2, 1, 4, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := build.New("g")
			b.Input("x", f32, []int64{2, 1, 4, 5})
			c.build(b)
			r := mustInfer(t, model(b, c.opset), Options{})
			if len(r.Warnings) > 0 {
				t.Errorf("warnings: %v", r.Warnings)
			}
			wantDims(t, r, c.out, c.want...)
		})
	}
}

func TestUnknownOpFallsBack(t *testing.T) {
	b := build.New("g")
	b.Input("x", f32, []int64{2, 3})
	n := b.Node("Frobnicate", "f", []string{"x"}, []string{"u", "v"})
	n.Domain = proto.String("custom.domain")
	b.Op("Relu", "y", []string{"u"})
	b.Op("Relu", "w", []string{"v"})
	b.G.ValueInfo = append(b.G.ValueInfo, build.ValueInfo("u", f32, []int64{7, 3}))
	r := mustInfer(t, model(b, 17), Options{})
	if strings.Join(r.Unknown, ",") != "custom.domain:Frobnicate" {
		t.Errorf("Unknown = %v", r.Unknown)
	}
	wantDims(t, r, "u", 7, 3)
	wantDims(t, r, "y", 7, 3) // downstream of value_info
	if r.Values["w"].Rank != -1 {
		t.Errorf("w = %v, want unknown", r.Values["w"])
	}
	if _, ok := r.Values["w"].Bytes(); ok {
		t.Errorf("w has a size")
	}
	if FLOPs(n, r) != defaultFLOPs || Recomputable(n) {
		t.Errorf("unknown op: FLOPs %v Recomputable %v", FLOPs(n, r), Recomputable(n))
	}
}

// A rule that cannot work (here a broadcast conflict) warns and falls back;
// inference goes on.
func TestBadNodeWarns(t *testing.T) {
	b := build.New("g")
	b.Input("a", f32, []int64{2, 3})
	b.Input("b", f32, []int64{4, 3})
	b.Op("Add", "y", []string{"a", "b"})
	b.Op("Relu", "z", []string{"a"})
	r := mustInfer(t, model(b, 17), Options{})
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "broadcast") {
		t.Errorf("warnings = %v", r.Warnings)
	}
	wantDims(t, r, "z", 2, 3)
	if _, err := Infer(&onnx.Model{Proto: &onnxpb.ModelProto{}}, Options{}); err == nil {
		t.Error("model without graph: want error")
	}
}

func TestFLOPs(t *testing.T) {
	b := build.New("g")
	b.Input("x", f32, []int64{1, 3, 32, 32})
	b.Initializer(build.Float32s("w", []int64{6, 3, 5, 5}, make([]float32, 450)))
	b.Input("a", f32, []int64{1, 400})
	b.Input("fw", f32, []int64{120, 400})
	b.Input("m1", f32, []int64{8, 16, 32})
	b.Input("m2", f32, []int64{32, 64})
	conv := b.Node("Conv", "c", []string{"x", "w"}, []string{"y"})
	gemm := b.Node("Gemm", "g", []string{"a", "fw"}, []string{"h"}, build.AttrInt("transB", 1))
	mm := b.Node("MatMul", "mm", []string{"m1", "m2"}, []string{"o"})
	relu := b.Node("Relu", "r", []string{"y"}, []string{"ry"})
	shape := b.Node("Shape", "s", []string{"y"}, []string{"sy"})
	r := mustInfer(t, model(b, 17), Options{})
	cases := []struct {
		n    *onnxpb.NodeProto
		want float64
	}{
		{conv, 2 * (6 * 28 * 28) * (3 * 5 * 5)},
		{gemm, 2 * 120 * 400},
		{mm, 2 * (8 * 16 * 64) * 32},
		{relu, 6 * 28 * 28},
		{shape, defaultFLOPs},
	}
	for _, c := range cases {
		if got := FLOPs(c.n, r); got != c.want {
			t.Errorf("%s: FLOPs %v, want %v", c.n.GetOpType(), got, c.want)
		}
	}
	if got := FLOPs(conv, nil); got != defaultFLOPs {
		t.Errorf("FLOPs without result = %v", got)
	}
}

func node(op, domain string, inputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Domain: proto.String(domain), Input: inputs, Output: []string{"y"}, Attribute: attrs}
}

func TestRecomputableAndGradient(t *testing.T) {
	body := &onnxpb.AttributeProto{Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: &onnxpb.GraphProto{}}
	cases := []struct {
		n             *onnxpb.NodeProto
		recompute, gr bool
	}{
		{node("Relu", "", []string{"x"}), true, false},
		{node("Conv", "", []string{"x", "w"}), true, false},
		{node("Dropout", "", []string{"x"}), true, false},
		{node("Dropout", "", []string{"x", "r", "train"}), false, false},
		{node("Dropout", "", []string{"x"}, build.AttrFloat("ratio", 0.5)), false, false},
		{node("Dropout", "", []string{"x"}, build.AttrFloat("ratio", 0.5), build.AttrInt("is_test", 1)), true, false},
		{node("RandomNormalLike", "", []string{"x"}), false, false},
		{node("If", "", []string{"c"}, body), false, false},
		{node("Frobnicate", "x", []string{"x"}), false, false},
		{node("ReluGrad", "com.microsoft", []string{"dy", "x"}), true, true},
		{node("ConvGrad", "com.microsoft", []string{"dy", "x", "w"}), true, true},
		{node("MaxPoolGrad", "", []string{"dy", "i"}), true, true},
		{node("SoftmaxCrossEntropyLossGrad", "com.microsoft", []string{"dy", "lp", "l"}), true, true},
		{node("InPlaceAccumulatorV2", "com.microsoft", []string{"b", "g"}), false, true},
		{node("Scale", "com.microsoft", []string{"x", "s"}), true, false},
		{node("Gradient", "ai.onnx.preview.training", []string{"x"}), false, true},
	}
	for _, c := range cases {
		if got := Recomputable(c.n); got != c.recompute {
			t.Errorf("Recomputable(%s %v) = %v", OpKey(c.n), c.n.GetInput(), got)
		}
		if got := IsGradientOp(c.n); got != c.gr {
			t.Errorf("IsGradientOp(%s) = %v", OpKey(c.n), got)
		}
	}
}

// autodiffLike is a tiny standard-op training graph as autodiff emits it:
// the first output is "loss", parameters are initializers.
func autodiffLike() *onnx.Model {
	b := build.New("g")
	b.Input("x", f32, []int64{4, 8})
	b.Initializer(build.Float32s("w", []int64{8, 2}, make([]float32, 16)))
	b.Op("MatMul", "h", []string{"x", "w"})
	b.Op("Relu", "r", []string{"h"})
	b.Op("ReduceMean", "loss", []string{"r"}, build.AttrInt("keepdims", 0))
	b.Op("Shape", "rs", []string{"r"})
	b.Initializer(build.Float32s("one", nil, []float32{1}))
	b.Op("Expand", "dr", []string{"one", "rs"})
	b.Op("Greater", "mask", []string{"h", "zero"})
	b.Initializer(build.Float32s("zero", nil, []float32{0}))
	b.Op("Where", "dh", []string{"mask", "dr", "zero"})
	b.Op("Transpose", "xt", []string{"x"})
	b.Op("MatMul", "w_grad", []string{"xt", "dh"})
	b.Output("loss", f32, []int64{})
	b.Output("w_grad", f32, []int64{8, 2})
	return model(b, 17)
}

func TestSplitTrainingStandardOps(t *testing.T) {
	m := autodiffLike()
	s, err := SplitTraining(m, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Loss) != 1 || s.Loss[0] != "loss" || s.NumForward != 3 || s.NumBackward != 6 {
		t.Errorf("split = %+v", s)
	}
	for i, want := range []bool{true, true, true, false, false, false, false, false, false} {
		if s.Forward[i] != want {
			t.Errorf("node %d forward = %v", i, s.Forward[i])
		}
	}
	// Naming the loss gives the same split; naming an intermediate value moves the cut.
	s2, err := SplitTraining(m, nil, "h")
	if err != nil || s2.NumForward != 1 {
		t.Errorf("loss h: %+v %v", s2, err)
	}
	if _, err := SplitTraining(m, nil, "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown loss: %v", err)
	}
	// Every node is an ancestor of the last one: nothing left for backward.
	fb := build.New("f")
	fb.Input("x", f32, []int64{4})
	fb.Op("Relu", "a", []string{"x"})
	fb.Op("ReduceSum", "s", []string{"a"}, build.AttrInt("keepdims", 0))
	fb.Output("s", f32, []int64{})
	fwd := model(fb, 17)
	for _, loss := range []string{"s", ""} {
		if _, err := SplitTraining(fwd, nil, loss); err == nil || !strings.Contains(err.Error(), "no backward part") {
			t.Errorf("forward-only model, loss %q: %v", loss, err)
		}
	}
	v, err := onnx.NewView(m.Proto.GetGraph())
	if err != nil {
		t.Fatal(err)
	}
	s3, err := SplitTraining(m, v, "")
	if err != nil || s3.NumForward != s.NumForward {
		t.Errorf("with view: %+v %v", s3, err)
	}
}

func TestIfBranches(t *testing.T) {
	branch := func(op string, in []string, elem onnxpb.TensorProto_DataType) *onnxpb.GraphProto {
		g := build.New("branch")
		g.Op(op, "out_"+op, in)
		g.G.Output = append(g.G.Output, elemOnly("out_"+op, elem))
		return g.G
	}
	for _, c := range []struct {
		name      string
		then, els *onnxpb.GraphProto
		cond      *onnxpb.TensorProto
		want      []int64
	}{
		{"same shapes", branch("Relu", []string{"x"}, f32), branch("Neg", []string{"x"}, f32), nil, []int64{2, 3}},
		{"different shapes", branch("Relu", []string{"x"}, f32), branch("Transpose", []string{"x"}, f32), nil, []int64{-1, -1}},
		{"constant condition", branch("Relu", []string{"x"}, f32), branch("Transpose", []string{"x"}, f32),
			build.Int64s("c", nil, []int64{0}), []int64{3, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := build.New("g")
			b.Input("x", f32, []int64{2, 3})
			if c.cond != nil {
				c.cond.DataType = proto.Int32(int32(onnxpb.TensorProto_BOOL))
				c.cond.RawData = []byte{0}
				b.Initializer(c.cond)
			} else {
				b.Input("c", onnxpb.TensorProto_BOOL, []int64{})
			}
			ifn := b.Node("If", "if", []string{"c"}, []string{"y"},
				&onnxpb.AttributeProto{Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: c.then},
				&onnxpb.AttributeProto{Name: proto.String("else_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: c.els})
			b.Op("Relu", "z", []string{"y"})
			r := mustInfer(t, model(b, 17), Options{})
			if len(r.Warnings) > 0 || len(r.Unknown) > 0 {
				t.Errorf("warnings %v unknown %v", r.Warnings, r.Unknown)
			}
			wantDims(t, r, "z", c.want...)
			if r.Values["z"].Elem != f32 {
				t.Errorf("elem %v", r.Values["z"].Elem)
			}
			if Recomputable(ifn) {
				t.Error("If is recomputable")
			}
		})
	}
}

// TestLoop: a Loop with a constant trip count and no condition stacks its
// scan output along a new leading axis; loop-carried values keep their type.
func TestLoop(t *testing.T) {
	m := loopModel()
	loop := m.Proto.GetGraph().GetNode()[0]
	r := mustInfer(t, m, Options{})
	if len(r.Warnings) > 0 || len(r.Unknown) > 0 {
		t.Errorf("warnings %v unknown %v", r.Warnings, r.Unknown)
	}
	wantDims(t, r, "acc", 2, 3)
	wantDims(t, r, "steps", 5, 2, 3)
	if Recomputable(loop) {
		t.Error("Loop is recomputable")
	}
}

func loopModel() *onnx.Model {
	body := build.New("body")
	body.Input("i", i64, []int64{})
	body.Input("cond_in", onnxpb.TensorProto_BOOL, []int64{})
	body.G.Input = append(body.G.Input, elemOnly("acc_in", f32))
	body.Op("Identity", "cond_out", []string{"cond_in"})
	body.Op("Add", "acc_out", []string{"acc_in", "x"}) // x from the enclosing graph
	body.Op("Relu", "step", []string{"acc_out"})
	for _, o := range []string{"cond_out", "acc_out", "step"} {
		body.G.Output = append(body.G.Output, elemOnly(o, f32))
	}
	body.G.Output[0] = elemOnly("cond_out", onnxpb.TensorProto_BOOL)
	b := build.New("g")
	b.Input("x", f32, []int64{2, 3})
	b.Initializer(build.Int64s("M", nil, []int64{5}))
	b.Node("Loop", "loop", []string{"M", "", "x"}, []string{"acc", "steps"},
		&onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: body.G})
	return model(b, 17)
}

func TestUnknownDefaultDomainName(t *testing.T) {
	b := build.New("g")
	b.Input("x", f32, []int64{2})
	b.Op("NoSuchOp", "y", []string{"x"})
	r := mustInfer(t, model(b, 17), Options{})
	if len(r.Unknown) != 1 || r.Unknown[0] != "NoSuchOp" {
		t.Errorf("Unknown = %q", r.Unknown)
	}
}
