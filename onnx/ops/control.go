package ops

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Control flow: If, Loop, Scan. Their outputs are inferred from their
// subgraphs, run in the scope of the enclosing graph. Nodes with subgraphs
// are never recomputed (Recomputable refuses any node with a graph
// attribute). FLOPs of a body are not counted (a small default).

func init() {
	register(
		Rule{Type: "If", Infer: inferIf, FLOPs: zeroFLOPs, Recompute: never},
		Rule{Type: "Loop", Infer: inferLoop, FLOPs: zeroFLOPs, Recompute: never},
		Rule{Type: "Scan", Infer: inferScan, FLOPs: zeroFLOPs, Recompute: never},
	)
}

// inferLoop: inputs M, cond, v_initial…; body (iter_num, cond, v…) →
// (cond, v…, scan…). Outputs: the final v… and each scan output stacked
// along a new leading axis of the iteration count (known only for a
// constant M and no condition).
func inferLoop(c *Ctx) error {
	a := attr(c.N, "body")
	if a == nil || a.GetG() == nil {
		return nil
	}
	nv := len(c.In) - 2
	if nv < 0 {
		nv = 0
	}
	ins := []Tensor{
		{Elem: onnxpb.TensorProto_INT64, Dims: []int64{}, Rank: 0},
		{Elem: onnxpb.TensorProto_BOOL, Dims: []int64{}, Rank: 0},
	}
	for i := 0; i < nv; i++ {
		ins = append(ins, c.in(2+i))
	}
	outs := c.inf.subgraphOutputsWith(a.GetG(), ins)
	trips := int64(-1)
	if k := c.konst(0); k != nil && k.Len() == 1 && !c.has(1) {
		trips = k.Int(0)
	}
	for i := range c.Out {
		bi := 1 + i // body output index (after cond)
		if bi >= len(outs) {
			break
		}
		if i < nv {
			c.set(i, unify(c.in(2+i), outs[bi]))
			continue
		}
		t := outs[bi]
		if t.Rank < 0 {
			c.set(i, Tensor{Elem: t.Elem, Rank: -1})
			continue
		}
		c.set(i, Tensor{Elem: t.Elem, Dims: append([]int64{trips}, t.Dims...), Rank: t.Rank + 1})
	}
	return nil
}

// inferScan (opset 9+): inputs are N initial states then M scan inputs; the
// body sees the states and one slice of each scan input; outputs are the
// final states and the K scan outputs with the sequence length inserted at
// their scan_output_axes.
func inferScan(c *Ctx) error {
	a := attr(c.N, "body")
	if a == nil || a.GetG() == nil || c.Opset < 9 {
		return nil
	}
	m := int(attrInt(c.N, "num_scan_inputs", 0))
	n := len(c.In) - m
	if m <= 0 || n < 0 {
		return nil
	}
	inAxes, _ := attrInts(c.N, "scan_input_axes")
	outAxes, _ := attrInts(c.N, "scan_output_axes")
	ins := make([]Tensor, 0, len(c.In))
	for i := 0; i < n; i++ {
		ins = append(ins, c.in(i))
	}
	seq := int64(-1)
	for j := 0; j < m; j++ {
		x := c.in(n + j)
		if x.Rank < 1 {
			ins = append(ins, Tensor{Elem: x.Elem, Rank: -1})
			continue
		}
		ax := int64(0)
		if j < len(inAxes) {
			ax = inAxes[j]
		}
		axis, err := normAxis(ax, x.Rank)
		if err != nil {
			return err
		}
		if seq < 0 {
			seq = x.Dims[axis]
		}
		d := append(append([]int64{}, x.Dims[:axis]...), x.Dims[axis+1:]...)
		ins = append(ins, Tensor{Elem: x.Elem, Dims: d, Rank: len(d)})
	}
	outs := c.inf.subgraphOutputsWith(a.GetG(), ins)
	for i := range c.Out {
		if i >= len(outs) {
			break
		}
		if i < n {
			c.set(i, unify(c.in(i), outs[i]))
			continue
		}
		t := outs[i]
		if t.Rank < 0 {
			c.set(i, Tensor{Elem: t.Elem, Rank: -1})
			continue
		}
		ax := int64(0)
		if k := i - n; k < len(outAxes) {
			ax = outAxes[k]
		}
		axis, err := normAxis(ax, t.Rank+1)
		if err != nil {
			return err
		}
		d := append(append(append([]int64{}, t.Dims[:axis]...), seq), t.Dims[axis:]...)
		c.set(i, Tensor{Elem: t.Elem, Dims: d, Rank: len(d)})
	}
	return nil
}

func inferIf(c *Ctx) error {
	var branches [][]Tensor
	for _, name := range []string{"then_branch", "else_branch"} {
		if a := attr(c.N, name); a != nil && a.GetG() != nil {
			branches = append(branches, c.inf.subgraphOutputs(a.GetG()))
		}
	}
	// A constant condition picks its branch.
	if k := c.konst(0); k != nil && k.Len() == 1 && len(branches) == 2 {
		if k.Int(0) != 0 {
			branches = branches[:1]
		} else {
			branches = branches[1:]
		}
	}
	for i := range c.Out {
		t := unknownTensor
		for j, b := range branches {
			if i >= len(b) {
				continue
			}
			if j == 0 {
				t = b[i]
			} else {
				t = unify(t, b[i])
			}
		}
		c.set(i, t)
	}
	return nil
}

// unify is the most precise type both a and b satisfy.
func unify(a, b Tensor) Tensor {
	out := Tensor{Elem: a.Elem, Rank: -1}
	switch {
	case a.Elem == 0:
		out.Elem = b.Elem
	case b.Elem != 0 && b.Elem != a.Elem:
		out.Elem = 0
	}
	if a.Rank < 0 || a.Rank != b.Rank {
		return out
	}
	out = ofRank(out.Elem, a.Rank)
	for i := range out.Dims {
		if a.Dims[i] == b.Dims[i] {
			out.Dims[i] = a.Dims[i]
		}
	}
	return out
}
