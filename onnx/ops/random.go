package ops

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Random generators: a second run gives other numbers, so they are never
// recomputed. Shapes come from attributes or the input.

func init() {
	register(
		Rule{Type: "RandomNormal", Infer: inferRandom, FLOPs: perOutput(4), Recompute: never},
		Rule{Type: "RandomUniform", Infer: inferRandom, FLOPs: perOutput(2), Recompute: never},
		Rule{Type: "RandomNormalLike", Infer: inferRandomLike, FLOPs: perOutput(4), Recompute: never},
		Rule{Type: "RandomUniformLike", Infer: inferRandomLike, FLOPs: perOutput(2), Recompute: never},
		Rule{Type: "Bernoulli", Infer: inferRandomLike, FLOPs: perOutput(2), Recompute: never},
		Rule{Type: "Multinomial", Infer: inferMultinomial, FLOPs: perInput(2), Recompute: never},
	)
}

func inferRandom(c *Ctx) error {
	elem := onnxpb.TensorProto_DataType(attrInt(c.N, "dtype", int64(onnxpb.TensorProto_FLOAT)))
	shape, _ := attrInts(c.N, "shape")
	c.set(0, shaped(elem, shape))
	return nil
}

func inferRandomLike(c *Ctx) error {
	x := c.in(0)
	elem := x.Elem
	if a := attr(c.N, "dtype"); a != nil {
		elem = onnxpb.TensorProto_DataType(a.GetI())
	}
	c.set(0, x.withElem(elem))
	return nil
}

func inferMultinomial(c *Ctx) error {
	x := c.in(0)
	elem := onnxpb.TensorProto_DataType(attrInt(c.N, "dtype", int64(onnxpb.TensorProto_INT32)))
	n := attrInt(c.N, "sample_size", 1)
	if x.Rank == 2 {
		c.set(0, Tensor{Elem: elem, Dims: []int64{x.Dims[0], n}, Rank: 2})
	} else {
		c.set(0, ofRank(elem, 2))
	}
	return nil
}
