package ops

// Control flow: If. Its outputs are inferred from its branches, run in the
// scope of the enclosing graph. Nodes with subgraphs are never recomputed
// (Recomputable refuses any node with a graph attribute). Loop and Scan have
// no rule: their outputs come from the file's value_info.

func init() {
	register(Rule{Type: "If", Infer: inferIf, FLOPs: zeroFLOPs, Recompute: never})
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
