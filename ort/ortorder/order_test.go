package ortorder

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// chain: a = Relu(x); c1..c3 = Sin chain from a; a' = Relu(x) written just
// before its reader d = Mul(c3, a').
func chain() *onnxpb.GraphProto {
	b := build.New("chain")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{4})
	b.Output("d", onnxpb.TensorProto_FLOAT, []int64{4})
	b.Node("Relu", "relu", []string{"x"}, []string{"a"})
	b.Node("Sin", "c1", []string{"a"}, []string{"c1"})
	b.Node("Sin", "c2", []string{"c1"}, []string{"c2"})
	b.Node("Sin", "c3", []string{"c2"}, []string{"c3"})
	b.Node("Relu", "relu_rc1", []string{"x"}, []string{"a_rc1"})
	b.Node("Mul", "mul", []string{"c3", "a_rc1"}, []string{"d"})
	return b.G
}

func TestPredictOrder(t *testing.T) {
	// The reader's producers are walked from the highest index down, so the
	// clone (index 4) runs before the chain: ORT's documented behaviour,
	// checked against its profile in package ort (TestPredictOrder).
	if got, want := PredictOrder(chain()), []int{4, 0, 1, 2, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("PredictOrder = %v, want %v", got, want)
	}
	// Two sinks: the higher index is walked first; Constant nodes come first.
	b := build.New("sinks")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{1})
	b.Node("Constant", "k", nil, []string{"k"}, build.AttrTensor("value", build.Float32s("k", []int64{1}, []float32{1})))
	b.Node("Neg", "n0", []string{"x"}, []string{"y0"})
	b.Node("Add", "n1", []string{"x", "k"}, []string{"y1"})
	if got, want := PredictOrder(b.G), []int{0, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("PredictOrder = %v, want %v", got, want)
	}
}

func TestEnforceOrder(t *testing.T) {
	g := chain()
	st, err := EnforceOrder(g, 17, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Guards != 1 || st.GuardNodes != 6 {
		t.Errorf("stats %+v, want 1 guard of 6 nodes (the clone waits for c3)", st)
	}
	var order []string
	for _, i := range PredictOrder(g) {
		if n := g.Node[i].GetName(); len(n) < len(GuardPrefix) || n[:len(GuardPrefix)] != GuardPrefix {
			order = append(order, n)
		}
	}
	if want := []string{"relu", "c1", "c2", "c3", "relu_rc1", "mul"}; !slices.Equal(order, want) {
		t.Errorf("order after EnforceOrder = %v, want the file order %v", order, want)
	}
	if _, err := EnforceOrder(chain(), 9, 0); err == nil {
		t.Error("opset 9 accepted")
	}
}
