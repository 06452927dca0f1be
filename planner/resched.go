package planner

import "slices"

// Peak-directed rescheduling: a local search on a replayed schedule, past
// the lower-set framework of PAPER.md. The framework keeps every boundary
// value of a segment from the forward pass until that segment's backward,
// and runs each backward op where the base order puts it; on networks with
// long skip connections (U-Net) the peak then holds values nobody touches
// for most of the backward pass: the encoder's activation that only its own
// backward reads again, or a skip connection's gradient made long before the
// encoder's backward adds it up. Two moves free such an idle value v at the
// peak:
//
//   - recompute: v's forward producer (and, if its inputs are gone by then,
//     theirs: a short chain of recomputable forward ops) runs again right
//     before v's next backward reader, so v is freed after its last use
//     before the peak (recomputation cost: the chain's; up to
//     reschedChainOps ops, enough for a few residual blocks or dense
//     layers from the checkpoint before them);
//   - delay: the backward op writing v moves to right before the first
//     reader of its outputs (no cost; its inputs live longer instead).
//
// Every move is judged by replaying the whole schedule; a move is kept only
// if it lowers the transient peak. Afterwards prune removes recomputations
// the final peak (or the budget) does not need, costliest first. Plans stay
// reproducible: moves are tried in a fixed order and the number of replays
// is bounded by graph size (replayBudget).

const (
	reschedWork     = 2_000_000 // op-steps of replay per search, about
	reschedMinEvals = 60
	reschedMaxEvals = 2000
	reschedChainOps = 64 // ops one recompute move may run
	reschedTries    = 24 // idle values tried per peak
)

// reschedule improves x's replayed peak with recompute and delay moves. It
// stops when no move lowers the peak or, with stopAt > 0, as soon as the
// peak is at most stopAt. It returns nil when nothing improved.
// replayBudget is how many whole-schedule replays one search of this file
// (reschedule, prune) may run: about reschedWork op-steps in all.
func (c *planCtx) replayBudget() int {
	return min(max(reschedWork/max(len(c.g.Ops), 1), reschedMinEvals), reschedMaxEvals)
}

func (c *planCtx) reschedule(x *candidate, stopAt int64) *candidate {
	g := c.g
	maxEvals := c.replayBudget()
	order := x.order
	peak := x.rep.PeakBytes
	// The moves are found on the order's own liveness schedule (x's may
	// free differently); after that, on the accepted move's.
	cs := Liveness(g, order)
	crep, err := Replay(g, cs)
	if err != nil {
		return nil
	}
	var best *candidate
	moves := 0
	for evals := 0; evals < maxEvals && (stopAt <= 0 || peak > stopAt); {
		improved := false
		for _, next := range c.reschedMoves(order, cs, crep) {
			if evals >= maxEvals {
				break
			}
			evals++
			s := Liveness(g, next)
			rep, err := Replay(g, s)
			if err != nil || rep.PeakBytes >= peak {
				continue
			}
			order, peak, cs, crep = next, rep.PeakBytes, s, rep
			moves++
			best = &candidate{seq: x.seq, model: x.model, keep: x.keep, segments: x.segments, predicted: x.predicted,
				order: next, sched: s, rep: rep, resched: moves}
			improved = true
			break
		}
		if !improved {
			break
		}
	}
	return best
}

// prune removes recomputations from x's order while the replayed peak
// stays at most limit: the rescheduling moves add recompute chains greedily,
// and a later move can make an earlier chain unnecessary (its value could
// as well stay live). Costliest recomputations are tried first, each judged
// by replay, at most replayBudget of them. It returns x itself when nothing
// could be removed.
func (c *planCtx) prune(x *candidate, limit int64) *candidate {
	g := c.g
	maxEvals := c.replayBudget()
	order := x.order
	seen := make([]bool, len(g.Ops))
	var pos []int // positions of recompute steps
	for p, o := range order {
		if seen[o] && !g.Ops[o].Backward {
			pos = append(pos, p)
		}
		seen[o] = true
	}
	slices.SortStableFunc(pos, func(a, b int) int {
		ca, cb := g.Ops[order[a]].Cost, g.Ops[order[b]].Cost
		switch {
		case ca > cb:
			return -1
		case ca < cb:
			return 1
		}
		return b - a // later first
	})
	best := x
	for i, evals := 0, 0; i < len(pos) && evals < maxEvals; i++ {
		p := pos[i]
		evals++
		next := make([]int, 0, len(order)-1)
		next = append(append(next, order[:p]...), order[p+1:]...)
		s := Liveness(g, next)
		rep, err := Replay(g, s)
		if err != nil || rep.PeakBytes > limit {
			continue
		}
		order = next
		for j := i + 1; j < len(pos); j++ {
			if pos[j] > p {
				pos[j]--
			}
		}
		best = &candidate{seq: x.seq, model: x.model, keep: x.keep, segments: x.segments, predicted: x.predicted,
			order: next, sched: s, rep: rep, resched: x.resched, pruned: best.pruned + 1}
	}
	return best
}

// reschedMoves lists the candidate orders for order's peak (s and rep: its
// Liveness schedule, replayed): one move each, largest idle value first.
func (c *planCtx) reschedMoves(order []int, s Schedule, rep *Replayed) [][]int {
	g, ix := c.g, c.ix
	// q: the position in order of the compute step at the peak.
	at := peakStep(g, s, rep)
	if at < 0 {
		return nil
	}
	q := -1
	for _, st := range s[:at+1] {
		if st.Op >= 0 {
			q++
		}
	}
	nv := len(g.Values)
	reads, writes := positions(g, order)
	atQ := map[int]bool{}
	for _, v := range g.Ops[order[q]].Inputs {
		atQ[v] = true
	}
	for _, v := range g.Ops[order[q]].Outputs {
		atQ[v] = true
	}
	// The backward phase starts at the first backward op: a recompute is
	// only inserted there (in the forward phase the rewrite keeps forward
	// consumers on the original values).
	firstBwd := len(order)
	for p, o := range order {
		if g.Ops[o].Backward {
			firstBwd = p
			break
		}
	}
	// Idle values live across q: last written before q, not touched at q,
	// next read in the backward phase after q with no write in between.
	type idle struct {
		v, w, u int // value, position of its last write before q, of its next read
	}
	var cands []idle
	for v := range nv {
		val := &g.Values[v]
		if val.Resident || val.Output || val.Bytes <= 0 || atQ[v] {
			continue
		}
		w := lastBefore(writes[v], q)
		u := firstAfter(reads[v], q)
		if w < 0 || u < 0 {
			continue
		}
		if nw := firstAfter(writes[v], w); nw >= 0 && nw < u {
			continue // rewritten before its next read: not live at q
		}
		if u <= firstBwd {
			continue
		}
		cands = append(cands, idle{v, w, u})
	}
	// Largest first; ties by value index, so the search is reproducible.
	sortIdle := func(a, b idle) int {
		if x, y := g.Values[a.v].Bytes, g.Values[b.v].Bytes; x != y {
			if x > y {
				return -1
			}
			return 1
		}
		return a.v - b.v
	}
	slices.SortFunc(cands, sortIdle)
	if len(cands) > reschedTries {
		cands = cands[:reschedTries]
	}
	var out [][]int
	for _, cd := range cands {
		p := order[cd.w]
		if g.Ops[p].Backward {
			if next := delayMove(g, ix, order, cd.w, reads, writes); next != nil {
				out = append(out, next)
			}
			continue
		}
		if next := recomputeMove(g, ix, order, cd.v, cd.u, reads, writes); next != nil {
			out = append(out, next)
		}
		if !g.Ops[order[cd.u]].Backward {
			if next := hoistMove(g, ix, order, cd.v, q, firstBwd, reads, writes); next != nil {
				out = append(out, next)
			}
		}
	}
	return out
}

// recomputeMove inserts, right before position u, the forward producer of v
// and, for inputs not live at u, their producers (recomputable forward ops
// only, at most reschedChainOps in all, in dependency order).
func recomputeMove(g *Graph, ix *index, order []int, v, u int, reads, writes [][]int32) []int {
	var chain []int
	inChain := map[int]bool{}
	var need func(val, depth int) bool
	need = func(val, depth int) bool {
		if g.Values[val].Resident {
			return true
		}
		p := ix.fwdProducer[val]
		// Live at u: written before u and read at or after u, with no
		// rewrite (a recomputation, which starts a new lifetime) before
		// that read.
		if w := lastBefore(writes[val], u); w >= 0 && val != v {
			if r := firstAfter(reads[val], u-1); r >= 0 {
				if nw := firstAfter(writes[val], w); nw < 0 || nw >= r {
					return true
				}
			}
		}
		if p < 0 || !g.Ops[p].Recomputable || len(ix.writers[val]) != 1 {
			// Not recomputable: usable if it was written before u (its
			// lifetime grows to u).
			return val != v && lastBefore(writes[val], u) >= 0
		}
		if inChain[p] {
			return true
		}
		if depth >= reschedChainOps || len(chain) >= reschedChainOps {
			return false
		}
		for _, in := range g.Ops[p].Inputs {
			if !need(in, depth+1) {
				return false
			}
		}
		inChain[p] = true
		chain = append(chain, p)
		return true
	}
	if !need(v, 0) || len(chain) == 0 {
		return nil
	}
	next := make([]int, 0, len(order)+len(chain))
	next = append(next, order[:u]...)
	next = append(next, chain...)
	return append(next, order[u:]...)
}

// hoistMove is the recompute move for a value v whose next readers after
// q are recomputations (forward ops in the backward phase) before its next
// backward reader u: those readers move up to right after v's last use
// before q (their outputs, often smaller, are held instead of v), and v is
// recomputed right before u.
func hoistMove(g *Graph, ix *index, order []int, v, q, firstBwd int, reads, writes [][]int32) []int {
	u := -1
	var hoist []int // positions of the forward readers in (q, u)
	for _, r := range reads[v] {
		if int(r) <= q {
			continue
		}
		if g.Ops[order[r]].Backward {
			u = int(r)
			break
		}
		hoist = append(hoist, int(r))
	}
	if u < 0 || len(hoist) == 0 {
		return nil
	}
	h := max(lastBefore(reads[v], q+1), lastBefore(writes[v], q+1), firstBwd-1) + 1
	if h > q {
		return nil
	}
	moved := make([]int, len(order))
	for _, r := range hoist {
		moved[r] = 1
	}
	base := make([]int, 0, len(order))
	for p, o := range order {
		if p == h {
			for _, r := range hoist {
				base = append(base, order[r])
			}
		}
		if moved[p] == 0 {
			base = append(base, o)
		}
	}
	// u's position is unchanged: the hoisted ops only moved within the
	// positions before it.
	rd, wr := positions(g, base)
	return recomputeMove(g, ix, base, v, u, rd, wr)
}

// positions returns the reads and writes of every value in order, by
// position.
func positions(g *Graph, order []int) (reads, writes [][]int32) {
	nv := len(g.Values)
	reads = make([][]int32, nv)
	writes = make([][]int32, nv)
	for p, o := range order {
		for _, v := range g.Ops[o].Inputs {
			reads[v] = append(reads[v], int32(p))
		}
		for _, v := range g.Ops[o].Outputs {
			writes[v] = append(writes[v], int32(p))
		}
	}
	return reads, writes
}

// delayMove moves the backward op at position w to right before the first
// reader of its outputs, when every value it reads or writes has that one
// writer (no gradient accumulation across the move).
func delayMove(g *Graph, ix *index, order []int, w int, reads, writes [][]int32) []int {
	op := &g.Ops[order[w]]
	u := len(order)
	for _, o := range op.Outputs {
		if len(ix.writers[o]) != 1 {
			return nil
		}
		if r := firstAfter(reads[o], w); r >= 0 && r < u {
			u = r
		}
	}
	for _, in := range op.Inputs {
		if len(ix.writers[in]) > 1 {
			return nil
		}
	}
	if u == len(order) || u <= w+1 {
		return nil
	}
	next := make([]int, 0, len(order))
	next = append(next, order[:w]...)
	next = append(next, order[w+1:u]...)
	next = append(next, order[w])
	return append(next, order[u:]...)
}

// lastBefore returns the last position in ps (ascending) below q, or -1.
func lastBefore(ps []int32, q int) int {
	r := -1
	for _, p := range ps {
		if int(p) >= q {
			break
		}
		r = int(p)
	}
	return r
}

// firstAfter returns the first position in ps (ascending) above q, or -1.
func firstAfter(ps []int32, q int) int {
	for _, p := range ps {
		if int(p) > q {
			return int(p)
		}
	}
	return -1
}
