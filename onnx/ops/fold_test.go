package ops

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// foldOne runs one node on constant inputs and returns the folded output.
func foldOne(t *testing.T, opset int64, op string, inputs []*onnxpb.TensorProto, attrs ...*onnxpb.AttributeProto) *Const {
	t.Helper()
	b := build.New("g")
	var names []string
	for _, in := range inputs {
		if in == nil {
			names = append(names, "")
			continue
		}
		b.Initializer(in)
		names = append(names, in.GetName())
	}
	b.Op(op, "y", names, attrs...)
	r := mustInfer(t, model(b, opset), Options{})
	if len(r.Warnings) > 0 {
		t.Fatalf("%s: warnings %v", op, r.Warnings)
	}
	return r.Consts["y"]
}

func ints(name string, v ...int64) *onnxpb.TensorProto {
	return build.Int64s(name, []int64{int64(len(v))}, v)
}

func scalar(name string, v int64) *onnxpb.TensorProto { return build.Int64s(name, nil, []int64{v}) }

func TestFoldInts(t *testing.T) {
	cases := []struct {
		name  string
		opset int64
		op    string
		in    []*onnxpb.TensorProto
		attrs []*onnxpb.AttributeProto
		want  []int64
		dims  []int64
	}{
		{"Div truncates", 13, "Div", []*onnxpb.TensorProto{ints("a", 7, -7), scalar("b", 2)}, nil, []int64{3, -3}, []int64{2}},
		{"Mod python sign", 13, "Mod", []*onnxpb.TensorProto{ints("a", 7, -7), scalar("b", 3)}, nil, []int64{1, 2}, []int64{2}},
		{"Mod fmod", 13, "Mod", []*onnxpb.TensorProto{ints("a", 7, -7), scalar("b", 3)}, []*onnxpb.AttributeProto{build.AttrInt("fmod", 1)}, []int64{1, -1}, []int64{2}},
		{"Mul broadcast", 13, "Mul", []*onnxpb.TensorProto{ints("a", 1, 2, 3), scalar("b", -2)}, nil, []int64{-2, -4, -6}, []int64{3}},
		{"Gather negative", 13, "Gather", []*onnxpb.TensorProto{ints("a", 10, 20, 30), ints("i", -1, 0)}, nil, []int64{30, 10}, []int64{2}},
		{"Gather scalar index", 13, "Gather", []*onnxpb.TensorProto{ints("a", 10, 20, 30), scalar("i", 1)}, nil, []int64{20}, []int64{}},
		{"Slice reverse", 13, "Slice", []*onnxpb.TensorProto{ints("a", 1, 2, 3, 4, 5), ints("s", -1), ints("e", -6), ints("ax", 0), ints("st", -2)}, nil, []int64{5, 3, 1}, []int64{3}},
		{"Concat", 13, "Concat", []*onnxpb.TensorProto{ints("a", 1), ints("b", 2, 3)}, []*onnxpb.AttributeProto{build.AttrInt("axis", 0)}, []int64{1, 2, 3}, []int64{3}},
		{"Equal", 13, "Equal", []*onnxpb.TensorProto{ints("a", 1, 2), ints("b", 1, 3)}, nil, []int64{1, 0}, []int64{2}},
		{"Where", 13, "Where", []*onnxpb.TensorProto{ints("c", 1, 0), ints("a", 5, 6), scalar("b", 9)}, nil, []int64{5, 9}, []int64{2}},
		{"Range", 13, "Range", []*onnxpb.TensorProto{scalar("a", 5), scalar("l", 0), scalar("d", -2)}, nil, []int64{5, 3, 1}, []int64{3}},
		{"ReduceProd", 13, "ReduceProd", []*onnxpb.TensorProto{ints("a", 2, 3, 4)}, []*onnxpb.AttributeProto{build.AttrInt("keepdims", 0)}, []int64{24}, []int64{}},
		{"Unsqueeze", 13, "Unsqueeze", []*onnxpb.TensorProto{scalar("a", 7), ints("ax", 0)}, nil, []int64{7}, []int64{1}},
		{"Squeeze", 13, "Squeeze", []*onnxpb.TensorProto{ints("a", 7)}, nil, []int64{7}, []int64{}},
		{"Max variadic", 13, "Max", []*onnxpb.TensorProto{ints("a", 1, 9), ints("b", 5, 2), scalar("c", 3)}, nil, []int64{5, 9}, []int64{2}},
		{"Neg", 13, "Neg", []*onnxpb.TensorProto{ints("a", 1, -2)}, nil, []int64{-1, 2}, []int64{2}},
		{"Split 1-D", 11, "Split", []*onnxpb.TensorProto{ints("a", 1, 2, 3)}, []*onnxpb.AttributeProto{build.AttrInts("split", 3)}, []int64{1, 2, 3}, []int64{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := foldOne(t, c.opset, c.op, c.in, c.attrs...)
			if k == nil {
				t.Fatal("not folded")
			}
			if !equalDims(k.Ints, c.want) || !equalDims(k.Dims, c.dims) {
				t.Errorf("got %v dims %v, want %v dims %v", k.Ints, k.Dims, c.want, c.dims)
			}
		})
	}
}

func TestFoldCastAndFloats(t *testing.T) {
	k := foldOne(t, 13, "Cast", []*onnxpb.TensorProto{build.Float32s("a", []int64{3}, []float32{1.9, -1.9, 3})}, build.AttrInt("to", int64(onnxpb.TensorProto_INT64)))
	if k == nil || k.Elem != onnxpb.TensorProto_INT64 || !equalDims(k.Ints, []int64{1, -1, 3}) {
		t.Errorf("Cast float->int64 = %+v", k)
	}
	k = foldOne(t, 13, "Cast", []*onnxpb.TensorProto{ints("a", 300)}, build.AttrInt("to", int64(onnxpb.TensorProto_UINT8)))
	if k == nil || !equalDims(k.Ints, []int64{44}) {
		t.Errorf("Cast 300->uint8 = %+v", k)
	}
	k = foldOne(t, 13, "Mul", []*onnxpb.TensorProto{build.Float32s("a", []int64{2}, []float32{1.5, 2}), build.Float32s("b", nil, []float32{2})})
	if k == nil || len(k.Floats) != 2 || k.Floats[0] != 3 || k.Floats[1] != 4 {
		t.Errorf("float Mul = %+v", k)
	}
	// Constants beyond maxConstElems are not held.
	b := build.New("g")
	b.Initializer(ints("n", maxConstElems+1))
	b.Op("ConstantOfShape", "y", []string{"n"})
	r := mustInfer(t, model(b, 13), Options{})
	if r.Consts["y"] != nil {
		t.Error("large ConstantOfShape folded")
	}
	wantDims(t, r, "y", maxConstElems+1)
}
