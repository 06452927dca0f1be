package gradcheck

import (
	"math/rand/v2"
	"testing"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

const f32 = onnxpb.TensorProto_FLOAT

func randT(name string, r *rand.Rand, scale float64, dims ...int64) *onnxpb.TensorProto {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*r.Float64() - 1) * scale)
	}
	return build.Float32s(name, dims, v)
}

// opCase is a one- or two-node forward model around one op.
type opCase struct {
	name string
	make func(g *build.Graph, r *rand.Rand)
	loss string
}

// TestOps checks each gradient rule alone on ONNX Runtime, on awkward
// geometries (strides with remainders, groups, dilations, ceil mode).
func TestOps(t *testing.T) {
	needORT(t)
	conv := func(x []int64, w []int64, out []int64, attrs ...*onnxpb.AttributeProto) func(g *build.Graph, r *rand.Rand) {
		return func(g *build.Graph, r *rand.Rand) {
			g.Input("x", f32, x)
			g.Initializer(randT("w", r, 0.5, w...))
			g.Initializer(randT("b", r, 0.5, w[0]))
			g.Node("Conv", "conv", []string{"x", "w", "b"}, []string{"y"}, attrs...)
			g.Output("y", f32, out)
		}
	}
	cases := []opCase{
		{"conv_s2_p3_k7", conv([]int64{2, 3, 11, 11}, []int64{4, 3, 7, 7}, []int64{2, 4, 6, 6},
			build.AttrInts("strides", 2, 2), build.AttrInts("pads", 3, 3, 3, 3)), "sum"},
		{"conv_s2_k1", conv([]int64{2, 4, 9, 9}, []int64{6, 4, 1, 1}, []int64{2, 6, 5, 5},
			build.AttrInts("strides", 2, 2)), "mse"},
		{"conv_group_dil", conv([]int64{2, 4, 9, 9}, []int64{6, 2, 3, 3}, []int64{2, 6, 5, 5},
			build.AttrInts("dilations", 2, 2), build.AttrInt("group", 2)), "mse"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			g := build.New(c.name)
			c.make(g, r)
			m := &onnx.Model{Proto: build.Model(g.G, 17)}
			tm, err := autodiff.Build(m, autodiff.Options{Loss: c.loss})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Check(tm, Options{Coords: 3, Tolerance: 0.01})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Params {
				t.Logf("%s %+v", p.Name, p.Coords)
			}
			report(t, res)
		})
	}
}
