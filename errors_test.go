package recompute

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// The errors a caller branches on come back typed through the calls that
// hit them: an op with no gradient rule from Grad and Rewrite with Grad, an
// infeasible budget from Plan, a malformed option from any.
func TestTypedErrors(t *testing.T) {
	dir := t.TempDir()
	g := build.New("custom")
	g.Input("x", onnxpb.TensorProto_FLOAT, []int64{2, 3})
	g.Initializer(build.Float32s("w", []int64{3, 3}, make([]float32, 9)))
	g.Node("MatMul", "mm", []string{"x", "w"}, []string{"y"})
	g.Node("Mystery", "hm", []string{"y"}, []string{"z"})
	g.G.Node[len(g.G.Node)-1].Domain = proto.String("com.example")
	g.Output("z", onnxpb.TensorProto_FLOAT, []int64{2, 3})
	fwd := filepath.Join(dir, "fwd.onnx")
	if err := (&onnx.Model{Proto: build.Model(g.G, 17)}).Save(fwd); err != nil {
		t.Fatal(err)
	}
	var unsupported *UnsupportedOpError
	_, err := Grad(fwd, filepath.Join(dir, "train.onnx"), GradOptions{Loss: "sum"})
	if !errors.As(err, &unsupported) || unsupported.Op != "Mystery" || unsupported.Node != "hm" {
		t.Errorf("Grad: %v, want an UnsupportedOpError for Mystery hm", err)
	}
	_, err = Rewrite(fwd, filepath.Join(dir, "rw.onnx"), RewriteOptions{Grad: true, GradLoss: "sum"})
	if !errors.As(err, &unsupported) || unsupported.Op != "Mystery" {
		t.Errorf("Rewrite --grad: %v, want an UnsupportedOpError for Mystery", err)
	}

	var infeasible *InfeasibleError
	_, err = Plan("resnet50", PlanRequest{RewriteOptions: RewriteOptions{Plan: PlanOptions{Batch: 1, Budget: "1KiB"}, Size: 32}})
	if !errors.As(err, &infeasible) || infeasible.MinBytes <= 1024 {
		t.Errorf("Plan at 1 KiB: %v, want an InfeasibleError with its least peak", err)
	}
	_, err = Rewrite("resnet50", filepath.Join(dir, "r.onnx"), RewriteOptions{Plan: PlanOptions{Batch: 1, Budget: "1KiB"}, Size: 32, NoWeights: true})
	if !errors.As(err, &infeasible) || infeasible.MinBytes <= 1024 {
		t.Errorf("Rewrite at 1 KiB: %v, want an InfeasibleError with its least peak", err)
	}

	var bad *OptionError
	for name, err := range map[string]error{
		"plan": func() error {
			_, err := Plan("resnet50", PlanRequest{RewriteOptions: RewriteOptions{Plan: PlanOptions{Strategy: "greedy"}}})
			return err
		}(),
		"rewrite": func() error {
			_, err := Rewrite("resnet50", filepath.Join(dir, "x.onnx"), RewriteOptions{Target: "tpu"})
			return err
		}(),
		"inspect": func() error { _, err := Inspect("resnet50", InspectOptions{Dims: []string{"N"}}); return err }(),
		"convert": func() error {
			_, err := Convert(dir, filepath.Join(dir, "out"), ConvertOptions{Shard: "3/3"})
			return err
		}(),
	} {
		if !errors.As(err, &bad) {
			t.Errorf("%s: %v, want an OptionError", name, err)
		}
	}
}
