package planner

import "sort"

// edge is one DP transition L -> L' (family indexes), with the quantities
// of PAPER.md §3–§4 refined by the explicit backward reads:
//   - dm: bytes kept across the segment: ∂(L') ∩ V' plus values that are
//     never recomputed (not recomputable, or graph outputs);
//   - dt: recompute cost of R, the values of V' \ kept that some backward op
//     reads, closed under in-segment predecessors that are not kept (a
//     value nobody in the backward reads needs no recomputation); zero for
//     the last segment, which the forward pass leaves live;
//   - peak: the segment's backward-time memory without the earlier kept
//     bytes m: M(kept ∪ R) (M(V') for the last segment) + M(V') for the
//     gradients + M(A) + M(B \ A).
type edge struct {
	to           int32
	dt, dm, peak int64
}

// dpModel is a DAG with a family of lower sets, sorted by size.
type dpModel struct {
	d     *dag
	fam   []lowerSet
	cache [][]edge // per family index, sorted by peak; nil if not cached
	inR   []bool   // scratch
	// sizeEnd[s] is the first family index whose size exceeds s.
	sizeEnd []int
}

// maxCachedSets bounds the family size whose transitions are kept in
// memory between DP runs (about |family|²/2 edges of 32 bytes).
const maxCachedSets = 2500

func newDPModel(d *dag, fam []lowerSet) *dpModel {
	p := &dpModel{d: d, fam: fam, inR: make([]bool, d.n), sizeEnd: make([]int, d.n+2)}
	j := 0
	for s := 0; s <= d.n+1; s++ {
		for j < len(fam) && fam[j].size <= s {
			j++
		}
		p.sizeEnd[s] = j
	}
	if len(fam) <= maxCachedSets {
		p.cache = make([][]edge, len(fam))
		for i := range fam {
			p.cache[i] = p.computeEdges(i, nil)
		}
	}
	return p
}

// pair computes the transition from family set i to family set j (i ⊊ j).
func (p *dpModel) pair(i, j int) edge {
	d := p.d
	L, Lp := p.fam[i].bits, p.fam[j].bits
	last := p.fam[j].size == d.n
	var dm, dt, memR, memV int64
	// Members of V' = L' \ L in descending (reverse topological) order.
	for wi := len(Lp) - 1; wi >= 0; wi-- {
		w := Lp[wi] &^ L[wi]
		for w != 0 {
			hb := 63 - leadingZeros64(w)
			w &^= 1 << uint(hb)
			v := wi<<6 + hb
			memV += d.mem[v]
			if d.kept[v] || p.fam[j].boundary.has(v) {
				dm += d.mem[v]
				continue
			}
			in := d.br[v]
			if !in {
				for _, s := range d.succ[v] {
					if p.inR[s] {
						in = true
						break
					}
				}
			}
			if in {
				p.inR[v] = true
				memR += d.mem[v]
				dt += d.t[v]
			}
		}
	}
	// Reset scratch.
	for wi := range Lp {
		w := Lp[wi] &^ L[wi]
		for w != 0 {
			t := trailingZeros64(w)
			w &= w - 1
			p.inR[wi<<6+t] = false
		}
	}
	e := edge{to: int32(j), dm: dm}
	if last {
		e.peak = memV + memV + p.fam[j].back
	} else {
		e.dt = dt
		e.peak = dm + memR + memV + p.fam[j].back
	}
	return e
}

func (p *dpModel) computeEdges(i int, buf []edge) []edge {
	buf = buf[:0]
	Li := p.fam[i]
	for j := p.sizeEnd[Li.size]; j < len(p.fam); j++ {
		if Li.bits.subsetOf(p.fam[j].bits) {
			buf = append(buf, p.pair(i, j))
		}
	}
	sort.Slice(buf, func(a, b int) bool { return buf[a].peak < buf[b].peak })
	return buf
}

// frontEntry is one Pareto-optimal state (overhead, kept memory) at a
// lower set, with the state it came from.
type frontEntry struct {
	key   int64 // t (time-centric) or -t (memory-centric): smaller is better
	m     int64
	prev  int32 // family index of the previous lower set, -1 at ∅
	pkey  int64 // key of the previous state
	pathT int64
}

// insert adds (key, m) to a front kept sorted by key with m strictly
// decreasing; it reports whether the entry survived.
func insert(f []frontEntry, e frontEntry) ([]frontEntry, bool) {
	pos := sort.Search(len(f), func(i int) bool { return f[i].key > e.key })
	if pos > 0 && f[pos-1].m <= e.m {
		return f, false
	}
	start := pos
	if pos > 0 && f[pos-1].key == e.key {
		start = pos - 1
	}
	end := pos
	for end < len(f) && f[end].m >= e.m {
		end++
	}
	// Replace f[start:end] by e.
	if end-start == 1 {
		f[start] = e
		return f, true
	}
	if end == start {
		f = append(f, frontEntry{})
		copy(f[start+1:], f[start:])
		f[start] = e
		return f, true
	}
	f[start] = e
	f = append(f[:start+1], f[end:]...)
	return f, true
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
func (p *dpModel) solve(B int64, memoryCentric bool) (dpResult, bool) {
	fam := p.fam
	fronts := make([][]frontEntry, len(fam))
	fronts[0] = []frontEntry{{key: 0, m: 0, prev: -1}}
	var buf []edge
	for i := range fam {
		f := fronts[i]
		if len(f) == 0 {
			continue
		}
		minM := f[len(f)-1].m
		var edges []edge
		if p.cache != nil {
			edges = p.cache[i]
		} else {
			buf = p.computeEdges(i, buf)
			edges = buf
		}
		for _, e := range edges {
			if minM+e.peak > B {
				break
			}
			for _, s := range f {
				if s.m+e.peak > B {
					continue
				}
				t := s.pathT + e.dt
				key := t
				if memoryCentric {
					key = -t
				}
				fronts[e.to], _ = insert(fronts[e.to], frontEntry{key: key, m: s.m + e.dm, prev: int32(i), pkey: s.key, pathT: t})
			}
		}
		if i != len(fam)-1 {
			// Fronts of processed sets are needed only for reconstruction:
			// keep them (they are small).
		}
	}
	last := len(fam) - 1
	if len(fronts[last]) == 0 {
		return dpResult{}, false
	}
	best := fronts[last][0]
	var seq []int
	cur, key := last, best.key
	for cur > 0 {
		seq = append(seq, cur)
		var e frontEntry
		found := false
		for _, x := range fronts[cur] {
			if x.key == key {
				e, found = x, true
				break
			}
		}
		if !found {
			return dpResult{}, false // cannot happen: fronts are final once expanded
		}
		cur, key = int(e.prev), e.pkey
	}
	for a, b := 0, len(seq)-1; a < b; a, b = a+1, b-1 {
		seq[a], seq[b] = seq[b], seq[a]
	}
	res := dpResult{seq: seq, overhead: best.pathT}
	res.predicted = p.predict(seq)
	return res, true
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
		t += p.pair(prev, j).dt
		prev = j
	}
	return t
}
