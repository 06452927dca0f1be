package planner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Options selects how Make plans.
type Options struct {
	Strategy     string  // none|chen|approx|exact ("" = approx)
	Objective    string  // time|memory ("" = time, or memory when no budget is given)
	BudgetBytes  int64   // 0 = none given
	BudgetFrac   float64 // 0 = none given; fraction of the none peak
	MaxLowerSets int     // exact only; 0 = DefaultMaxLowerSets
}

// DefaultMaxLowerSets bounds the exact DP's family: the DP visits every
// nested pair of lower sets (up to seconds per DP run at this size) and
// keeps at most 2,049 overhead states of 16 bytes per set (under 1 GiB).
const DefaultMaxLowerSets = 30000

// Plan is a replayed recomputation plan.
type Plan struct {
	Strategy, Objective string
	BudgetBytes         int64   // the budget in bytes (0 = none)
	NonePeakBytes       int64   // replayed transient peak of strategy none
	PredictedPeakBytes  int64   // the DP's model (none, chen: the replayed peak... see Note)
	PeakBytes           int64   // replayed transient peak of Schedule
	OverheadCost        float64 // summed cost of the recompute steps
	ForwardCost         float64 // summed cost of the forward ops
	Segments            int     // lower sets in the chosen sequence
	Recomputed          []int   // forward op indexes recomputed at least once
	Schedule            Schedule
	Seconds             float64
	Note                string // e.g. "fell back to none"
	// RescheduleMoves counts the peak-directed rescheduling moves
	// (resched.go) applied after the DP; when positive, PredictedPeakBytes
	// is the DP's estimate of the schedule the moves started from.
	RescheduleMoves int
	// Floor bounds the peak of every schedule from below (Floors).
	Floor Floor
}

// InfeasibleError says the budget is below what the strategy can reach.
// Reason, if set, says why no plan gets lower (the floor).
type InfeasibleError struct {
	BudgetBytes, MinBytes int64
	Reason                string
}

func (e *InfeasibleError) Error() string {
	s := fmt.Sprintf("budget %d bytes (%s) is infeasible: the smallest transient peak this strategy reaches is %d bytes (%s)",
		e.BudgetBytes, HumanBytes(e.BudgetBytes), e.MinBytes, HumanBytes(e.MinBytes))
	if e.Reason != "" {
		s += "; " + e.Reason
	}
	return s
}

// HumanBytes formats n as MiB/GiB with two decimals.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<50:
		return fmt.Sprintf("%.2f PiB", float64(n)/(1<<50))
	case n >= 1<<40:
		return fmt.Sprintf("%.2f TiB", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// strategy is one planning strategy: it proposes candidate lower-set
// sequences; the shared code in Make schedules and replays them.
type strategy func(c *planCtx) error

// strategies is the one table of planning strategies.
var strategies = map[string]strategy{
	"none":   planNone,
	"chen":   planChen,
	"approx": planApprox,
	"exact":  planExact,
}

// Strategies returns the strategy names, sorted.
func Strategies() []string {
	var s []string
	for k := range strategies {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// planCtx carries one Make call.
type planCtx struct {
	g      *Graph
	ix     *index
	d      *dag
	opt    Options
	budget int64 // user budget in bytes, 0 = none
	none   *candidate
	cands  []*candidate
}

// candidate is one replayed schedule.
type candidate struct {
	seq       []int    // family indexes of model (nil: not from a DP)
	model     *dpModel // the DP model seq refers to
	keep      []bool   // extra kept DAG nodes (hybrid.go), nil for none
	segments  int
	predicted int64
	order     []int
	sched     Schedule
	rep       *Replayed
	resched   int // moves of reschedule (resched.go) applied
	pruned    int // recomputations prune (resched.go) removed after them
}

// try schedules and replays a lower-set sequence (see build), records
// the result and returns it.
func (c *planCtx) try(seq []bitset, predicted int64) (*candidate, error) {
	x, err := c.build(seq, nil, predicted)
	if err != nil {
		return nil, err
	}
	c.cands = append(c.cands, x)
	return x, nil
}

// build schedules and replays a lower-set sequence (with the extra kept
// nodes keep, nil for none; see orderFor), once with the backward ops in
// base order and once as soon as possible, and returns the better of the
// two by the plan's criteria.
func (c *planCtx) build(seq []bitset, keep []bool, predicted int64) (*candidate, error) {
	var best *candidate
	for k, bwd := range [][]int{c.ix.bwdOps, c.ix.bwdASAP} {
		if k == 1 && slices.Equal(c.ix.bwdOps, c.ix.bwdASAP) {
			break
		}
		order, err := orderFor(c.g, c.ix, c.d, seq, keep, bwd)
		if err != nil {
			return nil, err
		}
		s := Liveness(c.g, order)
		rep, err := Replay(c.g, s)
		if err != nil {
			return nil, fmt.Errorf("internal error: generated schedule does not replay: %w", err)
		}
		cand := &candidate{segments: len(seq), predicted: predicted, order: order, sched: s, rep: rep}
		if best == nil || c.better(cand, best) {
			best = cand
		}
	}
	return best, nil
}

// better orders candidates by the plan's criteria: within the budget (if
// any) first; then objective memory: lower peak, then less overhead;
// objective time: less overhead, then lower peak. Outside the budget:
// lower peak.
func (c *planCtx) better(a, b *candidate) bool {
	pa, pb := a.rep.PeakBytes, b.rep.PeakBytes
	oa, ob := a.rep.OverheadCost, b.rep.OverheadCost
	if c.budget > 0 {
		fa, fb := pa <= c.budget, pb <= c.budget
		if fa != fb {
			return fa
		}
		if !fa {
			if pa != pb {
				return pa < pb
			}
			return oa < ob
		}
	}
	if c.opt.Objective == "memory" {
		if pa != pb {
			return pa < pb
		}
		return oa < ob
	}
	if oa != ob {
		return oa < ob
	}
	return pa < pb
}

// Make plans recomputation for g. Every returned plan has been replayed.
// A budget the strategy cannot reach gives *InfeasibleError.
func Make(g *Graph, opt Options) (*Plan, error) {
	start := time.Now()
	if opt.Strategy == "" {
		opt.Strategy = "approx"
	}
	strat, ok := strategies[opt.Strategy]
	if !ok {
		return nil, fmt.Errorf("unknown strategy %q (want one of %v)", opt.Strategy, Strategies())
	}
	if opt.BudgetBytes < 0 || opt.BudgetFrac < 0 || (opt.BudgetBytes > 0 && opt.BudgetFrac > 0) {
		return nil, fmt.Errorf("give one budget, in bytes or as a fraction, not negative")
	}
	switch opt.Objective {
	case "":
		opt.Objective = "time"
	case "time", "memory":
	default:
		return nil, fmt.Errorf("unknown objective %q (want time or memory)", opt.Objective)
	}
	if opt.MaxLowerSets <= 0 {
		opt.MaxLowerSets = DefaultMaxLowerSets
	}
	ix, err := g.index()
	if err != nil {
		return nil, err
	}
	c := &planCtx{g: g, ix: ix, opt: opt}
	c.d = buildDAG(g, ix)
	// Strategy none, the reference every plan must beat.
	order, err := noneOrder(g)
	if err != nil {
		return nil, err
	}
	ns := Liveness(g, order)
	nrep, err := Replay(g, ns)
	if err != nil {
		return nil, fmt.Errorf("strategy none does not replay: %w", err)
	}
	c.none = &candidate{segments: 1, predicted: nrep.PeakBytes, order: order, sched: ns, rep: nrep}
	c.budget = opt.BudgetBytes
	if opt.BudgetFrac > 0 {
		c.budget = int64(math.Floor(opt.BudgetFrac * float64(nrep.PeakBytes)))
	}
	floor := Floors(g)
	// On the floor (within the least gain a recomputing plan must buy) no
	// plan can lower the peak: say so now rather than search.
	// With a budget any plan within it counts, so only a none peak on the
	// floor itself settles it.
	onFloor := nrep.PeakBytes <= floor.Bytes
	if c.budget <= 0 {
		onFloor = nrep.PeakBytes-nrep.PeakBytes/minGainDiv <= floor.Bytes
	}
	floorNote := ""
	if onFloor && opt.Strategy != "none" {
		floorNote = fmt.Sprintf("no plan can lower the peak: the none peak %s is on the %s", HumanBytes(nrep.PeakBytes), floor.Describe(g))
		if c.budget > 0 && c.budget < nrep.PeakBytes {
			return nil, &InfeasibleError{BudgetBytes: c.budget, MinBytes: nrep.PeakBytes, Reason: floorNote}
		}
	}
	if opt.Strategy != "none" && c.d.n > 0 && !onFloor {
		if err := strat(c); err != nil {
			return nil, err
		}
	}
	best, note, err := c.choose()
	if err != nil {
		return nil, err
	}
	if floorNote != "" {
		note = floorNote
	}
	if best.resched > 0 {
		if note != "" {
			note += "; "
		}
		note += fmt.Sprintf("peak-directed rescheduling: %d moves (idle values recomputed later, backward ops delayed)", best.resched)
		if best.pruned > 0 {
			note += fmt.Sprintf(", then %d recomputations pruned", best.pruned)
		}
	}
	if best.keep != nil && note == "" {
		n := 0
		for v, k := range best.keep {
			if k && !c.d.kept[v] {
				n++
			}
		}
		note = fmt.Sprintf("cost-aware: the DP's lower sets, and %d values of high recompute cost per byte kept inside segments", n)
	}
	p := &Plan{
		Strategy:           opt.Strategy,
		Objective:          opt.Objective,
		BudgetBytes:        c.budget,
		NonePeakBytes:      nrep.PeakBytes,
		PredictedPeakBytes: best.predicted,
		PeakBytes:          best.rep.PeakBytes,
		OverheadCost:       best.rep.OverheadCost,
		ForwardCost:        g.ForwardCost,
		Segments:           best.segments,
		Recomputed:         best.rep.Recomputed,
		Schedule:           best.sched,
		Note:               note,
		RescheduleMoves:    best.resched,
		Floor:              floor,
	}
	p.Seconds = time.Since(start).Seconds()
	return p, nil
}

// rescheduleBest runs the peak-directed rescheduling of resched.go on the
// lowest-peak candidate among none and c.cands[from:] (the DP strategies'
// own), when the plan is after the least memory (objective memory) or when
// no candidate meets the budget (then it stops once one does), and adds the
// result to the candidates.
func (c *planCtx) rescheduleBest(from int) {
	start := c.none
	for _, x := range c.cands[from:] {
		if start == nil || x.rep.PeakBytes < start.rep.PeakBytes {
			start = x
		}
	}
	if start == nil {
		return
	}
	stopAt := int64(0)
	if c.opt.Objective != "memory" {
		if c.budget <= 0 || start.rep.PeakBytes <= c.budget {
			return
		}
		stopAt = c.budget
	}
	if y := c.reschedule(start, stopAt); y != nil {
		limit := y.rep.PeakBytes
		if stopAt > 0 && limit <= stopAt {
			limit = stopAt
		}
		y = c.prune(y, limit)
		c.cands = append(c.cands, y)
	}
}

// minGainDiv: without a budget, a plan that recomputes must lower the peak
// by at least 1/minGainDiv (0.1%) of none's, or none is kept.
const minGainDiv = 1000

// choose picks the plan among the replayed candidates: those within the
// budget (all, without one); the least overhead for objective time, the
// least peak for memory (ties: the other criterion). None wins unless a
// candidate's peak is below none's (without a budget, by minGainDiv).
func (c *planCtx) choose() (*candidate, string, error) {
	var best, lowest *candidate
	nonePeak := c.none.rep.PeakBytes
	for _, x := range c.cands {
		if lowest == nil || x.rep.PeakBytes < lowest.rep.PeakBytes {
			lowest = x
		}
		if x.rep.PeakBytes >= nonePeak {
			continue // never worse than none
		}
		if c.budget <= 0 && x.rep.OverheadCost > 0 && x.rep.PeakBytes > nonePeak-nonePeak/minGainDiv {
			// Without a budget, recomputation must buy a visible
			// reduction: a few bytes off the peak are not worth it.
			continue
		}
		if c.budget > 0 && x.rep.PeakBytes > c.budget {
			continue
		}
		if best == nil || c.better(x, best) {
			best = x
		}
	}
	if c.budget > 0 && nonePeak <= c.budget && (best == nil || c.opt.Objective == "time" && best.rep.OverheadCost > 0) {
		// Doing nothing fits the budget and costs nothing.
		return c.none, "the none schedule already fits the budget", nil
	}
	if best != nil {
		return best, "", nil
	}
	if c.budget > 0 {
		min := nonePeak
		if lowest != nil && lowest.rep.PeakBytes < min {
			min = lowest.rep.PeakBytes
		}
		return nil, "", &InfeasibleError{BudgetBytes: c.budget, MinBytes: min}
	}
	if c.opt.Strategy == "none" {
		return c.none, "", nil
	}
	return c.none, "no plan of this strategy lowers the none peak by 0.1% or more; fell back to none", nil
}

func planNone(c *planCtx) error { return nil }

// planChen is PAPER.md §7: cut at single-node boundaries, about √(#cuts)
// segments of similar memory.
func planChen(c *planCtx) error {
	d := c.d
	var cands []lowerSet
	for _, b := range d.ancestorSets() {
		ls := d.newLowerSet(b)
		if ls.boundary.count() == 1 && ls.size < d.n {
			cands = append(cands, ls)
		}
	}
	memOf := func(b bitset) int64 {
		var m int64
		b.each(func(v int) { m += d.mem[v] })
		return m
	}
	sort.SliceStable(cands, func(i, j int) bool { return memOf(cands[i].bits) < memOf(cands[j].bits) })
	total := memOf(d.all)
	k := int(math.Sqrt(float64(len(cands) + 2)))
	var seq []bitset
	prev := newBitset(d.n)
	if k >= 1 && total > 0 {
		step := float64(total) / float64(k)
		next := step
		for _, ls := range cands {
			if float64(memOf(ls.bits)) < next || !prev.subsetOf(ls.bits) || prev.equal(ls.bits) {
				continue
			}
			seq = append(seq, ls.bits)
			prev = ls.bits
			for next <= float64(memOf(ls.bits)) {
				next += step
			}
		}
	}
	seq = append(seq, d.all)
	if _, err := c.try(seq, 0); err != nil {
		return err
	}
	// Chen has no memory model of its own: its prediction is the replay.
	for _, x := range c.cands {
		x.predicted = x.rep.PeakBytes
	}
	return nil
}

// planApprox is PAPER.md §5, plus, under a budget with objective time, the
// cost-aware candidates of hybrid.go on the DP's sequences, and the
// peak-directed rescheduling of resched.go.
func planApprox(c *planCtx) error {
	from := len(c.cands)
	m := newDPModel(c.d, c.d.approxFamily())
	if err := c.searchDP(m); err != nil {
		return err
	}
	if err := c.hybrid(m); err != nil {
		return err
	}
	c.rescheduleBest(from)
	return nil
}

// planExact is PAPER.md §4 over every lower set. The approximate family is
// a subset of the exact one, so the approximate search's candidates join
// the pool too: the replayed result of exact is never worse than approx's.
func planExact(c *planCtx) error {
	fam, err := c.d.exactFamily(c.opt.MaxLowerSets)
	if err != nil {
		return err
	}
	m := newDPModel(c.d, fam)
	if err := c.searchDP(m); err != nil {
		return err
	}
	if err := c.hybrid(m); err != nil {
		return err
	}
	c.rescheduleBest(0)
	return planApprox(c)
}

// feasLevels is how many levels of the bisection for the smallest feasible
// internal budget one feasibility pass settles ahead (2^feasLevels − 1
// budgets, whichever way each goes).
const feasLevels = 3

// bisectMids returns the budgets the bisection between lo and hi tries in
// its next levels levels, whichever way each goes.
func bisectMids(lo, hi int64, levels int) []int64 {
	if levels == 0 || hi-lo <= 1 {
		return nil
	}
	mid := lo + (hi-lo)/2
	return append(append([]int64{mid}, bisectMids(lo, mid, levels-1)...), bisectMids(mid, hi, levels-1)...)
}

// searchDP explores the DP's internal budget: the DP's memory model is
// only a prediction, the replayed peak is the truth (DESIGN.md "Where we go
// past the paper"). It finds the smallest internal budget the DP accepts,
// replays the time- and memory-centric answers along a geometric ladder of
// budgets from there up to the single-segment model, and, with a user
// budget and objective time, bisects the internal budget between the last
// ladder rung that fits and the first that does not.
func (c *planCtx) searchDP(m *dpModel) error {
	hi := m.predict([]int{len(m.fam) - 1}) // one segment: always feasible at its own peak
	if hi <= 0 {
		return nil
	}
	seen := map[string]*candidate{}
	eval := func(B int64, mc bool) (*candidate, bool, error) {
		r, ok := m.solve(B, mc)
		if !ok {
			return nil, false, nil
		}
		key := fmt.Sprint(r.seq)
		if x, ok := seen[key]; ok {
			return x, true, nil
		}
		seq := make([]bitset, len(r.seq))
		for i, j := range r.seq {
			seq[i] = m.fam[j].bits
		}
		x, err := c.try(seq, r.predicted)
		if err != nil {
			return nil, false, err
		}
		x.seq, x.model = r.seq, m
		seen[key] = x
		return x, true, nil
	}
	// Objective memory looks for the lowest replayed peak: on families
	// whose transitions are cached, its candidates are the memory-centric
	// answers (the most recomputation a budget allows; on every built-in
	// network the plan chosen was a memory-centric one, refined), and
	// time-centric solves, whose fronts are far wider there, are skipped.
	// Feasibility does not depend on the objective: both keep the least
	// kept memory at every set.
	mcOnly := c.opt.Objective == "memory" && m.cache != nil
	// Smallest feasible internal budget (relative precision tol); each
	// feasibility pass settles the bisection's next feasLevels steps.
	lo := int64(0)
	m.feasibleAt(append([]int64{hi}, bisectMids(lo, hi, feasLevels)...))
	if !m.feasible(hi) {
		return errors.New("internal error: the single-segment sequence is infeasible at its own peak")
	}
	// Families too large to cache their transitions cost seconds per DP
	// run: search them more coarsely.
	tol, rungs := 5e-3, 10
	if m.cache == nil {
		tol, rungs = 3e-2, 4
	}
	for hi-lo > 1 && float64(hi-lo) > tol*float64(hi) {
		mid := lo + (hi-lo)/2
		if !m.knowsFeasible(mid) {
			m.feasibleAt(bisectMids(lo, hi, feasLevels))
		}
		if m.feasible(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	bmin := hi
	bmax := m.predict([]int{len(m.fam) - 1})
	var ladder []int64
	for j := 0; j <= rungs; j++ {
		b := int64(float64(bmin) * math.Pow(float64(bmax)/float64(bmin), float64(j)/float64(rungs)))
		if b < bmin {
			b = bmin
		}
		ladder = append(ladder, b)
	}
	fitsAt := int64(-1)
	failsAt := int64(-1)
	for j, b := range ladder {
		for _, mc := range []bool{false, true} {
			if !mc && mcOnly {
				continue
			}
			if mc && m.cache == nil && j > 0 {
				// Memory-centric fronts are wide (no overhead bound
				// prunes them): on large families only at the smallest
				// feasible budget, the paper's minimum-memory setting.
				continue
			}
			x, ok, err := eval(b, mc)
			if err != nil {
				return err
			}
			if !ok || mc {
				continue
			}
			if c.budget > 0 {
				if x.rep.PeakBytes <= c.budget {
					fitsAt = b
				} else if fitsAt >= 0 && failsAt < 0 {
					failsAt = b
				}
			}
		}
	}
	if c.budget > 0 && c.opt.Objective == "time" && fitsAt >= 0 && failsAt > fitsAt {
		lo, hi := fitsAt, failsAt
		for i := 0; i < rungs && hi-lo > 1; i++ {
			mid := lo + (hi-lo)/2
			x, ok, err := eval(mid, false)
			if err != nil {
				return err
			}
			if ok && x.rep.PeakBytes <= c.budget {
				lo = mid
			} else {
				hi = mid
			}
		}
	}
	return c.refine(m)
}
