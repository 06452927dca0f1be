package ops

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestORTTrainingOps: the gradient ops of ONNX Runtime training graphs give
// their outputs the shapes of what they are the gradients of.
func TestORTTrainingOps(t *testing.T) {
	b := build.New("g")
	ms := func(op string, in, out []string, attrs ...*onnxpb.AttributeProto) {
		n := b.Node(op, op, in, out, attrs...)
		n.Domain = proto.String("com.microsoft")
	}
	b.Input("x", f32, []int64{2, 3, 4, 4})
	for _, p := range []string{"scale", "bias", "mean", "var"} {
		b.Input(p, f32, []int64{3})
	}
	ms("BatchNormInternal", []string{"x", "scale", "bias", "mean", "var"}, []string{"bn", "rm", "rv", "smean", "sinv"})
	ms("BatchNormalizationGrad", []string{"bn", "x", "scale", "smean", "sinv"}, []string{"dx", "dscale", "dbias"})

	b.Input("h", f32, []int64{2, 5, 8})
	b.Input("g", f32, []int64{8})
	b.Input("be", f32, []int64{8})
	b.Node("LayerNormalization", "ln", []string{"h", "g", "be"}, []string{"ln", "lnmean", "lninv"}, build.AttrInt("axis", -1))
	ms("LayerNormalizationGrad", []string{"ln", "h", "g", "lnmean", "lninv"}, []string{"dh", "dg", "dbe"})

	b.Input("ratio", f32, []int64{})
	b.Input("train", onnxpb.TensorProto_BOOL, []int64{})
	b.Node("Dropout", "do", []string{"h", "ratio", "train"}, []string{"do", "mask"})
	ms("DropoutGrad", []string{"do", "mask", "ratio", "train"}, []string{"ddo"})

	b.Op("Softmax", "sm", []string{"h"})
	ms("SoftmaxGrad_13", []string{"sm", "sm"}, []string{"dsm"})

	b.Input("table", f32, []int64{100, 8})
	b.Input("idx", i64, []int64{2, 5})
	b.Op("Gather", "emb", []string{"table", "idx"})
	b.Op("Shape", "tshape", []string{"table"})
	ms("GatherGrad", []string{"tshape", "idx", "emb"}, []string{"dtable"})

	ms("Gelu", []string{"h"}, []string{"gelu"})
	ms("GeluGrad", []string{"gelu", "h"}, []string{"dgelu"})
	ms("Scale", []string{"h", "ratio"}, []string{"scaled"})

	b.Input("logits", f32, []int64{2, 10})
	b.Input("labels", i64, []int64{2})
	b.Node("SoftmaxCrossEntropyLoss", "sce", []string{"logits", "labels"}, []string{"loss", "logp"})
	b.Initializer(build.Float32s("loss_grad", nil, []float32{1}))
	ms("SoftmaxCrossEntropyLossGrad", []string{"loss_grad", "logp", "labels"}, []string{"dlogits"})
	ms("InPlaceAccumulatorV2", []string{"table", "dtable"}, []string{"updated", "acc"})

	m := model(b, 17, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)})
	r := mustInfer(t, m, Options{})
	if len(r.Unknown) > 0 || len(r.Warnings) > 0 {
		t.Fatalf("unknown %v warnings %v", r.Unknown, r.Warnings)
	}
	for name, want := range map[string][]int64{
		"bn": {2, 3, 4, 4}, "rm": {3}, "sinv": {3}, "dx": {2, 3, 4, 4}, "dscale": {3}, "dbias": {3},
		"lnmean": {2, 5, 1}, "dh": {2, 5, 8}, "dg": {8}, "dbe": {8},
		"mask": {2, 5, 8}, "ddo": {2, 5, 8}, "dsm": {2, 5, 8},
		"emb": {2, 5, 8}, "dtable": {100, 8}, "dgelu": {2, 5, 8}, "scaled": {2, 5, 8},
		"loss": {}, "logp": {2, 10}, "dlogits": {2, 10}, "updated": {1}, "acc": {100, 8},
	} {
		wantDims(t, r, name, want...)
	}
	if e := r.Values["mask"].Elem; e != onnxpb.TensorProto_BOOL {
		t.Errorf("Dropout mask elem %v", e)
	}
	if e := r.Values["updated"].Elem; e != onnxpb.TensorProto_BOOL {
		t.Errorf("InPlaceAccumulatorV2 flag elem %v", e)
	}
}
