package planner

import (
	"math"
	"sort"
)

// dag is the forward DAG of PAPER.md §2 seen through the training graph:
// one node per forward op that writes at least one counted value, in
// topological order (so every predecessor of node i has an index < i).
type dag struct {
	n      int
	op     []int   // node -> graph op
	nodeOf []int   // graph op -> node, -1 if the op is not a node
	mem    []int64 // bytes of the node's counted outputs
	t      []int64 // recompute cost in integer units
	kept   []bool  // never recomputed: not recomputable, or writes a graph output
	br     []bool  // some backward op reads an output (the explicit backward reads)
	pred   [][]int
	succ   [][]int
	unit   float64 // cost of one unit of t
	all    bitset
}

func buildDAG(g *Graph, ix *index) *dag {
	d := &dag{nodeOf: make([]int, len(g.Ops))}
	for i := range d.nodeOf {
		d.nodeOf[i] = -1
	}
	for _, o := range ix.fwdOps {
		op := &g.Ops[o]
		var m int64
		counted := false
		kept := !op.Recomputable
		br := false
		for _, v := range op.Outputs {
			val := &g.Values[v]
			if val.Resident {
				continue
			}
			counted = true
			m += val.Bytes
			if val.Output {
				kept = true
			}
			if ix.bwdRead[v] {
				br = true
			}
		}
		if !counted {
			continue
		}
		d.nodeOf[o] = d.n
		d.op = append(d.op, o)
		d.mem = append(d.mem, m)
		d.kept = append(d.kept, kept)
		d.br = append(d.br, br)
		d.n++
	}
	d.pred = make([][]int, d.n)
	d.succ = make([][]int, d.n)
	for i, o := range d.op {
		seen := map[int]bool{}
		for _, v := range g.Ops[o].Inputs {
			if g.Values[v].Resident {
				continue
			}
			p := ix.fwdProducer[v]
			if p < 0 || d.nodeOf[p] < 0 || seen[d.nodeOf[p]] {
				continue
			}
			pn := d.nodeOf[p]
			seen[pn] = true
			d.pred[i] = append(d.pred[i], pn)
			d.succ[pn] = append(d.succ[pn], i)
		}
	}
	d.t, d.unit = discretise(g, d)
	d.all = newBitset(d.n)
	for i := 0; i < d.n; i++ {
		d.all.set(i)
	}
	return d
}

// maxUnits caps the total cost in DP units.
const maxUnits = 2048

// discretise turns op costs into integer units for the DP (PAPER.md §4):
// integral costs with a small total are kept as they are (the paper's
// 10/1 costs); otherwise the bucket width makes the total about 5·|V|.
func discretise(g *Graph, d *dag) ([]int64, float64) {
	t := make([]int64, d.n)
	total := 0.0
	integral := true
	for _, o := range d.op {
		c := g.Ops[o].Cost
		total += c
		if c != math.Trunc(c) || c < 0 {
			integral = false
		}
	}
	// About 5·|V| units, at most maxUnits: the DP's state arrays are as
	// wide as the overhead can grow.
	limit := math.Min(5*float64(d.n), maxUnits)
	if limit < 1 {
		limit = 1
	}
	unit := 1.0
	if !integral || total > limit {
		unit = total / limit
	}
	if unit <= 0 {
		unit = 1
	}
	for i, o := range d.op {
		c := g.Ops[o].Cost
		if c <= 0 {
			continue
		}
		// Rounded to the nearest unit: with a scaled unit an op far
		// cheaper than the average (a ReLU next to convolutions) costs 0.
		t[i] = int64(math.Round(c / unit))
	}
	return t, unit
}

// lowerSet is a member of the DP's family with the quantities that depend
// on it alone, so that a transition L -> L' costs a few word operations.
type lowerSet struct {
	bits     bitset
	size     int
	mem      int64  // M(L)
	cost     int64  // T(L) in DP units: no sequence ending in L has more overhead
	boundary bitset // ∂(L): members some non-member reads
	kept     bitset // members kept when L ends a segment: ∂(L) and never-recomputed nodes
	// reach: members not kept that some backward op reads, or that reach
	// such a member through members not kept. For L ⊂ L', R = reach(L') \ L
	// is what the backward of segment L' \ L recomputes: a path upward from
	// a node outside the lower set L never re-enters L.
	reach bitset
	back  int64 // M(A) + M(B \ A): gradients flowing in and other inputs their consumers need
	// gen is v when the set is L_v, v and its ancestors (the approximate
	// family's sets), else -1: then L_v ⊆ L' for a lower set L' exactly
	// when v ∈ L'.
	gen int
	// full is the number of leading words of bits that are all ones;
	// words is one past the last non-zero word. Differences L' \ L only
	// involve the words [L.full, L'.words).
	full, words int
}

// subsetOf reports whether a ⊆ b for lower sets of one DAG.
func (a *lowerSet) subsetOf(b *lowerSet) bool {
	switch {
	case a.size > b.size:
		return false
	case a.size == 0:
		return true
	case a.gen >= 0:
		return b.bits.has(a.gen)
	}
	for w := range a.words {
		if a.bits[w]&^b.bits[w] != 0 {
			return false
		}
	}
	return true
}

func (d *dag) newLowerSet(b bitset) lowerSet {
	ls := lowerSet{bits: b, size: b.count(), boundary: newBitset(d.n), kept: newBitset(d.n), reach: newBitset(d.n), gen: -1}
	for ls.full < len(b) && b[ls.full] == ^uint64(0) {
		ls.full++
	}
	for w := range b {
		if b[w] != 0 {
			ls.words = w + 1
		}
	}
	a := newBitset(d.n)
	b.each(func(v int) {
		ls.mem += d.mem[v]
		ls.cost += d.t[v]
		for _, w := range d.succ[v] {
			if !b.has(w) {
				ls.boundary.set(v)
				a.set(w)
			}
		}
		if d.kept[v] || ls.boundary.has(v) {
			ls.kept.set(v)
		}
	})
	for v := d.n - 1; v >= 0; v-- {
		if !b.has(v) || ls.kept.has(v) {
			continue
		}
		in := d.br[v]
		for _, w := range d.succ[v] {
			if in {
				break
			}
			in = ls.reach.has(w)
		}
		if in {
			ls.reach.set(v)
		}
	}
	var back int64
	bb := newBitset(d.n)
	a.each(func(w int) {
		back += d.mem[w]
		for _, u := range d.pred[w] {
			if !b.has(u) && !a.has(u) && !bb.has(u) {
				bb.set(u)
				back += d.mem[u]
			}
		}
	})
	ls.back = back
	return ls
}

// weights sums per-node weights over a bitset with one table lookup per
// byte.
type weights [][256]int64

func newWeights(w []int64) weights {
	n := (len(w) + 7) / 8
	t := make(weights, n)
	for bi := 0; bi < n; bi++ {
		for x := 0; x < 256; x++ {
			var s int64
			for k := 0; k < 8; k++ {
				if x&(1<<k) != 0 && bi*8+k < len(w) {
					s += w[bi*8+k]
				}
			}
			t[bi][x] = s
		}
	}
	return t
}

// word returns the weight of the members in word wi of a bitset.
func (t weights) word(wi int, x uint64) int64 {
	var s int64
	for k := 0; x != 0 && wi*8+k < len(t); k++ {
		s += t[wi*8+k][x&0xff]
		x >>= 8
	}
	return s
}

// pairWeights is weights for two per-node weights at once (memory and
// cost), sharing the lookups.
type pairWeights [][256][2]int64

func newPairWeights(a, b []int64) pairWeights {
	wa, wb := newWeights(a), newWeights(b)
	t := make(pairWeights, len(wa))
	for i := range t {
		for x := range 256 {
			t[i][x] = [2]int64{wa[i][x], wb[i][x]}
		}
	}
	return t
}

// word returns the two weights of the members in word wi of a bitset.
func (t pairWeights) word(wi int, x uint64) (int64, int64) {
	var a, b int64
	for k := 0; x != 0 && wi*8+k < len(t); k++ {
		e := &t[wi*8+k][x&0xff]
		a += e[0]
		b += e[1]
		x >>= 8
	}
	return a, b
}

// ancestorSets returns L_v = v and its ancestors for every node v.
func (d *dag) ancestorSets() []bitset {
	out := make([]bitset, d.n)
	for v := 0; v < d.n; v++ {
		b := newBitset(d.n)
		b.set(v)
		for _, p := range d.pred[v] {
			for i, w := range out[p] {
				b[i] |= w
			}
		}
		out[v] = b
	}
	return out
}

// approxFamily is PAPER.md §5's family: ∅, every L_v, and V; sorted by size.
func (d *dag) approxFamily() []lowerSet {
	fam := []bitset{newBitset(d.n)}
	gens := []int{-1}
	seen := map[string]bool{fam[0].key(): true}
	for v, b := range d.ancestorSets() {
		if k := b.key(); !seen[k] {
			seen[k] = true
			fam = append(fam, b)
			gens = append(gens, v)
		}
	}
	if k := d.all.key(); !seen[k] {
		fam = append(fam, d.all.clone())
		gens = append(gens, -1)
	}
	return d.family(fam, gens)
}

// family returns the lower sets sets (with generators gens, nil for none)
// sorted by size.
func (d *dag) family(sets []bitset, gens []int) []lowerSet {
	out := make([]lowerSet, len(sets))
	for i, b := range sets {
		out[i] = d.newLowerSet(b)
		if gens != nil {
			out[i].gen = gens[i]
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].size < out[j].size })
	return out
}

// TooManyLowerSetsError reports that the exact DP's family is too large.
// Count is exact unless AtLeast is set (counting stopped at 10× the limit).
type TooManyLowerSetsError struct {
	Count, Limit int
	AtLeast      bool
}

func (e *TooManyLowerSetsError) Error() string {
	n := itoa(e.Count)
	if e.AtLeast {
		n = "more than " + n
	}
	return "exact DP: the graph has " + n + " lower sets, above the limit of " + itoa(e.Limit) +
		"; use --strategy approx (|V|+1 sets) or raise --max-lower-sets"
}

// exactFamily enumerates every lower set, by increasing size (breadth-first
// from ∅, adding one node whose predecessors are all present).
func (d *dag) exactFamily(limit int) ([]lowerSet, error) {
	cur := []bitset{newBitset(d.n)}
	all := []bitset{cur[0]}
	count := 1
	for len(cur) > 0 {
		seen := map[string]bool{}
		var next []bitset
		for _, s := range cur {
			for v := 0; v < d.n; v++ {
				if s.has(v) {
					continue
				}
				ok := true
				for _, p := range d.pred[v] {
					if !s.has(p) {
						ok = false
						break
					}
				}
				if !ok {
					continue
				}
				t := s.clone()
				t.set(v)
				k := t.key()
				if seen[k] {
					continue
				}
				seen[k] = true
				next = append(next, t)
				count++
				if count > 10*limit {
					return nil, &TooManyLowerSetsError{Count: 10 * limit, Limit: limit, AtLeast: true}
				}
			}
		}
		if count <= limit {
			all = append(all, next...)
		}
		cur = next
	}
	if count > limit {
		return nil, &TooManyLowerSetsError{Count: count, Limit: limit}
	}
	return d.family(all, nil), nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
