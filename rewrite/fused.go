package rewrite

import "github.com/onnx-recompute/recompute/planner"

// maxFusedDepth bounds how far back a chain of fused producers is followed
// (Transpose → MatMul → Add is two).
const maxFusedDepth = 8

// keepFusions returns s with, right before each recomputation of an op that
// ONNX Runtime fuses with the producer of one of its inputs (fused, as
// ortorder.FusedInputs gives it: op → producers), a recomputation of that
// producer too, and of the producer's own fused producers. A clone that read
// the original producer's output would give it a second reader, and ORT
// would then leave the original pair unfused while it fuses it in the input
// model: MatMul + Add is one Gemm in the original and two kernels in the
// rewrite, and the outputs differ in their last bits (GPT-2's MLP under
// ORT's defaults, docs/ORT.md). Recomputed together, both pairs fuse.
//
// An input of an added producer that is not live at that step is
// recomputed as well (its producer first, up to maxFusedDepth ops back).
// The producer's output is then no longer held from the forward pass to
// the clone, but the added values live at that step; an insertion is kept
// only if the schedule's replayed peak stays at or below that of s, so the
// plan's peak never rises. The cost is the added recomputation; it counts in
// the report's overhead like any clone. added counts the recomputations
// added. The result is s's compute steps with the insertions, with frees
// placed by planner.Liveness.
func keepFusions(g *planner.Graph, s planner.Schedule, fused map[int][]int, unguarded map[int]bool) (out planner.Schedule, added int) {
	if len(fused) == 0 && len(unguarded) == 0 {
		return s, 0
	}
	var order []int
	for _, st := range s {
		if st.Op >= 0 {
			if st.Op >= len(g.Ops) {
				return s, 0 // walk reports it
			}
			order = append(order, st.Op)
		}
	}
	base, err := planner.Replay(g, planner.Liveness(g, order))
	if err != nil {
		return s, 0
	}
	k := &keeper{
		g:         g,
		fused:     fused,
		unguarded: unguarded,
		runs:      make([]int, len(g.Ops)),
		live:      make([]bool, len(g.Values)),
		lastRun:   make([]int, len(g.Ops)),
		producer:  make([]int, len(g.Values)),
	}
	for i := range k.lastRun {
		k.lastRun[i] = -1
	}
	for i := range k.producer {
		k.producer[i] = -1
	}
	for i := range g.Ops {
		if op := &g.Ops[i]; !op.Backward {
			for _, v := range op.Outputs {
				if k.producer[v] < 0 {
					k.producer[v] = i
				}
			}
		}
	}
	// Candidates: at compute position pos (in order), run ops first.
	type insertion struct {
		pos int
		ops []int
	}
	var cands []insertion
	pos, clock := 0, 0
	run := func(op int) {
		k.lastRun[op] = clock
		k.runs[op]++
		clock++
		for _, v := range g.Ops[op].Outputs {
			k.live[v] = true
		}
	}
	for _, st := range s {
		if st.Op < 0 {
			if st.Free >= 0 && st.Free < len(k.live) {
				k.live[st.Free] = false
			}
			continue
		}
		if k.lastRun[st.Op] >= 0 && !g.Ops[st.Op].Backward && (len(fused[st.Op]) > 0 || unguarded[st.Op]) {
			var acc []int
			if k.fresh(st.Op, 0, &acc, map[int]bool{}) && len(acc) > 0 {
				cands = append(cands, insertion{pos, acc})
				for _, p := range acc {
					run(p)
				}
			}
		}
		run(st.Op)
		pos++
	}
	if len(cands) == 0 {
		return s, 0
	}
	build := func(take []bool) ([]int, int) {
		o := make([]int, 0, len(order)+8*len(cands))
		n, c := 0, 0
		for i, op := range order {
			for c < len(cands) && cands[c].pos == i {
				if take[c] {
					o = append(o, cands[c].ops...)
					n += len(cands[c].ops)
				}
				c++
			}
			o = append(o, op)
		}
		return o, n
	}
	fits := func(o []int) (planner.Schedule, bool) {
		sc := planner.Liveness(g, o)
		r, err := planner.Replay(g, sc)
		return sc, err == nil && r.PeakBytes <= base.PeakBytes
	}
	take := make([]bool, len(cands))
	for i := range take {
		take[i] = true
	}
	if o, n := build(take); n > 0 {
		if sc, ok := fits(o); ok {
			return sc, n
		}
	}
	// One at a time, in schedule order, each kept if the peak holds.
	const maxTries = 256
	for i := range take {
		take[i] = false
	}
	best, bestN := s, 0
	for i := range cands {
		if i >= maxTries {
			break
		}
		take[i] = true
		o, n := build(take)
		if sc, ok := fits(o); ok {
			best, bestN = sc, n
		} else {
			take[i] = false
		}
	}
	return best, bestN
}

// keeper is the state of one keepFusions pass.
type keeper struct {
	g         *planner.Graph
	fused     map[int][]int
	unguarded map[int]bool // ops whose clones get no guard (ortorder.Unguarded)
	runs      []int        // per op: how often it ran so far
	live      []bool       // per value: written and not freed so far
	lastRun   []int        // per op: when it last ran, -1 if not yet
	producer  []int        // per value: its forward producer, -1 if none
}

// fresh appends to acc, in run order, the recomputations that make each
// fused input of op x fresh: written after x last ran, so that x's clone is
// its only reader. A clone of an unguarded op must moreover read at least
// one recomputed value, or ORT's CSE merges it into its original: if none
// of its inputs is one, its first computed input is recomputed too. fresh
// reports false, leaving acc to be discarded, when that cannot be done at
// this step.
func (k *keeper) fresh(x, depth int, acc *[]int, planned map[int]bool) bool {
	for _, p := range k.fused[x] {
		if planned[p] || k.lastRun[p] > k.lastRun[x] {
			continue
		}
		if !k.recompute(p, depth+1, acc, planned) {
			return false
		}
	}
	if !k.unguarded[x] {
		return true
	}
	first := -1
	for _, v := range k.g.Ops[x].Inputs {
		if k.g.Values[v].Resident {
			continue
		}
		q := k.producer[v]
		if q >= 0 && (planned[q] || k.runs[q] > 1) {
			return true // reads a clone
		}
		if first < 0 {
			first = q
		}
	}
	return first >= 0 && k.recompute(first, depth+1, acc, planned)
}

// recompute appends op p to acc after what it needs: its fused inputs made
// fresh and its other inputs live.
func (k *keeper) recompute(p, depth int, acc *[]int, planned map[int]bool) bool {
	op := &k.g.Ops[p]
	if depth > maxFusedDepth || op.Backward || !op.Recomputable || k.lastRun[p] < 0 {
		return false
	}
	if !k.fresh(p, depth, acc, planned) {
		return false
	}
	for _, v := range op.Inputs {
		if k.g.Values[v].Resident || k.live[v] || k.writtenBy(v, *acc) {
			continue
		}
		q := k.producer[v]
		if q < 0 || planned[q] || !k.recompute(q, depth+1, acc, planned) {
			return false
		}
	}
	planned[p] = true
	*acc = append(*acc, p)
	return true
}

// writtenBy reports whether one of ops writes value v.
func (k *keeper) writtenBy(v int, ops []int) bool {
	for _, o := range ops {
		for _, w := range k.g.Ops[o].Outputs {
			if w == v {
				return true
			}
		}
	}
	return false
}
