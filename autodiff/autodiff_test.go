package autodiff

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

const f32 = onnxpb.TensorProto_FLOAT

// small returns x[2,3,6,6] → Conv(w,b) → BN(s,t) → Relu → MaxPool → Flatten →
// Gemm(fc) → logits[2,4], a float initializer read only as a shape-free
// constant (unused), and an int64 initializer.
func small(t *testing.T) *onnx.Model {
	t.Helper()
	g := build.New("small")
	g.Input("x", f32, []int64{2, 3, 6, 6})
	g.Initializer(build.Float32s("w", []int64{4, 3, 3, 3}, make([]float32, 108)))
	g.Initializer(build.Float32s("b", []int64{4}, make([]float32, 4)))
	g.Initializer(build.Float32s("s", []int64{4}, []float32{1, 1, 1, 1}))
	g.Initializer(build.Float32s("t", []int64{4}, make([]float32, 4)))
	g.Initializer(build.Float32s("mean", []int64{4}, make([]float32, 4)))
	g.Initializer(build.Float32s("var", []int64{4}, []float32{1, 1, 1, 1}))
	g.Initializer(build.Float32s("fc", []int64{4, 16}, make([]float32, 64)))
	g.Node("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, build.AttrInts("pads", 1, 1, 1, 1))
	g.Node("BatchNormalization", "bn", []string{"c", "s", "t", "mean", "var"}, []string{"n"})
	g.Node("Relu", "relu", []string{"n"}, []string{"r"})
	g.Node("MaxPool", "pool", []string{"r"}, []string{"p"}, build.AttrInts("kernel_shape", 3, 3), build.AttrInts("strides", 3, 3))
	g.Node("Flatten", "flat", []string{"p"}, []string{"f"})
	g.Node("Gemm", "fc", []string{"f", "fc"}, []string{"logits"}, build.AttrInt("transB", 1))
	g.Output("logits", f32, []int64{2, 4})
	return &onnx.Model{Proto: build.Model(g.G, 13)}
}

func TestBuildPromises(t *testing.T) {
	m := small(t)
	before, _ := m.Encode()
	tm, err := Build(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := m.Encode()
	if !bytes.Equal(before, after) {
		t.Error("Build modified its input model")
	}
	if got := tm.Proto.GetIrVersion(); got != TargetIR {
		t.Errorf("IR %d, want %d", got, TargetIR)
	}
	if len(tm.Proto.OpsetImport) != 1 || tm.Proto.OpsetImport[0].GetVersion() != TargetOpset || tm.Proto.OpsetImport[0].GetDomain() != "" {
		t.Errorf("opsets %v, want only default domain %d", tm.Proto.OpsetImport, TargetOpset)
	}
	var outs []string
	for _, o := range tm.Proto.Graph.Output {
		outs = append(outs, o.GetName())
	}
	want := "loss w_grad b_grad s_grad t_grad fc_grad" // mean/var are not trainable (training mode)
	if strings.Join(outs, " ") != want {
		t.Errorf("outputs %v, want %s", outs, want)
	}
	// Initializer protos are shared, not copied.
	src := map[string]*onnxpb.TensorProto{}
	for _, init := range m.Proto.Graph.Initializer {
		src[init.GetName()] = init
	}
	for _, init := range tm.Proto.Graph.Initializer {
		if s, ok := src[init.GetName()]; ok && s != init {
			t.Errorf("initializer %s was copied", init.GetName())
		}
	}
	for _, n := range tm.Proto.Graph.Node {
		if n.GetDomain() != "" {
			t.Errorf("node %s in domain %q", n.GetName(), n.GetDomain())
		}
		if n.GetOpType() == "BatchNormalization" {
			t.Errorf("node %s: BatchNormalization should be written as primitives in training mode", n.GetName())
		}
	}
	if s := Summarize(tm); s.Params != 5 || s.Loss != "cross-entropy" || s.BackwardNodes == 0 || s.ParamValues != 108+4+4+4+64 {
		t.Errorf("Summarize = %+v", s)
	}
}

// TestBackwardReads pins which forward values each op's backward reads:
// the planner keeps or recomputes exactly these.
func TestBackwardReads(t *testing.T) {
	tm, err := Build(small(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fwdOut := map[string]bool{}
	for _, n := range tm.Proto.Graph.Node {
		if !strings.HasPrefix(n.GetName(), "Grad/") {
			for _, o := range n.Output {
				fwdOut[o] = true
			}
		}
	}
	reads := map[string]bool{}
	for _, n := range tm.Proto.Graph.Node {
		if strings.HasPrefix(n.GetName(), "Grad/") {
			for _, in := range n.Input {
				if fwdOut[in] {
					reads[in] = true
				}
			}
		}
	}
	var got []string
	for v := range reads {
		got = append(got, v)
	}
	sort.Strings(got)
	// Conv's dW reads x (an input, not listed); BN reads xhat, inv_std and
	// the reshaped scale, not its input c; Relu reads its output; MaxPool
	// reads its input r; Gemm reads f; the loss gradient reads log_prob.
	want := []string{"bn/inv_std", "bn/scale_c", "bn/xhat", "f", "loss/log_prob", "r"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("backward reads forward values %v, want %v", got, want)
	}
}

func TestNoTrainableInitializers(t *testing.T) {
	g := build.New("noparams")
	g.Input("x", f32, []int64{2, 5})
	g.Initializer(build.Int64s("shape", []int64{1}, []int64{5}))
	g.Node("ConstantOfShape", "w", []string{"shape"}, []string{"w"}, build.AttrTensor("value", build.Float32s("", []int64{1}, []float32{0.5})))
	g.Node("Mul", "m", []string{"x", "w"}, []string{"y"})
	g.Output("y", f32, []int64{2, 5})
	tm, err := Build(&onnx.Model{Proto: build.Model(g.G, 17)}, Options{Loss: "sum"})
	if err != nil {
		t.Fatal(err)
	}
	if out := tm.Proto.Graph.Output; len(out) != 2 || out[1].GetName() != "x_grad" {
		t.Errorf("outputs %v: want loss and x_grad (float inputs when no initializer is trainable)", out)
	}
}

func TestErrors(t *testing.T) {
	g := build.New("bad")
	g.Input("x", f32, []int64{2, 5})
	g.Initializer(build.Float32s("w", []int64{5}, make([]float32, 5)))
	g.Node("Mul", "m", []string{"x", "w"}, []string{"h"})
	g.Node("LpNormalization", "the_lpnorm", []string{"h"}, []string{"y"})
	g.Output("y", f32, []int64{2, 5})
	_, err := Build(&onnx.Model{Proto: build.Model(g.G, 17)}, Options{})
	if err == nil || !strings.Contains(err.Error(), "LpNormalization") || !strings.Contains(err.Error(), "the_lpnorm") {
		t.Errorf("unsupported op: err = %v, want the op and node named", err)
	}
	_, err = Build(small(t), Options{Loss: "hinge"})
	if err == nil || !strings.Contains(err.Error(), "hinge") {
		t.Errorf("unknown loss: err = %v", err)
	}
	_, err = Build(small(t), Options{Labels: "x"})
	if err == nil || !strings.Contains(err.Error(), "clashes") {
		t.Errorf("labels clash: err = %v", err)
	}
}

// TestSharedGradient: y = a + b with both a parameter: the same value is
// both gradients; each output must still exist.
func TestSharedGradient(t *testing.T) {
	g := build.New("shared")
	g.Input("x", f32, []int64{2, 3})
	g.Initializer(build.Float32s("a", []int64{2, 3}, make([]float32, 6)))
	g.Initializer(build.Float32s("b", []int64{2, 3}, make([]float32, 6)))
	g.Node("Add", "ab", []string{"a", "b"}, []string{"s"})
	g.Node("Mul", "y", []string{"s", "x"}, []string{"y"})
	g.Output("y", f32, []int64{2, 3})
	tm, err := Build(&onnx.Model{Proto: build.Model(g.G, 17)}, Options{Loss: "sum"})
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{}
	for _, n := range tm.Proto.Graph.Node {
		for _, o := range n.Output {
			made[o] = true
		}
	}
	for _, o := range tm.Proto.Graph.Output {
		if !made[o.GetName()] {
			t.Errorf("output %s is not produced by any node", o.GetName())
		}
	}
}
