package ops

import (
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Reductions: Reduce* (axes an attribute before opset 13 for ReduceSum and
// before 18 for the others, an input after), ArgMax/ArgMin.

func init() {
	registerAs("", []string{"ReduceSum"}, Rule{Infer: inferReduce(13), FLOPs: perInput(1), Recompute: always})
	registerAs("", []string{"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"},
		Rule{Infer: inferReduce(18), FLOPs: perInput(2), Recompute: always})
	registerAs("", []string{"ArgMax", "ArgMin"}, Rule{Infer: inferArg, FLOPs: perInput(1), Recompute: always})
}

func inferReduce(axesInputSince int64) func(*Ctx) error {
	return func(c *Ctx) error {
		x := c.in(0)
		keep := attrInt(c.N, "keepdims", 1) != 0
		axes, present, known := c.axesOf(axesInputSince, 1)
		if x.Rank < 0 || !known {
			if keep && x.Rank >= 0 {
				c.set(0, ofRank(x.Elem, x.Rank))
			} else {
				c.set(0, Tensor{Elem: x.Elem, Rank: -1})
			}
			return nil
		}
		if (!present || len(axes) == 0) && attrInt(c.N, "noop_with_empty_axes", 0) != 0 {
			c.set(0, x)
			c.setConst(0, c.konst(0))
			return nil
		}
		red := make([]bool, x.Rank)
		for _, a := range axes {
			i, err := normAxis(a, x.Rank)
			if err != nil {
				return err
			}
			red[i] = true
		}
		all := !present || len(axes) == 0
		dims := []int64{}
		for i, d := range x.Dims {
			switch {
			case all || red[i]:
				if keep {
					dims = append(dims, 1)
				}
			default:
				dims = append(dims, d)
			}
		}
		c.set(0, Tensor{Elem: x.Elem, Dims: dims, Rank: len(dims)})
		allReduced := all
		if !all {
			allReduced = true
			for _, r := range red {
				allReduced = allReduced && r
			}
		}
		if k := c.konst(0); k != nil && allReduced {
			if v, ok := reduceAll(c.N.GetOpType(), k.FloatSlice()); ok {
				c.setConst(0, newConst(k.Elem, dims, []float64{v}))
			}
		}
		return nil
	}
}

// reduceAll folds a full reduction of a constant.
func reduceAll(op string, v []float64) (float64, bool) {
	switch op {
	case "ReduceSum":
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s, true
	case "ReduceProd":
		p := 1.0
		for _, x := range v {
			p *= x
		}
		return p, true
	case "ReduceMax":
		if len(v) == 0 {
			return 0, false
		}
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x)
		}
		return m, true
	case "ReduceMin":
		if len(v) == 0 {
			return 0, false
		}
		m := math.Inf(1)
		for _, x := range v {
			m = math.Min(m, x)
		}
		return m, true
	}
	return 0, false
}

func inferArg(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 0 {
		c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Rank: -1})
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", 0), x.Rank)
	if err != nil {
		return err
	}
	dims := []int64{}
	for i, d := range x.Dims {
		if i == axis {
			if attrInt(c.N, "keepdims", 1) != 0 {
				dims = append(dims, 1)
			}
			continue
		}
		dims = append(dims, d)
	}
	c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: dims, Rank: len(dims)})
	return nil
}
