package ortorder

import (
	"maps"
	"slices"
	"strings"
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

// TestEnforceKeepsFusions: guards never read a value ORT may fuse away
// (as trigger or as guarded input), never turn a constant into a computed
// value, and a held value that lost readers gets one guard read.
func TestEnforceKeepsFusions(t *testing.T) {
	f32 := onnxpb.TensorProto_FLOAT
	scalar := func(b *build.Graph, name string) {
		b.Initializer(build.Float32s(name, nil, []float32{0.125}))
	}
	cases := []struct {
		name  string
		graph func() *build.Graph
		hold  []string
		check func(t *testing.T, g *onnxpb.GraphProto, st Stats)
	}{
		{"trigger skips a scale folded into MatMul", func() *build.Graph {
			b := build.New("scale")
			b.Input("x", f32, []int64{4, 4})
			b.Input("k", f32, []int64{4, 4})
			scalar(b, "c")
			b.Node("Relu", "a", []string{"x"}, []string{"a"})
			b.Node("Mul", "s", []string{"a", "c"}, []string{"s"})
			b.Node("Transpose", "t", []string{"k"}, []string{"t"})
			b.Node("MatMul", "m", []string{"s", "t"}, []string{"m"})
			b.Output("m", f32, []int64{4, 4})
			return b
		}, nil, func(t *testing.T, g *onnxpb.GraphProto, st Stats) {
			if r := guardReaders(g, "s"); len(r) > 0 {
				t.Errorf("guards %v read s, which ORT folds into the MatMul", r)
			}
			if r := guardReaders(g, "a"); len(r) == 0 {
				t.Error("t is not chained after a, the latest value safe to read")
			}
			if st.Relaxed != 1 {
				t.Errorf("stats %+v, want 1 relaxed", st)
			}
			// The scale's operand is declared with its rank (Stats.Ranked).
			if !st.Ranked["a"] || len(st.Ranked) != 1 {
				t.Errorf("ranked %v, want a (the scale's operand)", st.Ranked)
			}
		}},
		{"guarded input avoids MatMul+Add", func() *build.Graph {
			b := build.New("bias")
			b.Input("x", f32, []int64{4, 4})
			b.Input("y", f32, []int64{4, 4})
			b.Initializer(build.Float32s("w", []int64{4, 4}, make([]float32, 16)))
			b.Node("MatMul", "p", []string{"x", "w"}, []string{"p"})
			b.Node("Relu", "q", []string{"y"}, []string{"q"})
			b.Node("Sigmoid", "r", []string{"y"}, []string{"r"})
			b.Node("Add", "add", []string{"p", "q"}, []string{"z"})
			b.Output("z", f32, []int64{4, 4})
			b.Output("r", f32, []int64{4, 4})
			return b
		}, nil, func(t *testing.T, g *onnxpb.GraphProto, st Stats) {
			add := nodeNamed(g, "add")
			if add.Input[0] != "p" || add.Input[1] == "q" {
				t.Errorf("Add reads %v, want p as it was and q guarded", add.Input)
			}
		}},
		{"a MatMul ORT turns into a Gemm is never guarded", func() *build.Graph {
			// MatMulAddFusion reshapes a 3-D input to 2-D, and
			// ReshapeFusion would swallow a guard's Reshape on it.
			b := build.New("gemm")
			b.Input("x", f32, []int64{2, 4, 4})
			b.Input("y", f32, []int64{4, 4})
			b.Initializer(build.Float32s("w", []int64{4, 4}, make([]float32, 16)))
			b.Initializer(build.Float32s("bias", []int64{4}, make([]float32, 4)))
			b.Node("Relu", "r", []string{"y"}, []string{"r"})
			b.Node("MatMul", "m", []string{"x", "w"}, []string{"m"})
			b.Node("Add", "add", []string{"m", "bias"}, []string{"z"})
			b.Output("z", f32, []int64{2, 4, 4})
			b.Output("r", f32, []int64{4, 4})
			return b
		}, nil, func(t *testing.T, g *onnxpb.GraphProto, st Stats) {
			if m := nodeNamed(g, "m"); m.Input[0] != "x" || st.Guards != 0 || st.Relaxed == 0 {
				t.Errorf("MatMul reads %v, stats %+v; want it unguarded and counted relaxed", m.Input, st)
			}
		}},
		{"a constant is never guarded", func() *build.Graph {
			b := build.New("const")
			b.Input("x", f32, []int64{4, 4})
			b.Input("y", f32, []int64{4, 4})
			scalar(b, "c")
			b.Node("MatMul", "m", []string{"x", "x"}, []string{"m"})
			b.Node("Relu", "z", []string{"y"}, []string{"z"})
			b.Node("Mul", "s", []string{"m", "c"}, []string{"s"})
			b.Output("s", f32, []int64{4, 4})
			b.Output("z", f32, []int64{4, 4})
			return b
		}, nil, func(t *testing.T, g *onnxpb.GraphProto, st Stats) {
			if s := nodeNamed(g, "s"); !slices.Equal(s.Input, []string{"m", "c"}) || st.Guards != 0 || st.Relaxed != 2 {
				t.Errorf("Mul reads %v, stats %+v; want it unguarded (m is fused into it, c is a constant), and z too (its only trigger would be m)", s.Input, st)
			}
		}},
		{"a bias-free Conv's Add is no fusion", func() *build.Graph {
			// A weight gradient: Conv(x, dy) without bias, accumulated by
			// Add; ORT fuses Conv+Add only with a bias or a constant addend.
			b := build.New("dw")
			b.Input("x", f32, []int64{1, 1, 4, 4})
			b.Input("y", f32, []int64{1, 1, 4, 4})
			b.Node("Conv", "dw", []string{"x", "y"}, []string{"dw"})
			b.Node("Relu", "r", []string{"y"}, []string{"r"})
			b.Node("Add", "acc", []string{"dw", "r"}, []string{"acc"})
			b.Output("acc", f32, []int64{1, 1, 1, 1})
			return b
		}, nil, func(t *testing.T, g *onnxpb.GraphProto, st Stats) {
			if r := guardReaders(g, "dw"); len(r) == 0 || st.Relaxed != 0 {
				t.Errorf("guards reading dw: %v, stats %+v; want r chained after dw", r, st)
			}
			if len(st.Ranked) != 0 {
				t.Errorf("ranked %v, want none", st.Ranked)
			}
		}},
		{"a held value keeps a reader", func() *build.Graph {
			b := build.New("hold")
			b.Input("x", f32, []int64{4, 4})
			b.Input("y", f32, []int64{4, 4})
			b.Initializer(build.Float32s("g", []int64{4}, make([]float32, 4)))
			b.Node("Add", "a", []string{"x", "y"}, []string{"a"})
			b.Node("LayerNormalization", "ln", []string{"a", "g"}, []string{"l"})
			b.Node("Relu", "o", []string{"l"}, []string{"o"})
			b.Output("o", f32, []int64{4, 4})
			return b
		}, []string{"a"}, func(t *testing.T, g *onnxpb.GraphProto, st Stats) {
			if r := guardReaders(g, "a"); len(r) != 1 {
				t.Errorf("guards reading a: %v, want 1 (ORT would fuse the Add into the LayerNormalization)", r)
			}
			if o := nodeNamed(g, "o"); o.Input[0] == "l" {
				t.Error("the held value's guard read feeds no guard")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.graph().G
			hold := map[string]bool{}
			for _, v := range c.hold {
				hold[v] = true
			}
			st, err := Enforce(g, 17, Options{Hold: hold})
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, g, st)
		})
	}
}

// guardReaders returns the guard nodes that read v.
func guardReaders(g *onnxpb.GraphProto, v string) []string {
	var r []string
	for _, n := range g.Node {
		if strings.HasPrefix(n.GetName(), GuardPrefix) && slices.Contains(n.Input, v) {
			r = append(r, n.GetName())
		}
	}
	return r
}

func nodeNamed(g *onnxpb.GraphProto, name string) *onnxpb.NodeProto {
	for _, n := range g.Node {
		if n.GetName() == name {
			return n
		}
	}
	return nil
}

// TestFusedInputs checks which producer-reader pairs the rewrite must keep
// together: fusions that change the arithmetic, not those that apply an
// activation in the kernel; and which MatMuls get no guard.
func TestFusedInputs(t *testing.T) {
	f32 := onnxpb.TensorProto_FLOAT
	b := build.New("fused")
	b.Input("a", f32, []int64{2, 4, 4})
	b.Input("k", f32, []int64{2, 4, 4})
	b.Input("x", f32, []int64{1, 1, 4, 4})
	b.Initializer(build.Float32s("c", nil, []float32{0.125}))
	b.Initializer(build.Float32s("bias", []int64{4}, make([]float32, 4)))
	b.Initializer(build.Float32s("w", []int64{1, 1, 1, 1}, []float32{1}))
	b.Node("Mul", "s", []string{"a", "c"}, []string{"s"})      // 0
	b.Node("Transpose", "t", []string{"k"}, []string{"t"})     // 1
	b.Node("MatMul", "m", []string{"s", "t"}, []string{"m"})   // 2
	b.Node("Add", "add", []string{"m", "bias"}, []string{"z"}) // 3
	b.Node("Conv", "conv", []string{"x", "w"}, []string{"cv"}) // 4
	b.Node("Relu", "relu", []string{"cv"}, []string{"r"})      // 5
	b.Output("z", f32, []int64{2, 4, 4})
	b.Output("r", f32, []int64{1, 1, 4, 4})
	got := FusedInputs(b.G)
	for _, ps := range got {
		slices.Sort(ps)
	}
	want := map[int][]int{2: {0}, 3: {2}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("FusedInputs = %v, want %v (a Transpose or Conv + Relu fused rounds as unfused)", got, want)
	}
	if u := Unguarded(b.G); !maps.Equal(u, map[int]bool{2: true}) {
		t.Errorf("Unguarded = %v, want the MatMul before the bias Add", u)
	}
}
