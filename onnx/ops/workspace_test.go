package ops

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// TestWorkspaceTable checks the kernel workspace rules on fixed shapes
// (ORT's measurements of the same entries: ort's TestWorkspaceMatchesORT).
func TestWorkspaceTable(t *testing.T) {
	f32, b8, i64 := onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_BOOL, onnxpb.TensorProto_INT64
	ts := func(e onnxpb.TensorProto_DataType, d ...int64) Tensor { return Tensor{Elem: e, Dims: d, Rank: len(d)} }
	node := func(op string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: &op, Attribute: attrs}
	}
	pads := build.AttrInts("pads", 1, 1, 1, 1)
	cases := []struct {
		name    string
		n       *onnxpb.NodeProto
		in, out []Tensor
		want    int64
	}{
		{"where: two selections", node("Where"), []Tensor{ts(b8, 8, 64), ts(f32, 8, 64), ts(f32)}, []Tensor{ts(f32, 8, 64)}, 2 * 8 * 64 * 4},
		{"where: broadcast mask, scalar y", node("Where"), []Tensor{ts(b8, 1, 1, 4, 4), ts(f32, 2, 3, 4, 4), ts(f32)}, []Tensor{ts(f32, 2, 3, 4, 4)}, (96 + 16) * 4},
		{"where: unknown dims", node("Where"), []Tensor{ts(b8, -1, 64), ts(f32, -1, 64), ts(f32)}, []Tensor{ts(f32, -1, 64)}, 0},
		{"scatter elements: indices copy", node("ScatterElements"), []Tensor{ts(f32, 100), ts(i64, 10), ts(f32, 10)}, []Tensor{ts(f32, 100)}, 80},
		{"scatter nd: none", node("ScatterND"), []Tensor{ts(f32, 100), ts(i64, 10, 1), ts(f32, 10)}, []Tensor{ts(f32, 100)}, 0},
		{"conv pointwise", node("Conv"), []Tensor{ts(f32, 2, 8, 5, 5), ts(f32, 16, 8, 1, 1)}, []Tensor{ts(f32, 2, 16, 5, 5)}, 0},
		{"conv expanded: filters > pixels", node("Conv", pads), []Tensor{ts(f32, 2, 8, 3, 3), ts(f32, 16, 8, 3, 3)}, []Tensor{ts(f32, 2, 16, 3, 3)}, 9 * 72 * 4},
		{"conv segmented", node("Conv", pads), []Tensor{ts(f32, 2, 8, 5, 5), ts(f32, 4, 8, 3, 3)}, []Tensor{ts(f32, 2, 4, 5, 5)}, 128 * 128 * 4},
		{"conv grouped expanded", node("Conv", pads, build.AttrInt("group", 2)), []Tensor{ts(f32, 1, 8, 3, 3), ts(f32, 32, 4, 3, 3)}, []Tensor{ts(f32, 1, 32, 3, 3)}, 9 * 36 * 4},
		{"conv transpose", node("ConvTranspose", pads), []Tensor{ts(f32, 2, 8, 5, 5), ts(f32, 8, 6, 3, 3)}, []Tensor{ts(f32, 2, 6, 5, 5)}, 6 * 9 * 25 * 4},
		{"conv transpose grouped", node("ConvTranspose", build.AttrInt("group", 2)), []Tensor{ts(f32, 1, 8, 5, 5), ts(f32, 8, 3, 2, 2)}, []Tensor{ts(f32, 1, 6, 6, 6)}, 3 * 4 * 25 * 4},
		{"relu: none", node("Relu"), []Tensor{ts(f32, 8)}, []Tensor{ts(f32, 8)}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Result{Values: map[string]Tensor{}}
			var ins, outs []string
			for i, v := range c.in {
				name := string(rune('a' + i))
				r.Values[name] = v
				ins = append(ins, name)
			}
			for i, v := range c.out {
				name := string(rune('p' + i))
				r.Values[name] = v
				outs = append(outs, name)
			}
			c.n.Input, c.n.Output = ins, outs
			if got := Workspace(c.n, r); got != c.want {
				t.Errorf("workspace %d B, want %d", got, c.want)
			}
		})
	}
}
