package ops

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Indexing ops: Gather (folded on constants: shape arithmetic), GatherElements,
// GatherND, the Scatter family, OneHot, NonZero, TopK.

func init() {
	register(
		Rule{Type: "Gather", Infer: inferGather, FLOPs: zeroFLOPs, Recompute: always},
		Rule{Type: "GatherElements", Infer: inferGatherElements, FLOPs: zeroFLOPs, Recompute: always},
		Rule{Type: "GatherND", Infer: inferGatherND, FLOPs: zeroFLOPs, Recompute: always},
		Rule{Type: "OneHot", Infer: inferOneHot, FLOPs: perOutput(1), Recompute: always},
		Rule{Type: "NonZero", Infer: inferNonZero, FLOPs: perInput(1), Recompute: always},
		Rule{Type: "TopK", Infer: inferTopK, FLOPs: topKFLOPs, Recompute: always},
	)
	// Scatter ops write updates into a copy of data: output = data's type.
	// With duplicate indices and reduction "none" the result depends on the
	// kernel's write order, but a given runtime repeats it; we allow clones.
	registerAs("", []string{"ScatterElements", "Scatter", "ScatterND"},
		Rule{Infer: inferSameAsInput0, FLOPs: scatterFLOPs, Recompute: always, Workspace: scatterWorkspace})
}

func inferSameAsInput0(c *Ctx) error {
	c.set(0, c.in(0))
	return nil
}

func scatterFLOPs(_ *onnxpb.NodeProto, in, _ []Tensor) float64 {
	if len(in) < 3 {
		return 0
	}
	return elems(in[2])
}

func inferGather(c *Ctx) error {
	data, idx := c.in(0), c.in(1)
	if data.Rank < 0 || idx.Rank < 0 {
		r := -1
		if data.Rank >= 0 && idx.Rank >= 0 {
			r = data.Rank + idx.Rank - 1
		}
		c.set(0, ofRank(data.Elem, r))
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", 0), data.Rank)
	if err != nil {
		return err
	}
	dims := append([]int64{}, data.Dims[:axis]...)
	dims = append(dims, idx.Dims...)
	dims = append(dims, data.Dims[axis+1:]...)
	out := Tensor{Elem: data.Elem, Dims: dims, Rank: len(dims)}
	c.set(0, out)
	k, ki := c.konst(0), c.konst(1)
	if k == nil || ki == nil || !out.Static() || !data.Static() {
		return nil
	}
	n, ok := out.Elements()
	if !ok || n > maxConstElems {
		return nil
	}
	outer, inner := int64(1), int64(1)
	for _, d := range data.Dims[:axis] {
		outer *= d
	}
	for _, d := range data.Dims[axis+1:] {
		inner *= d
	}
	ax := data.Dims[axis]
	var ints []int64
	var floats []float64
	for o := int64(0); o < outer; o++ {
		for j := 0; j < ki.Len(); j++ {
			i := ki.Int(j)
			if i < 0 {
				i += ax
			}
			if i < 0 || i >= ax {
				return fmt.Errorf("Gather index %d out of range [0,%d)", ki.Int(j), ax)
			}
			for in := int64(0); in < inner; in++ {
				src := (o*ax+i)*inner + in
				if k.IsFloat() {
					floats = append(floats, k.Floats[src])
				} else {
					ints = append(ints, k.Ints[src])
				}
			}
		}
	}
	if k.IsFloat() {
		c.setConst(0, newConst(k.Elem, dims, floats))
	} else {
		c.setConst(0, newIntConst(k.Elem, dims, ints))
	}
	return nil
}

func inferGatherElements(c *Ctx) error {
	c.set(0, c.in(1).withElem(c.in(0).Elem))
	return nil
}

func inferGatherND(c *Ctx) error {
	data, idx := c.in(0), c.in(1)
	b := int(attrInt(c.N, "batch_dims", 0))
	if data.Rank < 0 || idx.Rank < 1 || idx.Dims[idx.Rank-1] < 0 {
		c.set(0, Tensor{Elem: data.Elem, Rank: -1})
		return nil
	}
	last := int(idx.Dims[idx.Rank-1])
	if b+last > data.Rank {
		return fmt.Errorf("GatherND index depth %d + batch_dims %d > rank %d", last, b, data.Rank)
	}
	dims := append([]int64{}, idx.Dims[:idx.Rank-1]...)
	dims = append(dims, data.Dims[b+last:]...)
	c.set(0, Tensor{Elem: data.Elem, Dims: dims, Rank: len(dims)})
	return nil
}

func inferOneHot(c *Ctx) error {
	idx, values := c.in(0), c.in(2)
	if idx.Rank < 0 {
		c.set(0, Tensor{Elem: values.Elem, Rank: -1})
		return nil
	}
	r := idx.Rank + 1
	axis, err := normAxis(attrInt(c.N, "axis", -1), r)
	if err != nil {
		return err
	}
	depth := int64(-1)
	if k := c.konst(1); k != nil && k.Len() == 1 {
		depth = int64(k.Float(0))
	}
	dims := append([]int64{}, idx.Dims[:axis]...)
	dims = append(dims, depth)
	dims = append(dims, idx.Dims[axis:]...)
	c.set(0, Tensor{Elem: values.Elem, Dims: dims, Rank: r})
	return nil
}

func inferNonZero(c *Ctx) error {
	x := c.in(0)
	r := int64(-1)
	if x.Rank >= 0 {
		r = int64(x.Rank)
	}
	c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: []int64{r, -1}, Rank: 2})
	return nil
}

func inferTopK(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, x)
		c.set(1, x.withElem(onnxpb.TensorProto_INT64))
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", -1), x.Rank)
	if err != nil {
		return err
	}
	k := int64(-1)
	if c.Opset < 10 {
		k = attrInt(c.N, "k", -1)
	} else if kc := c.konst(1); kc != nil && kc.Len() == 1 {
		k = kc.Int(0)
	}
	out := shaped(x.Elem, x.Dims)
	out.Dims[axis] = k
	c.set(0, out)
	c.set(1, out.withElem(onnxpb.TensorProto_INT64))
	return nil
}

func topKFLOPs(_ *onnxpb.NodeProto, in, _ []Tensor) float64 {
	if len(in) == 0 {
		return 0
	}
	return 2 * elems(in[0])
}
