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
	// up lists, when the family is every lower set of the DAG and its
	// transitions are not cached, each set's upper covers (the set plus
	// one node), from which supersets enumerates a set's supersets
	// without testing every later set; nil otherwise (tests clear it to
	// compare with the scan).
	up *covers
	// memo holds the answers of solve, which runs the same budget more
	// than once in searchDP.
	memo map[solveKey]solveMemo
	// fitsFrom is the least predicted peak of a sequence found to fit an
	// internal budget (every budget from there fits), failsTo the largest
	// budget found to fit no sequence (math.MinInt64: none yet).
	fitsFrom, failsTo int64
	// The per-set quantities pair reads, in flat arrays (nw words per
	// set), so that scanning many transitions stays in cache.
	nw                   int
	bitsF, keptF, reachF []uint64
	full, words, size    []int32
	setMem, back         []int64
	memT                 pairWeights
	// one packs the same per set when the DAG has at most 64 nodes.
	one      []oneWord
	mem8, t8 *[8][256]int64
}

// oneWord is what pair reads of a set of a DAG of at most 64 nodes.
type oneWord struct {
	bits, kept, reach uint64
	mem, back         int64
	all               bool // the set is V
}

// sum8 is weights.word for a one-word bitset.
func sum8(t *[8][256]int64, x uint64) int64 {
	return t[0][byte(x)] + t[1][byte(x>>8)] + t[2][byte(x>>16)] + t[3][byte(x>>24)] +
		t[4][byte(x>>32)] + t[5][byte(x>>40)] + t[6][byte(x>>48)] + t[7][byte(x>>56)]
}

type solveKey struct {
	B             int64
	memoryCentric bool
}

type solveMemo struct {
	r  dpResult
	ok bool
}

// covers is, per family set i, the upper covers fam[i] ∪ {node[k]} =
// fam[to[k]] for k in [start[i], start[i+1]), by increasing node.
type covers struct {
	start []int32
	node  []int32
	to    []int32
	// after[k] is the first cover of fam[to[k]] whose node exceeds
	// node[k].
	after []int32
	// monotone: no node has negative memory, so a set's memory only grows
	// along the covers and a superset over the budget rules out its own
	// supersets too.
	monotone bool
	// w[j] weighs set j for that test: M(fam[j]), plus, when monotone,
	// the memory of its members some backward op reads or that are never
	// recomputed. Each of those members of a segment L' \ L is kept or
	// recomputed by it, so w(L') − w(L) is at most the segment's peak.
	w []int64
}

// parallelScan is the number of candidate supersets from which an
// uncached DP step scans them on every CPU.
const parallelScan = 4096

// maxCachedSets bounds the family size whose transitions are kept in
// memory between DP runs (about |family|²/2 edges of 32 bytes).
const maxCachedSets = 2500

func newDPModel(d *dag, fam []lowerSet) *dpModel {
	p := &dpModel{d: d, fam: fam, mem: newWeights(d.mem), t: newWeights(d.t), sizeEnd: make([]int, d.n+2), workers: runtime.GOMAXPROCS(0),
		fitsFrom: math.MaxInt64, failsTo: math.MinInt64, nw: len(d.all), memT: newPairWeights(d.mem, d.t)}
	for i := range fam {
		L := &fam[i]
		p.bitsF = append(p.bitsF, L.bits...)
		p.keptF = append(p.keptF, L.kept...)
		p.reachF = append(p.reachF, L.reach...)
		p.full = append(p.full, int32(L.full))
		p.words = append(p.words, int32(L.words))
		p.size = append(p.size, int32(L.size))
		p.setMem = append(p.setMem, L.mem)
		p.back = append(p.back, L.back)
	}
	if p.nw == 1 {
		p.mem8, p.t8 = new([8][256]int64), new([8][256]int64)
		copy(p.mem8[:], p.mem)
		copy(p.t8[:], p.t)
		p.one = make([]oneWord, len(fam))
		for i := range fam {
			L := &fam[i]
			p.one[i] = oneWord{bits: L.bits[0], kept: L.kept[0], reach: L.reach[0], mem: L.mem, back: L.back, all: L.size == d.n}
		}
	}
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
	if len(fam) > maxCachedSets {
		p.up = d.upperCovers(fam)
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

// upperCovers returns the upper covers of every set of fam, or nil when
// fam is not every lower set of d (a set has a cover outside fam, or ∅ is
// not first): then supersets are not all reachable through covers.
func (d *dag) upperCovers(fam []lowerSet) *covers {
	if len(fam) == 0 || fam[0].size != 0 {
		return nil
	}
	index := make(map[string]int32, len(fam))
	for i := range fam {
		index[fam[i].bits.key()] = int32(i)
	}
	c := &covers{start: make([]int32, 1, len(fam)+1), monotone: true}
	for _, m := range d.mem {
		if m < 0 {
			c.monotone = false
		}
	}
	b := newBitset(d.n)
	for i := range fam {
		L := fam[i].bits
		copy(b, L)
		for v := 0; v < d.n; v++ {
			if L.has(v) || !d.predsIn(v, L) {
				continue
			}
			b.set(v)
			j, ok := index[b.key()]
			b.clear(v)
			if !ok {
				return nil
			}
			c.node = append(c.node, int32(v))
			c.to = append(c.to, j)
		}
		c.start = append(c.start, int32(len(c.node)))
	}
	c.w = make([]int64, len(fam))
	for i := range fam {
		c.w[i] = fam[i].mem
		if c.monotone {
			fam[i].bits.each(func(v int) {
				if d.br[v] || d.kept[v] {
					c.w[i] += d.mem[v]
				}
			})
		}
	}
	c.after = make([]int32, len(c.node))
	for k, j := range c.to {
		a := c.start[j]
		for a < c.start[j+1] && c.node[a] <= c.node[k] {
			a++
		}
		c.after[k] = a
	}
	return c
}

// predsIn reports whether every predecessor of v is in L.
func (d *dag) predsIn(v int, L bitset) bool {
	for _, u := range d.pred[v] {
		if !L.has(u) {
			return false
		}
	}
	return true
}

// supersets appends to buf[:0] every family set j ⊋ fam[i] with
// w[j] − w[i] ≤ limit (covers.w: a lower bound of the segment's peak; at
// least its new memory M(fam[j]) − M(fam[i])), each once, found through the upper
// covers: every such superset S is reached from its canonical parent
// S \ {max(S \ fam[i])} (a lower set: the largest node of S outside fam[i]
// has no successor in S), so the search adds nodes in increasing order.
// stack is scratch space; both are returned for reuse.
func (p *dpModel) supersets(i int, limit int64, buf, stack []int32) ([]int32, []int32) {
	c, mem := p.up, p.up.w
	base := mem[i]
	buf = buf[:0]
	// A frame is (set, first cover to follow from it).
	stack = append(stack[:0], int32(i), c.start[i])
	for len(stack) > 0 {
		n := len(stack)
		t, k0 := stack[n-2], stack[n-1]
		stack = stack[:n-2]
		for k := k0; k < c.start[t+1]; k++ {
			j := c.to[k]
			if mem[j]-base > limit {
				if c.monotone {
					continue
				}
			} else {
				buf = append(buf, j)
			}
			stack = append(stack, j, c.after[k])
		}
	}
	return buf, stack
}

// each calls f(w, k) for k in [0, n), split among the workers (worker w
// takes every workers-th) when n is large enough to pay for it. f must
// only write to state of its own item k (a transition's target) and of
// its worker w.
func (p *dpModel) each(n int, f func(w, k int)) {
	workers := p.workers
	if workers < 2 || n < parallelScan {
		for k := range n {
			f(0, k)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < n; k += workers {
				f(w, k)
			}
		})
	}
	wg.Wait()
}

// supersetEdges is supersets (with the same limit) for a time-centric
// step, dtMax being the bound on the overhead less the least overhead of
// the step's states: it returns the transitions, computed on the way,
// whose peak is at most limit and whose overhead dt is at most dtMax. Along supersets L” ⊇ L'
// other than V, dt(L → L”) ≥ dt(L → L') (a member of L' that is not
// kept in L' is not kept in L” either, so reach(L”) ⊇ reach(L')), so a
// superset over dtMax rules out its own supersets but V, whose transition
// (dt 0) is always considered.
func (p *dpModel) supersetEdges(i int, limit, dtMax int64, buf []edge, stack []int32) ([]edge, []int32) {
	c, w := p.up, p.up.w
	base := w[i]
	last := int32(len(p.fam) - 1)
	buf = buf[:0]
	sawLast := false
	stack = append(stack[:0], int32(i), c.start[i])
	for len(stack) > 0 {
		n := len(stack)
		t, k0 := stack[n-2], stack[n-1]
		stack = stack[:n-2]
		for k := k0; k < c.start[t+1]; k++ {
			j := c.to[k]
			if w[j]-base > limit {
				if !c.monotone {
					stack = append(stack, j, c.after[k])
				}
				continue
			}
			e := p.pair(i, int(j))
			if j == last {
				sawLast = true
			} else if int64(e.dt) > dtMax {
				continue
			}
			if e.peak <= limit {
				buf = append(buf, e)
			}
			stack = append(stack, j, c.after[k])
		}
	}
	if !sawLast && w[last]-base <= limit {
		if e := p.pair(i, int(last)); e.peak <= limit {
			buf = append(buf, e)
		}
	}
	return buf, stack
}

// pair computes the transition from family set i to family set j (i ⊊ j).
func (p *dpModel) pair(i, j int) edge {
	if p.one != nil {
		a, b := &p.one[i], &p.one[j]
		k, r := b.kept&^a.bits, b.reach&^a.bits
		dm, memV := sum8(p.mem8, k), b.mem-a.mem
		if b.all {
			return edge{to: int32(j), dm: dm, peak: 2*memV + b.back}
		}
		return edge{to: int32(j), dt: int32(sum8(p.t8, r)), dm: dm, peak: dm + sum8(p.mem8, r) + memV + b.back}
	}
	nw := p.nw
	l, kept, reach := p.bitsF[i*nw:(i+1)*nw], p.keptF[j*nw:(j+1)*nw], p.reachF[j*nw:(j+1)*nw]
	memV := p.setMem[j] - p.setMem[i]
	var dm, memR, dt int64
	for w := int(p.full[i]); w < int(p.words[j]); w++ {
		if k := kept[w] &^ l[w]; k != 0 {
			dm += p.mem.word(w, k)
		}
		if r := reach[w] &^ l[w]; r != 0 {
			m, t := p.memT.word(w, r)
			memR += m
			dt += t
		}
	}
	e := edge{to: int32(j), dm: dm}
	if int(p.size[j]) == p.d.n {
		e.peak = 2*memV + p.back[j]
	} else {
		e.dt = int32(dt)
		e.peak = dm + memR + memV + p.back[j]
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
//
// solve keeps its answers (searchDP asks some budgets twice) and starts a
// TC run from the bound earlier answers give; see solveDP for why neither
// changes an answer.
func (p *dpModel) solve(B int64, memoryCentric bool) (dpResult, bool) {
	k := solveKey{B, memoryCentric}
	if x, ok := p.memo[k]; ok {
		return dpResult{seq: slices.Clone(x.r.seq), overhead: x.r.overhead, predicted: x.r.predicted}, x.ok
	}
	r, ok, done := dpResult{}, false, false
	ub := int64(math.MaxInt64)
	if !memoryCentric {
		// Earlier TC answers bound this one: a sequence that fits a
		// smaller budget fits B, so its overhead bounds the optimum from
		// above (and the DP may drop states beyond it from the start); an
		// answer at a larger budget whose predicted peak fits B is the
		// answer at B (see solveDP).
		for key, x := range p.memo {
			if key.memoryCentric || !x.ok {
				continue
			}
			if key.B <= B {
				ub = min(ub, x.r.overhead)
			} else if x.r.predicted <= B {
				r, ok, done = dpResult{seq: slices.Clone(x.r.seq), overhead: x.r.overhead, predicted: x.r.predicted}, true, true
			}
		}
	}
	if !done {
		r, ok = p.solveDP(B, memoryCentric, ub)
	}
	if ok {
		p.fitsFrom = min(p.fitsFrom, r.predicted)
	} else {
		p.failsTo = max(p.failsTo, B)
	}
	if p.memo == nil {
		p.memo = map[solveKey]solveMemo{}
	}
	p.memo[k] = solveMemo{r: dpResult{seq: slices.Clone(r.seq), overhead: r.overhead, predicted: r.predicted}, ok: ok}
	return r, ok
}

// solveDP is solve without the memo; for TC, ub is a bound known to be at
// least the optimum (math.MaxInt64: none), and states above it are dropped
// from the start. Neither that nor the bound found on the way changes the
// answer: entries of a front depend only on entries of smaller overhead,
// so those up to the optimum are the same, and so are the optimum, the
// chosen entry at V and the entries it came from.
//
// A TC answer S at budget B1 is also the answer at any B0 < B1 that its
// predicted peak fits: the optimum cannot fall as the budget does and S
// still fits; every state along S is still on its front (the sequences
// reaching a set at B0 are among those at B1, so no state of smaller
// overhead has less memory); and among the states offering it the least
// memory at each step, the first in family order is still S's, since the
// offers at B0 are among those at B1.
func (p *dpModel) solveDP(B int64, memoryCentric bool, ub int64) (dpResult, bool) {
	fam := p.fam
	last := len(fam) - 1
	type recv struct {
		m     []int64
		prev  []int32
		prevT []int32
	}
	inbox := make([]*recv, len(fam))
	fronts := make([][]frontEntry, len(fam))
	// get returns j's array, as wide as the overhead a state there can
	// have: at most T(fam[j]), and for TC at most ub, which only falls.
	get := func(j int, ub int64) *recv {
		r := inbox[j]
		if r == nil {
			width := min(fam[j].cost, ub) + 1
			r = &recv{m: make([]int64, width), prev: make([]int32, width), prevT: make([]int32, width)}
			for t := range r.m {
				r.m[t] = math.MaxInt64
			}
			inbox[j] = r
		}
		return r
	}
	workers := p.workers
	var list, stack []int32
	var edges []edge
	ubs := make([]int64, max(workers, 1))
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
			r := get(int(e.to), *ub)
			// Memory falls strictly along a front: the states within the
			// budget are a suffix; along a TC front overhead rises.
			for _, s := range f[firstWithin(f, B-e.peak):] {
				t := s.t + int64(e.dt)
				if !memoryCentric && t > *ub {
					break
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
		// (a lower bound of the segment's peak) breaks the budget. On
		// every lower set, the supersets come from the upper covers, and
		// each worker keeps its own bound, as below.
		Li := &fam[i]
		first := p.sizeEnd[Li.size]
		if p.up != nil {
			for w := range ubs {
				ubs[w] = ub
			}
			if !memoryCentric && ub != math.MaxInt64 {
				// Only transitions with dt ≤ ub − (the least overhead
				// here) can take a state.
				edges, stack = p.supersetEdges(i, B-minM, ub-f[0].t, edges, stack)
				p.each(len(edges), func(w, k int) { relax(edges[k], &ubs[w]) })
			} else {
				list, stack = p.supersets(i, B-minM, list, stack)
				p.each(len(list), func(w, k int) {
					if e := p.pair(i, int(list[k])); minM+e.peak <= B {
						relax(e, &ubs[w])
					}
				})
			}
			ub = slices.Min(ubs)
			continue
		}
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
		if workers < 2 || len(fam)-first < parallelScan {
			scan(first, 1, &ub)
			continue
		}
		// Large families: the supersets are split among the CPUs, each
		// taking every workers-th one. A target is relaxed by one worker
		// only, and each keeps its own bound: a weaker bound keeps more
		// states but never changes the states that reach the optimum, so
		// the answer is the sequential one.
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

// firstWithin returns the first index of front f (memory strictly
// falling) whose memory is at most lim, len(f) if none.
func firstWithin(f []frontEntry, lim int64) int {
	lo, hi := 0, len(f)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if f[mid].m <= lim {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// feasible reports whether some sequence fits internal budget B, as solve
// would for either objective (see feasibleAt).
func (p *dpModel) feasible(B int64) bool {
	if B < p.fitsFrom && B > p.failsTo {
		p.feasibleAt([]int64{B})
	}
	return B >= p.fitsFrom
}

// feasibleAt settles, in one pass over the transitions, whether some
// sequence fits each internal budget of bs, and records it in fitsFrom
// and failsTo. Per budget it runs solve's DP reduced to the least kept
// memory at each set, which both objectives keep (their fronts hold each
// set's least-memory state) and which alone decides what fits.
func (p *dpModel) feasibleAt(bs []int64) {
	fam := p.fam
	last := len(fam) - 1
	K := len(bs)
	// minM[j*K+k], prev[j*K+k]: budget bs[k] at set j.
	minM := make([]int64, len(fam)*K)
	prev := make([]int32, len(fam)*K)
	for j := range minM {
		minM[j] = math.MaxInt64
	}
	for k := range K {
		minM[k] = 0
	}
	var list, stack []int32
	for i := range last {
		mi := minM[i*K : i*K+K]
		limit := int64(math.MinInt64) // the most new memory any budget allows
		for k, m0 := range mi {
			if m0 != math.MaxInt64 {
				limit = max(limit, bs[k]-m0)
			}
		}
		if limit == math.MinInt64 {
			continue
		}
		offer := func(e edge) {
			mj := minM[int(e.to)*K : int(e.to)*K+K]
			for k, m0 := range mi {
				if m0 != math.MaxInt64 && m0+e.peak <= bs[k] && m0+e.dm < mj[k] {
					mj[k], prev[int(e.to)*K+k] = m0+e.dm, int32(i)
				}
			}
		}
		switch {
		case p.cache != nil:
			for _, e := range p.cache[i] { // sorted by peak
				if e.peak > limit {
					break
				}
				offer(e)
			}
		case p.up != nil:
			list, stack = p.supersets(i, limit, list, stack)
			p.each(len(list), func(_, k int) { offer(p.pair(i, int(list[k]))) })
		default:
			Li := &fam[i]
			for j := p.sizeEnd[Li.size]; j < len(fam); j++ {
				if fam[j].mem-Li.mem <= limit && Li.bits.subsetOf(fam[j].bits) {
					offer(p.pair(i, j))
				}
			}
		}
	}
	for k, B := range bs {
		if minM[last*K+k] == math.MaxInt64 {
			p.failsTo = max(p.failsTo, B)
			continue
		}
		// The least-memory sequence found: each of its steps fitted B
		// from its predecessor's least memory, so its predicted peak is
		// at most B.
		var seq []int
		for j := last; j > 0; j = int(prev[j*K+k]) {
			seq = append(seq, j)
		}
		slices.Reverse(seq)
		p.fitsFrom = min(p.fitsFrom, p.predict(seq))
	}
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

// knowsFeasible reports whether feasible(B) is settled without a pass.
func (p *dpModel) knowsFeasible(B int64) bool { return B >= p.fitsFrom || B <= p.failsTo }
