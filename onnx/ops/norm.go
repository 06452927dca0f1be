package ops

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Normalizations: BatchNormalization (inference and training mode), ORT's
// BatchNormInternal and BatchNormalizationGrad, LayerNormalization and its
// gradient, InstanceNormalization, GroupNormalization, LRN, and friends.

func init() {
	register(
		Rule{Type: "BatchNormalization", Infer: inferBatchNorm, FLOPs: perInput(4), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "BatchNormInternal", Infer: inferBatchNorm, FLOPs: perInput(5), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "BatchNormalizationGrad", Infer: inferNormGrad, FLOPs: perInput(8), Recompute: always},
		Rule{Type: "LayerNormalization", Infer: inferLayerNorm, FLOPs: perInput(5), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "SimplifiedLayerNormalization", Infer: inferLayerNorm, FLOPs: perInput(4), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "LayerNormalizationGrad", Infer: inferNormGrad, FLOPs: perInput(8), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "SimplifiedLayerNormalizationGrad", Infer: inferNormGrad, FLOPs: perInput(6), Recompute: always},
		Rule{Domain: "com.microsoft", Type: "InvertibleLayerNormalizationGrad", Infer: inferNormGrad, FLOPs: perInput(8), Recompute: always},
		Rule{Type: "InstanceNormalization", Infer: inferUnary, FLOPs: perInput(5), Recompute: always},
		Rule{Type: "GroupNormalization", Infer: inferUnary, FLOPs: perInput(5), Recompute: always},
		Rule{Type: "MeanVarianceNormalization", Infer: inferUnary, FLOPs: perInput(5), Recompute: always},
		Rule{Type: "LpNormalization", Infer: inferUnary, FLOPs: perInput(3), Recompute: always},
		Rule{Type: "LRN", Infer: inferUnary, FLOPs: lrnFLOPs, Recompute: always},
	)
}

// inferBatchNorm: Y has X's type; every other output (running or saved
// mean/variance) is per channel, [C], with the scale's type.
func inferBatchNorm(c *Ctx) error {
	x, scale := c.in(0), c.in(1)
	c.set(0, x)
	ch := Tensor{Elem: scale.Elem, Dims: []int64{-1}, Rank: 1}
	if scale.Rank == 1 {
		ch = scale
	} else if x.Rank >= 2 {
		ch.Dims[0] = x.Dims[1]
	}
	if ch.Elem == 0 {
		ch.Elem = x.Elem
	}
	for i := 1; i < len(c.Out); i++ {
		c.set(i, ch)
	}
	return nil
}

// inferNormGrad: inputs dY, X, scale, …; outputs dX (X's type), dScale and
// dBias (scale's type).
func inferNormGrad(c *Ctx) error {
	x := c.in(1)
	if x.Rank < 0 {
		x = c.in(0)
	}
	c.set(0, x)
	c.set(1, c.in(2))
	c.set(2, c.in(2))
	return nil
}

// inferLayerNorm: Y like X; Mean and InvStdDev keep the dims before axis and
// have 1 from axis on, in stash_type (float by default).
func inferLayerNorm(c *Ctx) error {
	x := c.in(0)
	c.set(0, x)
	stash := onnxpb.TensorProto_DataType(attrInt(c.N, "stash_type", int64(onnxpb.TensorProto_FLOAT)))
	if c.N.GetDomain() == "com.microsoft" && attr(c.N, "stash_type") == nil {
		stash = x.Elem
	}
	if x.Rank < 0 {
		for i := 1; i < len(c.Out); i++ {
			c.set(i, Tensor{Elem: stash, Rank: -1})
		}
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", -1), x.Rank)
	if err != nil {
		return err
	}
	stat := shaped(stash, x.Dims)
	for i := axis; i < x.Rank; i++ {
		stat.Dims[i] = 1
	}
	for i := 1; i < len(c.Out); i++ {
		c.set(i, stat)
	}
	return nil
}

func lrnFLOPs(n *onnxpb.NodeProto, in, _ []Tensor) float64 {
	if len(in) == 0 {
		return 0
	}
	return elems(in[0]) * float64(attrInt(n, "size", 5)+3)
}
