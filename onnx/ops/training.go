package ops

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// ONNX Runtime training ops (com.microsoft unless noted) that are not in
// another family's file: activation gradients, DropoutGrad, GatherGrad,
// gradient accumulation, Scale, and helpers ORT's gradient builder emits.
// A gradient output has the shape of what it is the gradient of.

func init() {
	// dX = f(dY, X): the shape and type of dY.
	registerAs("com.microsoft", []string{"ReluGrad", "GeluGrad", "FastGeluGrad", "SigmoidGrad", "TanhGrad",
		"QuickGeluGrad", "LeakyReluGrad", "SoftplusGrad", "DropoutGrad", "BitmaskDropoutGrad"},
		Rule{Infer: inferSameAsInput0, FLOPs: perOutput(2), Recompute: always})
	registerAs("com.microsoft", []string{"BiasGeluGrad_dX", "BiasFastGeluGrad_dX"},
		Rule{Infer: inferSameAsInput0, FLOPs: perOutput(8), Recompute: always})
	register(
		// Scale(input, scale) = input * scale, scale a scalar.
		Rule{Domain: "com.microsoft", Type: "Scale", Infer: inferSameAsInput0, FLOPs: perOutput(1), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "GatherGrad", Infer: inferGatherGrad, FLOPs: gatherGradFLOPs, Recompute: always},
		// Accumulators write into their buffer in place: a side effect.
		Rule{Domain: "com.microsoft", Type: "InPlaceAccumulator", Infer: inferSameAsInput0, FLOPs: perOutput(1), Recompute: never},
		Rule{Domain: "com.microsoft", Type: "InPlaceAccumulatorV2", Infer: inferAccumulatorV2, FLOPs: accumulatorV2FLOPs, Recompute: never},
		Rule{Domain: "com.microsoft", Type: "ZeroGradient", Infer: inferSameAsInput0, FLOPs: perOutput(1), Recompute: never},
		Rule{Domain: "com.microsoft", Type: "BitmaskDropout", Infer: inferBitmaskDropout, FLOPs: perOutput(1), Recompute: dropoutDeterministic},
		Rule{Domain: "com.microsoft", Type: "ReduceSumTraining", Infer: inferReduce(1), FLOPs: perInput(1), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "BroadcastGradientArgs", Infer: inferBroadcastGradientArgs, FLOPs: zeroFLOPs, Recompute: always},
	)
}

// inferGatherGrad: inputs shape (of the gathered data), indices, dY; dX has
// the data's shape (a constant input, folded from Shape) and dY's type.
func inferGatherGrad(c *Ctx) error {
	elem := c.in(2).Elem
	if shape, ok := c.ints(0); ok {
		c.set(0, shaped(elem, shape))
		return nil
	}
	if st := c.in(0); st.Rank == 1 && st.Dims[0] >= 0 {
		c.set(0, ofRank(elem, int(st.Dims[0])))
		return nil
	}
	c.set(0, Tensor{Elem: elem, Rank: -1})
	return nil
}

func gatherGradFLOPs(_ *onnxpb.NodeProto, in, out []Tensor) float64 {
	f := 0.0
	if len(out) > 0 {
		f += elems(out[0]) // zero fill
	}
	if len(in) > 2 {
		f += elems(in[2]) // scatter-add
	}
	return f
}

// inferAccumulatorV2: inputs buffer, value, [overwrite]; outputs updated
// (bool [1]) and, optionally, the accumulated buffer.
func inferAccumulatorV2(c *Ctx) error {
	c.set(0, Tensor{Elem: onnxpb.TensorProto_BOOL, Dims: []int64{1}, Rank: 1})
	c.set(1, c.in(0))
	return nil
}

func accumulatorV2FLOPs(_ *onnxpb.NodeProto, in, _ []Tensor) float64 {
	if len(in) == 0 {
		return 0
	}
	return elems(in[0])
}

// inferBitmaskDropout: output like data; mask is uint32 [ceil(n/32)].
func inferBitmaskDropout(c *Ctx) error {
	x := c.in(0)
	c.set(0, x)
	m := Tensor{Elem: onnxpb.TensorProto_UINT32, Dims: []int64{-1}, Rank: 1}
	if n, ok := x.Elements(); ok {
		m.Dims[0] = (n + 31) / 32
	}
	c.set(1, m)
	return nil
}

// inferBroadcastGradientArgs: two int64 vectors of axes to reduce, of
// data-dependent length.
func inferBroadcastGradientArgs(c *Ctx) error {
	for i := range c.Out {
		c.set(i, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: []int64{-1}, Rank: 1})
	}
	return nil
}
