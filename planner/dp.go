package planner

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
)

// edge is one DP transition L -> L' (family indexes), with the quantities
// of PAPER.md §3–§4 refined by the explicit backward reads:
//   - dm: bytes kept across the segment V' = L' \ L: ∂(L') ∩ V' plus values
//     that are never recomputed (not recomputable, or graph outputs);
//   - dt: recompute cost of R = reach(L') \ L, the values of V' that are not
//     kept and that some backward op reads, closed under in-segment
//     predecessors that are not kept (a value nobody in the backward reads
//     needs no recomputation); zero for the last segment, which the forward
//     pass leaves live;
//   - peak: the segment's backward-time memory without the earlier kept
//     bytes m: M(kept ∪ R) (M(V') for the last segment) + M(V') for the
//     gradients + M(A) + M(B \ A).
type edge struct {
	to       int32
	dt       int32 // DP units: the total is at most maxUnits
	dm, peak int64
}

// dpModel is a DAG with a family of lower sets, sorted by size.
type dpModel struct {
	d     *dag
	fam   []lowerSet
	mem   weights
	t     weights
	tmax  int64    // total cost units: the largest possible overhead
	cache [][]edge // per family index, sorted by peak; nil if not cached
	// sizeEnd[s] is the first family index whose size exceeds s.
	sizeEnd []int
	// workers is how many goroutines scan an uncached step's supersets
	// (GOMAXPROCS; tests set 1 to compare with the sequential scan).
	workers int
}

// parallelScan is the number of candidate supersets from which an
// uncached DP step scans them on every CPU.
const parallelScan = 4096

// maxCachedSets bounds the family size whose transitions are kept in
// memory between DP runs (about |family|²/2 edges of 32 bytes).
const maxCachedSets = 2500

func newDPModel(d *dag, fam []lowerSet) *dpModel {
	p := &dpModel{d: d, fam: fam, mem: newWeights(d.mem), t: newWeights(d.t), sizeEnd: make([]int, d.n+2), workers: runtime.GOMAXPROCS(0)}
	for _, t := range d.t {
		p.tmax += t
	}
	j := 0
	for s := 0; s <= d.n+1; s++ {
		for j < len(fam) && fam[j].size <= s {
			j++
		}
		p.sizeEnd[s] = j
	}
	if len(fam) <= maxCachedSets {
		// Rows are independent: computed by one goroutine per CPU, each
		// taking every workers-th row (rows shrink as i grows).
		p.cache = make([][]edge, len(fam))
		workers := min(runtime.GOMAXPROCS(0), max(1, len(fam)/64))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(fam); i += workers {
					e := p.edges(i, nil)
					slices.SortFunc(e, func(a, b edge) int { return cmp.Compare(a.peak, b.peak) })
					p.cache[i] = slices.Clip(e)
				}
			})
		}
		wg.Wait()
	}
	return p
}

// pair computes the transition from family set i to family set j (i ⊊ j).
func (p *dpModel) pair(i, j int) edge {
	L, Lp := &p.fam[i], &p.fam[j]
	memV := Lp.mem - L.mem
	var dm, memR, dt int64
	for w := L.full; w < Lp.words; w++ {
		l := L.bits[w]
		if k := Lp.kept[w] &^ l; k != 0 {
			dm += p.mem.word(w, k)
		}
		if r := Lp.reach[w] &^ l; r != 0 {
			memR += p.mem.word(w, r)
			dt += p.t.word(w, r)
		}
	}
	e := edge{to: int32(j), dm: dm}
	if Lp.size == p.d.n {
		e.peak = 2*memV + Lp.back
	} else {
		e.dt = int32(dt)
		e.peak = dm + memR + memV + Lp.back
	}
	return e
}

// edges appends every transition out of family set i to buf.
func (p *dpModel) edges(i int, buf []edge) []edge {
	buf = buf[:0]
	Li := &p.fam[i]
	for j := p.sizeEnd[Li.size]; j < len(p.fam); j++ {
		if Li.subsetOf(&p.fam[j]) {
			buf = append(buf, p.pair(i, j))
		}
	}
	return buf
}

// frontEntry is one Pareto-optimal state at a lower set: overhead t and
// kept memory m, with the state it came from.
type frontEntry struct {
	t, m  int64
	prev  int32 // family index of the previous lower set, -1 at ∅
	prevT int64 // t of the previous state
}

// dpResult is a lower-set sequence chosen by the DP.
type dpResult struct {
	seq       []int // family indexes L1..Lk (∅ excluded, V last)
	overhead  int64 // DP units
	predicted int64 // the DP's peak model
}

// solve runs the DP (PAPER.md §4; §5 when the family is the approximate
// one) under internal budget B. memoryCentric picks the feasible sequence
// with the most overhead (§6 MC), else the least (TC). ok is false when no
// sequence fits B.
//
// The state is the paper's: per lower set and exact overhead t, the least
// kept memory m, received in a dense array; when a set is expanded
// (families are sorted by size, so every transition into it has been
// relaxed) the array is reduced to its Pareto front — (t, m) dominated by a
// state with no more memory and better overhead in the objective's
// direction can never lead to a better answer. For TC, states whose
// overhead exceeds the best complete sequence found so far are dropped.
func (p *dpModel) solve(B int64, memoryCentric bool) (dpResult, bool) {
	fam := p.fam
	last := len(fam) - 1
	type recv struct {
		m     []int64
		prev  []int32
		prevT []int32
	}
	inbox := make([]*recv, len(fam))
	fronts := make([][]frontEntry, len(fam))
	get := func(j int) *recv {
		r := inbox[j]
		if r == nil {
			width := fam[j].cost + 1
			r = &recv{m: make([]int64, width), prev: make([]int32, width), prevT: make([]int32, width)}
			for t := range r.m {
				r.m[t] = math.MaxInt64
			}
			inbox[j] = r
		}
		return r
	}
	ub := int64(math.MaxInt64) // TC: best overhead of a complete sequence so far
	workers := p.workers
	fronts[0] = []frontEntry{{t: 0, m: 0, prev: -1}}
	for i := range fam {
		if i > 0 {
			r := inbox[i]
			if r == nil {
				continue
			}
			fronts[i] = pareto(r.m, r.prev, r.prevT, memoryCentric)
			inbox[i] = nil
		}
		if i == last {
			break
		}
		f := fronts[i]
		if len(f) == 0 {
			continue
		}
		minM := f[0].m
		for _, s := range f {
			minM = min(minM, s.m)
		}
		// relax offers every state of f to e's target; ub is the caller's
		// bound (TC: the best overhead of a complete sequence it has seen).
		relax := func(e edge, ub *int64) {
			r := get(int(e.to))
			for _, s := range f {
				if s.m+e.peak > B {
					continue
				}
				t := s.t + int64(e.dt)
				if !memoryCentric && t > *ub {
					continue
				}
				m := s.m + e.dm
				if m < r.m[t] {
					r.m[t], r.prev[t], r.prevT[t] = m, int32(i), int32(s.t)
					if !memoryCentric && int(e.to) == last && t < *ub {
						*ub = t
					}
				}
			}
		}
		if p.cache != nil {
			for _, e := range p.cache[i] { // sorted by peak
				if minM+e.peak > B {
					break
				}
				relax(e, &ub)
			}
			continue
		}
		// Uncached: every superset, skipping those whose new memory alone
		// (a lower bound of the segment's peak) breaks the budget.
		Li := &fam[i]
		scan := func(from, step int, ub *int64) {
			for j := from; j < len(fam); j += step {
				if fam[j].mem-Li.mem > B-minM || !Li.bits.subsetOf(fam[j].bits) {
					continue
				}
				if e := p.pair(i, j); minM+e.peak <= B {
					relax(e, ub)
				}
			}
		}
		first := p.sizeEnd[Li.size]
		if workers < 2 || len(fam)-first < parallelScan {
			scan(first, 1, &ub)
			continue
		}
		// Large families: the supersets are split among the CPUs, each
		// taking every workers-th one. A target is relaxed by one worker
		// only, and each keeps its own bound: a weaker bound keeps more
		// states but never changes the states that reach the optimum, so
		// the answer is the sequential one.
		ubs := make([]int64, workers)
		var wg sync.WaitGroup
		for w := range workers {
			ubs[w] = ub
			wg.Go(func() { scan(first+w, workers, &ubs[w]) })
		}
		wg.Wait()
		ub = min(ub, slices.Min(ubs))
	}
	f := fronts[last]
	if len(f) == 0 {
		return dpResult{}, false
	}
	best := f[0]
	for _, s := range f {
		if (!memoryCentric && s.t < best.t) || (memoryCentric && s.t > best.t) {
			best = s
		}
	}
	var seq []int
	cur, e := last, best
	for cur > 0 {
		seq = append(seq, cur)
		prev, pt := int(e.prev), e.prevT
		found := false
		for _, x := range fronts[prev] {
			if x.t == pt {
				e, found = x, true
				break
			}
		}
		if !found {
			return dpResult{}, false // cannot happen: fronts are final once expanded
		}
		cur = prev
	}
	for a, b := 0, len(seq)-1; a < b; a, b = a+1, b-1 {
		seq[a], seq[b] = seq[b], seq[a]
	}
	return dpResult{seq: seq, overhead: best.t, predicted: p.predict(seq)}, true
}

// pareto reduces a dense t -> m array to the states not dominated in the
// objective's direction: TC keeps (t, m) unless a smaller t has m no
// larger; MC unless a larger t has m no larger.
func pareto(m []int64, prev []int32, prevT []int32, memoryCentric bool) []frontEntry {
	var f []frontEntry
	best := int64(math.MaxInt64)
	add := func(t int) {
		if m[t] < best {
			best = m[t]
			f = append(f, frontEntry{t: int64(t), m: m[t], prev: prev[t], prevT: int64(prevT[t])})
		}
	}
	if memoryCentric {
		for t := len(m) - 1; t >= 0; t-- {
			add(t)
		}
	} else {
		for t := range m {
			add(t)
		}
	}
	return f
}

// predict evaluates the DP's peak model on a sequence.
func (p *dpModel) predict(seq []int) int64 {
	var m, peak int64
	prev := 0
	for _, j := range seq {
		e := p.pair(prev, j)
		if m+e.peak > peak {
			peak = m + e.peak
		}
		m += e.dm
		prev = j
	}
	return peak
}

// overheadOf evaluates the DP's overhead model on a sequence (DP units).
func (p *dpModel) overheadOf(seq []int) int64 {
	var t int64
	prev := 0
	for _, j := range seq {
		t += int64(p.pair(prev, j).dt)
		prev = j
	}
	return t
}
