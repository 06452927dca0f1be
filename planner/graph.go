package planner

import (
	"fmt"
	"sort"
)

// Value is one tensor of the training graph: a forward activation, a
// gradient, or a resident value (parameter, graph input, constant).
type Value struct {
	Name     string
	Bytes    int64
	Resident bool // graph input, parameter, initializer, constant: never counted, always live
	Output   bool // graph output: live until the end, never freed
}

// Op is one function of the training graph.
type Op struct {
	Name         string
	Type         string
	Backward     bool
	Inputs       []int // value indexes read
	Outputs      []int // value indexes written (a gradient may have several writers: accumulation)
	Cost         float64
	Recomputable bool
	// Workspace is the bytes the runtime's kernel allocates while the op
	// runs, beyond its inputs and outputs (ops.Workspace; 0 for cg files
	// and the graph-only model). It counts at the op's step, never after.
	Workspace int64
	// FLOPs is the op's arithmetic (ops.FLOPs; 0 for cg files), kept
	// beside Cost so that a plan priced otherwise (measured kernel times)
	// still reports its recomputed FLOPs.
	FLOPs float64
}

// Graph is the training graph the planner works on: forward ops, backward
// ops and the values between them.
type Graph struct {
	Values      []Value
	Ops         []Op
	ForwardCost float64  // sum of forward op costs
	Warnings    []string // e.g. values of unknown size (FromModel)
	// Unsized names the transient values of unknown size that forward ops
	// write, the values recomputation would touch (FromModel; sorted).
	// They count 0 bytes: a plan made with them is not to be trusted.
	Unsized []string

	// bwdPrio, if set, orders backward ops among those ready to run
	// (lower first); ParseCG sets it so backward runs in reverse forward
	// order, as the paper's normal schedule does. Nil: op index order.
	bwdPrio []int
	// cg keeps what WriteSchedule needs to print the §9 text format.
	cg *cgInfo
}

// Validate checks indexes and that every non-resident value read by a
// forward op has a forward producer. Constructors call it.
func (g *Graph) Validate() error {
	nv := len(g.Values)
	fwdWriter := make([]int, nv)
	for i := range fwdWriter {
		fwdWriter[i] = -1
	}
	for i, op := range g.Ops {
		for _, v := range op.Inputs {
			if v < 0 || v >= nv {
				return fmt.Errorf("op %d (%s): input value index %d out of range", i, op.Name, v)
			}
		}
		for _, v := range op.Outputs {
			if v < 0 || v >= nv {
				return fmt.Errorf("op %d (%s): output value index %d out of range", i, op.Name, v)
			}
			if !op.Backward {
				if fwdWriter[v] >= 0 && !g.Values[v].Resident {
					return fmt.Errorf("value %s written by two forward ops (%s, %s)", g.Values[v].Name, g.Ops[fwdWriter[v]].Name, op.Name)
				}
				fwdWriter[v] = i
			}
		}
	}
	for i, op := range g.Ops {
		if op.Backward {
			continue
		}
		for _, v := range op.Inputs {
			if !g.Values[v].Resident && fwdWriter[v] < 0 {
				return fmt.Errorf("forward op %d (%s) reads %s, which no forward op writes and is not resident", i, op.Name, g.Values[v].Name)
			}
		}
	}
	if _, err := g.baseOrder(); err != nil {
		return err
	}
	return nil
}

// index holds derived lookups over a Graph.
type index struct {
	fwdProducer []int   // value -> forward op writing it, -1 if none
	writers     [][]int // value -> all ops writing it
	fwdOps      []int   // forward ops in topological order
	bwdOps      []int   // backward ops in a valid order (the base order)
	bwdASAP     []int   // backward ops, each as soon as its inputs exist
	bwdRead     []bool  // value -> some backward op reads it
}

func (g *Graph) index() (*index, error) {
	nv := len(g.Values)
	ix := &index{fwdProducer: make([]int, nv), writers: make([][]int, nv), bwdRead: make([]bool, nv)}
	for i := range ix.fwdProducer {
		ix.fwdProducer[i] = -1
	}
	for i, op := range g.Ops {
		for _, v := range op.Outputs {
			ix.writers[v] = append(ix.writers[v], i)
			if !op.Backward {
				ix.fwdProducer[v] = i
			}
		}
		if op.Backward {
			for _, v := range op.Inputs {
				ix.bwdRead[v] = true
			}
		}
	}
	order, err := g.baseOrder()
	if err != nil {
		return nil, err
	}
	for _, o := range order {
		if g.Ops[o].Backward {
			ix.bwdOps = append(ix.bwdOps, o)
		} else {
			ix.fwdOps = append(ix.fwdOps, o)
		}
	}
	ix.bwdASAP = g.asapBackward(ix)
	return ix, nil
}

// asapBackward orders the backward ops so that each runs as soon as the
// values it reads exist (ties: base order). Training graphs often list
// work that could free a gradient early at the very end (ONNX Runtime puts
// every InPlaceAccumulator last, so every parameter gradient lives until
// then); running it early shortens those lifetimes.
func (g *Graph) asapBackward(ix *index) []int {
	pos := make([]int, len(g.Ops))
	for i, o := range ix.bwdOps {
		pos[o] = i
	}
	indeg := make([]int, len(g.Ops))
	succ := make([][]int, len(g.Ops))
	for _, o := range ix.bwdOps {
		seen := map[int]bool{}
		for _, v := range g.Ops[o].Inputs {
			if g.Values[v].Resident {
				continue
			}
			for _, w := range ix.writers[v] {
				if w != o && g.Ops[w].Backward && !seen[w] {
					seen[w] = true
					succ[w] = append(succ[w], o)
					indeg[o]++
				}
			}
		}
	}
	ready := make([]int, len(g.Ops))
	h := &intHeap{less: func(a, b int) bool {
		if ready[a] != ready[b] {
			return ready[a] < ready[b]
		}
		return pos[a] < pos[b]
	}}
	for _, o := range ix.bwdOps {
		if indeg[o] == 0 {
			h.push(o)
		}
	}
	out := make([]int, 0, len(ix.bwdOps))
	for h.len() > 0 {
		o := h.pop()
		out = append(out, o)
		for _, s := range succ[o] {
			indeg[s]--
			if indeg[s] == 0 {
				ready[s] = len(out)
				h.push(s)
			}
		}
	}
	if len(out) != len(ix.bwdOps) {
		return ix.bwdOps // cannot happen: bwdOps is a valid order
	}
	return out
}

// baseOrder is the order of strategy none: forward ops in topological
// order (index order where free), then backward ops in topological order
// (bwdPrio or index order where free). A backward op that reads a value
// waits for every op writing it (all contributions of an accumulated
// gradient).
func (g *Graph) baseOrder() ([]int, error) {
	n := len(g.Ops)
	writers := make([][]int, len(g.Values))
	for i, op := range g.Ops {
		for _, v := range op.Outputs {
			writers[v] = append(writers[v], i)
		}
	}
	indeg := make([]int, n)
	succ := make([][]int, n)
	for i, op := range g.Ops {
		seen := map[int]bool{}
		for _, v := range op.Inputs {
			if g.Values[v].Resident {
				continue
			}
			for _, w := range writers[v] {
				if w == i || seen[w] {
					continue
				}
				// Forward ops depend only on forward producers.
				if !op.Backward && g.Ops[w].Backward {
					continue
				}
				seen[w] = true
				succ[w] = append(succ[w], i)
				indeg[i]++
			}
		}
	}
	prio := func(i int) int {
		if g.Ops[i].Backward {
			if g.bwdPrio != nil {
				return n + g.bwdPrio[i]
			}
			return n + i
		}
		return i
	}
	h := &intHeap{less: func(a, b int) bool { return prio(a) < prio(b) }}
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			h.push(i)
		}
	}
	order := make([]int, 0, n)
	for h.len() > 0 {
		i := h.pop()
		order = append(order, i)
		for _, s := range succ[i] {
			indeg[s]--
			if indeg[s] == 0 {
				h.push(s)
			}
		}
	}
	if len(order) != n {
		for i := 0; i < n; i++ {
			if indeg[i] > 0 {
				return nil, fmt.Errorf("graph has a cycle through op %d (%s)", i, g.Ops[i].Name)
			}
		}
	}
	// Forward ops first: backward ops never feed forward ops, but the heap
	// may interleave them when a backward op is ready early.
	sort.SliceStable(order, func(a, b int) bool {
		return !g.Ops[order[a]].Backward && g.Ops[order[b]].Backward
	})
	return order, nil
}

// intHeap is a small binary heap of ints with a custom order.
type intHeap struct {
	a    []int
	less func(a, b int) bool
}

func (h *intHeap) len() int { return len(h.a) }
func (h *intHeap) push(x int) {
	h.a = append(h.a, x)
	i := len(h.a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.a[i], h.a[p]) {
			break
		}
		h.a[i], h.a[p] = h.a[p], h.a[i]
		i = p
	}
}
func (h *intHeap) pop() int {
	x := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.a) && h.less(h.a[l], h.a[m]) {
			m = l
		}
		if r < len(h.a) && h.less(h.a[r], h.a[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
	return x
}

// RecomputedFLOPs sums Op.FLOPs over the recompute steps of s (compute
// steps of a forward op that already ran) and over the forward ops.
func (g *Graph) RecomputedFLOPs(s Schedule) (recomputed, forward float64) {
	ran := make([]bool, len(g.Ops))
	for _, st := range s {
		if st.Op < 0 || st.Op >= len(g.Ops) {
			continue
		}
		if ran[st.Op] && !g.Ops[st.Op].Backward {
			recomputed += g.Ops[st.Op].FLOPs
		}
		ran[st.Op] = true
	}
	for _, op := range g.Ops {
		if !op.Backward {
			forward += op.FLOPs
		}
	}
	return recomputed, forward
}
