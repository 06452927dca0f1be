package ortorder

import (
	"slices"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

func TestHideShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs []string
		opset  int64
		hidden int      // inputs hidden
		want   []string // values ShapeHidden must return (besides the guards' outputs)
		sized  []string // values it must not
		err    string
	}{
		{name: "data input", inputs: []string{"x"}, opset: 17, hidden: 1,
			want: []string{"a", "c1", "c2", "c3", "a_rc1", "d"}},
		{name: "twice is once", inputs: []string{"x", "x"}, opset: 17, hidden: 1, want: []string{"d"}},
		{name: "not read", inputs: []string{"nobody"}, opset: 17, hidden: 0, sized: []string{"a", "d"}},
		{name: "opset 9", inputs: []string{"x"}, opset: 9, err: "opset 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := chain()
			before := slices.Clone(g.Node)
			n, err := HideShapes(g, tc.opset, tc.inputs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || n != tc.hidden {
				t.Fatalf("hid %d inputs, err %v; want %d", n, err, tc.hidden)
			}
			if len(g.Node) != len(before)+6*n {
				t.Errorf("%d nodes, want %d", len(g.Node), len(before)+6*n)
			}
			for i, nd := range before {
				if strings.Join(nd.Input, ",") != strings.Join(chain().Node[i].Input, ",") {
					t.Errorf("node %s of the input changed: %v", nd.GetName(), nd.Input)
				}
			}
			for _, nd := range g.Node {
				if !strings.HasPrefix(nd.GetName(), HidePrefix) && n > 0 && slices.Contains(nd.Input, "x") {
					t.Errorf("%s still reads x", nd.GetName())
				}
			}
			h := ShapeHidden(g)
			for _, v := range tc.want {
				if !h[v] {
					t.Errorf("%s not hidden (hidden: %v)", v, h)
				}
			}
			for _, v := range tc.sized {
				if h[v] {
					t.Errorf("%s hidden", v)
				}
			}
			// Our own inference still sizes everything: the guard's empty
			// slice folds.
			m := &onnx.Model{Proto: build.Model(g, tc.opset)}
			r, err := ops.Infer(m, ops.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"a", "d"} {
				if b, ok := r.Values[v].Bytes(); !ok || b != 16 {
					t.Errorf("%s: %d bytes (known %v), want 16", v, b, ok)
				}
			}
		})
	}
}

// ORT cannot size what Shape and Size compute from a hidden value's shape
// only by rank, so their outputs stay sized.
func TestShapeHiddenStopsAtShape(t *testing.T) {
	b := build.New("shape")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{4})
	b.Node("Relu", "relu", []string{"x"}, []string{"a"})
	b.Node("Shape", "shape", []string{"a"}, []string{"s"})
	b.Node("Size", "size", []string{"a"}, []string{"n"})
	b.Output("s", onnxpb.TensorProto_INT64, []int64{1})
	b.Output("n", onnxpb.TensorProto_INT64, nil)
	if _, err := HideShapes(b.G, 17, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	h := ShapeHidden(b.G)
	if !h["a"] || h["s"] || h["n"] {
		t.Errorf("hidden %v: want a, not s or n", h)
	}
}
