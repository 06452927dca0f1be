package ops

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Pooling: MaxPool (with its int64 indices output), AveragePool, LpPool,
// the Global* pools, and MaxPoolGrad (default domain in ORT training graphs).

func init() {
	registerAs("", []string{"MaxPool", "AveragePool", "LpPool"},
		Rule{Infer: inferPool, FLOPs: poolFLOPs, Recompute: always})
	registerAs("", []string{"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"},
		Rule{Infer: inferGlobalPool, FLOPs: perInput(1), Recompute: always})
	register(
		Rule{Type: "MaxPoolGrad", Infer: inferMaxPoolGrad, FLOPs: perOutput(1), Recompute: always},
	)
}

func inferPool(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		c.set(1, Tensor{Elem: onnxpb.TensorProto_INT64, Rank: -1})
		return nil
	}
	if x.Rank < 3 {
		return fmt.Errorf("pool input rank %d < 3", x.Rank)
	}
	nsp := x.Rank - 2
	w, err := readWindow(c.N, nsp, nil)
	if err != nil {
		return err
	}
	out := ofRank(x.Elem, x.Rank)
	out.Dims[0], out.Dims[1] = x.Dims[0], x.Dims[1]
	for i := 0; i < nsp; i++ {
		out.Dims[2+i] = w.out(i, x.Dims[2+i])
	}
	c.set(0, out)
	c.set(1, out.withElem(onnxpb.TensorProto_INT64))
	return nil
}

func poolFLOPs(n *onnxpb.NodeProto, _, out []Tensor) float64 {
	if len(out) == 0 {
		return 0
	}
	k, _ := attrInts(n, "kernel_shape")
	return elems(out[0]) * prod(k)
}

func inferGlobalPool(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		return nil
	}
	if x.Rank < 2 {
		return fmt.Errorf("global pool input rank %d < 2", x.Rank)
	}
	out := shaped(x.Elem, x.Dims)
	for i := 2; i < x.Rank; i++ {
		out.Dims[i] = 1
	}
	c.set(0, out)
	return nil
}

// inferMaxPoolGrad: inputs dY, Indices; dX has the shape of the MaxPool
// input that produced Indices.
func inferMaxPoolGrad(c *Ctx) error {
	dy := c.in(0)
	out := Tensor{Elem: dy.Elem, Rank: dy.Rank}
	if dy.Rank >= 0 {
		out = ofRank(dy.Elem, dy.Rank)
	}
	if len(c.N.GetInput()) > 1 {
		if p := c.producer(c.N.GetInput()[1]); p != nil && len(p.GetInput()) > 0 {
			x := c.value(p.GetInput()[0])
			if x.Rank >= 0 {
				out = x.withElem(dy.Elem)
				if out.Elem == 0 {
					out.Elem = x.Elem
				}
			}
		}
	}
	c.set(0, out)
	return nil
}
