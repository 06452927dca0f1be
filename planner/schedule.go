package planner

import "fmt"

// orderFor turns a lower-set sequence (bitsets over the DAG's nodes, the
// last one V) into an order of compute steps — the canonical strategy of
// PAPER.md §3 with the explicit backward reads:
//
//   - forward: segment by segment, every forward op once (ops that are not
//     DAG nodes, e.g. constants, first); at the end of each segment but the
//     last, the segment's values that are not kept (boundary ∂(Li), not
//     recomputable, graph outputs) are dropped;
//   - backward: the backward ops in the order bwd; before each one, every
//     forward value it reads that was dropped is recomputed on demand (its
//     producer's inputs first, recursively, down to kept values).
//
// keep (nil, or one flag per DAG node) generalises the kept set: a node
// flagged there is kept like a boundary value even inside its segment (the
// cost-aware candidates of hybrid.go keep expensive values this way and
// recompute only the cheap ones on demand).
//
// Liveness then frees every value after its last use, so a recomputed value
// lives only from its recompute to its last backward read.
func orderFor(g *Graph, ix *index, d *dag, seq []bitset, keep []bool, bwd []int) ([]int, error) {
	segOf := make([]int, d.n)
	for i := range segOf {
		segOf[i] = -1
	}
	prev := newBitset(d.n)
	for i, L := range seq {
		if !prev.subsetOf(L) {
			return nil, fmt.Errorf("lower-set sequence is not increasing at segment %d", i+1)
		}
		for w := range L {
			x := L[w] &^ prev[w]
			for x != 0 {
				segOf[w<<6+trailingZeros64(x)] = i
				x &= x - 1
			}
		}
		prev = L
	}
	for v := 0; v < d.n; v++ {
		if segOf[v] < 0 {
			return nil, fmt.Errorf("lower-set sequence does not end in V (node %d missing)", v)
		}
	}
	// Kept: never recomputed, or in ∂(Li) of its own segment i (a later
	// segment reads it).
	kept := make([]bool, d.n)
	for v := 0; v < d.n; v++ {
		kept[v] = d.kept[v] || keep != nil && keep[v]
		for _, w := range d.succ[v] {
			if segOf[w] > segOf[v] {
				kept[v] = true
			}
		}
	}
	avail := make([]bool, len(g.Values))
	order := make([]int, 0, len(g.Ops)*2)
	run := func(o int) {
		order = append(order, o)
		for _, v := range g.Ops[o].Outputs {
			avail[v] = true
		}
	}
	// Forward, segment by segment.
	k := len(seq)
	bySeg := make([][]int, k)
	for _, o := range ix.fwdOps {
		if n := d.nodeOf[o]; n >= 0 {
			bySeg[segOf[n]] = append(bySeg[segOf[n]], o)
		} else {
			run(o)
		}
	}
	for i := 0; i < k; i++ {
		for _, o := range bySeg[i] {
			run(o)
		}
		if i == k-1 {
			break
		}
		for _, o := range bySeg[i] {
			if !kept[d.nodeOf[o]] {
				for _, v := range g.Ops[o].Outputs {
					if !g.Values[v].Resident {
						avail[v] = false
					}
				}
			}
		}
	}
	// Backward, recomputing on demand.
	var ensure func(v, depth int) error
	ensure = func(v, depth int) error {
		if avail[v] || g.Values[v].Resident {
			return nil
		}
		p := ix.fwdProducer[v]
		if p < 0 {
			return nil // a gradient not written yet: Replay will say so
		}
		if !g.Ops[p].Recomputable {
			return fmt.Errorf("value %s must be recomputed but its op %s (%s) may not be", g.Values[v].Name, g.Ops[p].Name, g.Ops[p].Type)
		}
		if depth > len(g.Ops) {
			return fmt.Errorf("recompute of %s does not terminate", g.Values[v].Name)
		}
		for _, u := range g.Ops[p].Inputs {
			if err := ensure(u, depth+1); err != nil {
				return err
			}
		}
		run(p)
		return nil
	}
	for _, o := range bwd {
		for _, v := range g.Ops[o].Inputs {
			if err := ensure(v, 0); err != nil {
				return nil, err
			}
		}
		run(o)
	}
	return order, nil
}
