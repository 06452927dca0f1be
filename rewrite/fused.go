package rewrite

import "github.com/onnx-recompute/recompute/planner"

// maxFusedDepth bounds how far back a chain of fused producers is followed
// (Transpose → MatMul → Add is two).
const maxFusedDepth = 8

// keepFusions returns s changed so that no recomputation clone reads a
// value that ONNX Runtime fuses away: the output of a producer that ORT
// merges with the op being recomputed (fused, as ortorder.FusedInputs gives
// it: op → producers). Such a clone would give the value a second reader,
// and ORT would then leave the original pair unfused while it fuses it in
// the input model: MatMul + Add is one Gemm in the original and two kernels
// in the rewrite, and the outputs differ in their last bits (GPT-2's MLP
// under ORT's defaults, docs/ORT.md). For each such step, in schedule order:
//
//   - the clone is left out and the original output held instead (dropped),
//     where no op fuses with its output: for a bias Add the held output is
//     as large as the MatMul output the plan held for it, and nothing runs
//     again; or else
//   - the producer is recomputed right before it, with the producer's own
//     fused producers and any input that is not live there (added), so
//     that both the original pair and the clone pair have one reader and
//     fuse alike.
//
// A clone of an unguarded op (ortorder.Unguarded: a MatMul ORT turns into
// a Gemm, which cannot carry a guard) must moreover read a recomputed
// value, or ORT's CSE merges it into its original: one of its inputs is
// recomputed with it.
//
// A change is kept only if the schedule's replayed peak stays at or below
// that of s, so the plan's peak never rises; added recomputations count in
// the report's overhead like any clone. Where neither change fits, the step
// is left as it was. The result has s's compute steps with the changes,
// and frees placed by planner.Liveness.
func keepFusions(g *planner.Graph, s planner.Schedule, fused map[int][]int, unguarded map[int]bool) (out planner.Schedule, added, dropped int) {
	if len(fused) == 0 && len(unguarded) == 0 {
		return s, 0, 0
	}
	var order []int
	for _, st := range s {
		if st.Op >= 0 {
			if st.Op >= len(g.Ops) {
				return s, 0, 0 // walk reports it
			}
			order = append(order, st.Op)
		}
	}
	base, err := planner.Replay(g, planner.Liveness(g, order))
	if err != nil {
		return s, 0, 0
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
	// fusedInto: ops whose output some op fuses with (a clone of one
	// cannot be left out: its reader's clone would read the original).
	fusedInto := map[int]bool{}
	for _, ps := range fused {
		for _, p := range ps {
			fusedInto[p] = true
		}
	}
	k.fusedInto = fusedInto
	// A candidate is a recompute step at position pos of order whose clone
	// would read a fused value: it can be left out (drop: the original
	// output is held instead) or get ops recomputed first (held or ops,
	// nil where that cannot be done).
	type candidate struct {
		pos  int
		held []int // ops to run first, inputs that are not live held
		ops  []int // ops to run first, inputs that are not live recomputed
		drop bool
	}
	var cands []candidate
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
		if x := st.Op; k.lastRun[x] >= 0 && !g.Ops[x].Backward && (len(fused[x]) > 0 || unguarded[x]) {
			var opts [2][]int // [0]: inputs held, [1]: inputs recomputed
			need := false
			for h := range opts {
				k.hold = h == 0
				var acc []int
				if k.fresh(x, 0, &acc, map[int]bool{}) {
					if len(acc) == 0 {
						opts = [2][]int{}
						need = false
						break // nothing to do: x's fused inputs are fresh
					}
					opts[h] = acc
				}
				need = true
			}
			c := candidate{pos: pos, held: opts[0], ops: opts[1], drop: len(fused[x]) > 0 && !fusedInto[x]}
			if need && (c.drop || c.held != nil || c.ops != nil) {
				cands = append(cands, c)
			}
			run2 := opts[1]
			if run2 == nil {
				run2 = opts[0]
			}
			for _, p := range run2 {
				run(p)
			}
		}
		run(st.Op)
		pos++
	}
	if len(cands) == 0 {
		return s, 0, 0
	}
	const (
		keep = iota // the step as the plan has it
		drop
		hold
		insert
	)
	build := func(choice []int) (o []int, nIns, nDrop int) {
		o = make([]int, 0, len(order)+8*len(cands))
		c := 0
		for i, op := range order {
			skip := false
			for c < len(cands) && cands[c].pos == i {
				switch choice[c] {
				case hold:
					o = append(o, cands[c].held...)
					nIns += len(cands[c].held)
				case insert:
					o = append(o, cands[c].ops...)
					nIns += len(cands[c].ops)
				case drop:
					skip = true
					nDrop++
				}
				c++
			}
			if !skip {
				o = append(o, op)
			}
		}
		return o, nIns, nDrop
	}
	fits := func(o []int) (planner.Schedule, bool) {
		sc := planner.Liveness(g, o)
		r, err := planner.Replay(g, sc)
		return sc, err == nil && r.PeakBytes <= base.PeakBytes
	}
	// All at once first, each the cheapest way it can be done.
	choice := make([]int, len(cands))
	for i, c := range cands {
		switch {
		case c.drop:
			choice[i] = drop
		case c.held != nil:
			choice[i] = hold
		case c.ops != nil:
			choice[i] = insert
		}
	}
	if o, ni, nd := build(choice); ni+nd > 0 {
		if sc, ok := fits(o); ok {
			return sc, ni, nd
		}
	}
	// One at a time, in schedule order, each kept if the peak holds, the
	// cheapest first: leaving the clone out runs nothing, holding inputs
	// runs only the fused producers.
	const maxTries = 256
	clear(choice)
	best, bestIns, bestDrop := s, 0, 0
	for i, c := range cands {
		if i >= maxTries {
			break
		}
		for _, try := range []int{drop, hold, insert} {
			if try == drop && !c.drop || try == hold && c.held == nil || try == insert && c.ops == nil {
				continue
			}
			choice[i] = try
			o, ni, nd := build(choice)
			if sc, ok := fits(o); ok {
				best, bestIns, bestDrop = sc, ni, nd
				break
			}
			choice[i] = keep
		}
	}
	return best, bestIns, bestDrop
}

// keeper is the state of one keepFusions pass.
type keeper struct {
	g         *planner.Graph
	fused     map[int][]int
	unguarded map[int]bool // ops whose clones get no guard (ortorder.Unguarded)
	fusedInto map[int]bool // ops some op fuses with the output of
	// hold: an input that is not live is held from its last instance
	// (planner.Liveness extends its life) rather than recomputed, unless
	// an op fuses with it (a new reader would split that pair).
	hold     bool
	runs     []int  // per op: how often it ran so far
	live     []bool // per value: written and not freed so far
	lastRun  []int  // per op: when it last ran, -1 if not yet
	producer []int  // per value: its forward producer, -1 if none
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
		if k.hold && q >= 0 && !k.fusedInto[q] {
			continue
		}
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
