package planner

import (
	"math"
	"sort"
)

// Cost-aware candidates (time objective under a budget).
//
// A lower-set sequence drops every value of a segment but its boundary, so
// the backward pass recomputes expensive ops (convolutions, matrix
// products) together with the cheap ones (normalisation, activations,
// additions) that follow them. The classic remedy keeps the outputs of
// expensive ops and recomputes only cheap ones on demand. hybrid takes the
// DP's replayed sequences that fit the budget and, for a falling threshold
// on recompute cost per byte, also keeps every node above the threshold
// (orderFor's keep set): more is kept, less recomputed, the peak rises. A
// bisection over the thresholds finds, per sequence, the most that can be
// kept within the budget. Every candidate is scheduled and replayed like
// the DP's; choose judges them all by their replay.

// costPerByte ranks the DAG's nodes for keeping: the cost of recomputing
// the node (its op, plus, recursively, the nodes it would need that are
// themselves cheaper to recompute than to keep — approximated by the
// op's own cost) per byte it occupies. Nodes that are kept anyway get -1.
func costPerByte(g *Graph, d *dag) []float64 {
	s := make([]float64, d.n)
	for v := 0; v < d.n; v++ {
		switch {
		case d.kept[v]:
			s[v] = -1
		case d.mem[v] <= 0:
			s[v] = math.Inf(1) // keeping it costs nothing
		default:
			s[v] = g.Ops[d.op[v]].Cost / float64(d.mem[v])
		}
	}
	return s
}

// hybridMaxBases bounds the DP sequences hybrid starts from: the ones with
// the lowest replayed peak first, since they leave the most room under the
// budget for kept values (measured on ResNet-50 batch 32: the best hybrid
// at 50% comes from the 4 lowest-peak bases, at 70% from the 8 lowest).
const hybridMaxBases = 8

// hybrid adds the cost-aware candidates built on the replayed DP sequences
// of model m that fit the budget. Only with a budget and objective time:
// without a budget the memory objective wants the least peak, and keeping
// more never lowers it.
func (c *planCtx) hybrid(m *dpModel) error {
	if c.budget <= 0 || c.opt.Objective != "time" {
		return nil
	}
	d := c.d
	score := costPerByte(c.g, d)
	var ths []float64
	for _, x := range score {
		if x > 0 {
			ths = append(ths, x)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ths)))
	ths = uniqFloats(ths)
	if len(ths) == 0 {
		return nil
	}
	var bases []*candidate
	seen := map[string]bool{}
	for _, x := range c.cands {
		if x.model != m || x.keep != nil || x.rep.PeakBytes > c.budget || x.rep.OverheadCost == 0 {
			continue
		}
		k := seqKey(x.seq)
		if seen[k] {
			continue
		}
		seen[k] = true
		bases = append(bases, x)
	}
	sort.SliceStable(bases, func(a, b int) bool {
		if pa, pb := bases[a].rep.PeakBytes, bases[b].rep.PeakBytes; pa != pb {
			return pa < pb
		}
		return bases[a].rep.OverheadCost < bases[b].rep.OverheadCost
	})
	if len(bases) > hybridMaxBases {
		bases = bases[:hybridMaxBases]
	}
	keepAt := func(k int) []bool {
		keep := make([]bool, d.n)
		t := ths[k-1]
		for v, x := range score {
			keep[v] = x >= t
		}
		return keep
	}
	for _, base := range bases {
		bits := make([]bitset, len(base.seq))
		for i, j := range base.seq {
			bits[i] = m.fam[j].bits
		}
		// k = 0 is the base (fits); k = len(ths) keeps every node.
		lo, hi := 0, len(ths)+1
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			keep := keepAt(mid)
			x, err := c.build(bits, keep, base.predicted)
			if err != nil {
				return err
			}
			x.seq, x.model, x.keep = base.seq, m, keep
			// The DP models the sequence without the kept values: the
			// prediction of a hybrid is its replay.
			x.predicted = x.rep.PeakBytes
			c.cands = append(c.cands, x)
			if x.rep.PeakBytes <= c.budget {
				lo = mid
			} else {
				hi = mid
			}
		}
	}
	return c.fill(score)
}

// hybridFillEvals bounds the schedules fill replays.
const hybridFillEvals = 48

// fill improves the best cost-aware candidate one value at a time: a
// threshold step can add many values at once and overshoot the budget, so
// the recomputed values below the threshold are tried one by one, highest
// cost per byte first, each kept if the replay still fits the budget with
// less overhead (first improvement, bounded by hybridFillEvals).
func (c *planCtx) fill(score []float64) error {
	var cur *candidate
	for _, x := range c.cands {
		if x.keep != nil && x.rep.PeakBytes <= c.budget && (cur == nil || c.better(x, cur)) {
			cur = x
		}
	}
	if cur == nil {
		return nil
	}
	d := c.d
	var order []int
	for _, o := range cur.rep.Recomputed {
		if v := d.nodeOf[o]; v >= 0 && !cur.keep[v] && !d.kept[v] {
			order = append(order, v)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return score[order[a]] > score[order[b]] })
	bits := make([]bitset, len(cur.seq))
	for i, j := range cur.seq {
		bits[i] = cur.model.fam[j].bits
	}
	evals := 0
	for _, v := range order {
		if evals >= hybridFillEvals {
			break
		}
		keep := append([]bool(nil), cur.keep...)
		keep[v] = true
		x, err := c.build(bits, keep, cur.predicted)
		if err != nil {
			return err
		}
		evals++
		x.seq, x.model, x.keep, x.predicted = cur.seq, cur.model, keep, x.rep.PeakBytes
		if x.rep.PeakBytes <= c.budget && c.better(x, cur) {
			c.cands = append(c.cands, x)
			cur = x
		}
	}
	return nil
}

func uniqFloats(a []float64) []float64 {
	out := a[:0]
	for i, x := range a {
		if i == 0 || x != a[i-1] {
			out = append(out, x)
		}
	}
	return out
}
