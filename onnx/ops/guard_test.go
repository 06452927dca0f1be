package ops

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// TestEmptyIsConstant: an empty slice of a runtime value is a known constant,
// so the ordering guard of ort/ortorder,
// Reshape(x, Concat(Shape(x), Cast(Slice(Reshape(g, [-1]), [0], [0]), int64))),
// keeps x's static shape (rewritten models are sized through their guards).
func TestEmptyIsConstant(t *testing.T) {
	b := build.New("g")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{2, 3, 4})
	b.Input("g", onnxpb.TensorProto_FLOAT, []int64{5, 6})
	b.Initializer(build.Int64s("flat", []int64{1}, []int64{-1}))
	b.Initializer(build.Int64s("zero", []int64{1}, []int64{0}))
	b.Op("Reshape", "gflat", []string{"g", "flat"})
	b.Op("Slice", "empty", []string{"gflat", "zero", "zero"})
	b.Op("Cast", "empty_i64", []string{"empty"}, build.AttrInt("to", int64(onnxpb.TensorProto_INT64)))
	b.Op("Shape", "xshape", []string{"x"})
	b.Op("Concat", "shape", []string{"xshape", "empty_i64"}, build.AttrInt("axis", 0))
	b.Op("Reshape", "y", []string{"x", "shape"})
	r := mustInfer(t, model(b, 17), Options{})
	if c := r.Consts["empty"]; c == nil || c.Len() != 0 {
		t.Errorf("empty slice: const %v, want a known empty tensor", c)
	}
	if got := r.Values["y"]; !got.Static() || len(got.Dims) != 3 || got.Dims[0] != 2 || got.Dims[1] != 3 || got.Dims[2] != 4 {
		t.Errorf("guarded Reshape: %v, want float[2,3,4]", got)
	}
	if _, ok := r.Consts["gflat"]; ok {
		t.Errorf("a runtime value with elements must not be folded")
	}
}
