package onnx

import (
	"container/heap"
	"fmt"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// View indexes one graph: who writes and who reads every value, and a
// topological order of the nodes. It does not copy the graph; changing G
// afterwards invalidates the view.
//
// Subgraphs (the bodies of If, Loop, Scan) are not descended into, but the
// values they read from this graph count as read by the node that owns the
// subgraph, so Consumers and Order respect them.
type View struct {
	G         *onnxpb.GraphProto
	Producer  map[string]int   // value name -> index of the node that writes it
	Consumers map[string][]int // value name -> indexes of nodes that read it (in node order, once per node)
	Order     []int            // a topological order of node indexes (stable: file order where possible)
	Inputs    map[string]bool  // graph inputs
	Inits     map[string]bool  // initializer names
	Outputs   map[string]bool  // graph outputs
}

// NewView builds the view of g. It fails if two nodes write the same value, a
// node writes a graph input or initializer, a value is read but nothing
// provides it (not a graph input, initializer or node output), or the nodes
// form a cycle.
func NewView(g *onnxpb.GraphProto) (*View, error) {
	if g == nil {
		return nil, fmt.Errorf("graph view: no graph")
	}
	v := &View{
		G:         g,
		Producer:  make(map[string]int, len(g.Node)),
		Consumers: make(map[string][]int, len(g.Node)),
		Inputs:    make(map[string]bool, len(g.Input)),
		Inits:     make(map[string]bool, len(g.Initializer)),
		Outputs:   make(map[string]bool, len(g.Output)),
	}
	for _, in := range g.Input {
		v.Inputs[in.GetName()] = true
	}
	for _, t := range g.Initializer {
		v.Inits[t.GetName()] = true
	}
	for _, t := range g.SparseInitializer {
		v.Inits[t.GetValues().GetName()] = true
	}
	for _, out := range g.Output {
		v.Outputs[out.GetName()] = true
	}
	for i, n := range g.Node {
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if j, dup := v.Producer[o]; dup {
				return nil, fmt.Errorf("graph view: value %q is written by both %s and %s", o, NodeLabel(g, j), NodeLabel(g, i))
			}
			if v.Inputs[o] || v.Inits[o] {
				return nil, fmt.Errorf("graph view: %s writes %q, which is a graph input or initializer", NodeLabel(g, i), o)
			}
			v.Producer[o] = i
		}
	}
	// Reads: explicit inputs, then the outer-scope names subgraphs use.
	for i, n := range g.Node {
		reads := n.Input
		if hasSubgraph(n) {
			reads = append(append([]string(nil), n.Input...), outerRefs(n)...)
		}
		for k, in := range reads {
			if in == "" {
				continue
			}
			explicit := k < len(n.Input)
			if _, ok := v.Producer[in]; !ok && !v.Inputs[in] && !v.Inits[in] {
				if !explicit {
					// A subgraph may name values of an enclosing graph we do
					// not see (when g itself is a subgraph); not our concern.
					continue
				}
				return nil, fmt.Errorf("graph view: value %q read by %s has no producer (not a graph input, initializer or node output)", in, NodeLabel(g, i))
			}
			c := v.Consumers[in]
			if len(c) == 0 || c[len(c)-1] != i {
				v.Consumers[in] = append(c, i)
			}
		}
	}
	for _, out := range g.Output {
		o := out.GetName()
		if _, ok := v.Producer[o]; !ok && !v.Inputs[o] && !v.Inits[o] {
			return nil, fmt.Errorf("graph view: graph output %q has no producer (not a graph input, initializer or node output)", o)
		}
	}
	order, err := v.topoOrder()
	if err != nil {
		return nil, err
	}
	v.Order = order
	return v, nil
}

// NodeLabel names node i of g for messages: its name if it has one, and its
// op type and index.
func NodeLabel(g *onnxpb.GraphProto, i int) string {
	n := g.Node[i]
	op := n.GetOpType()
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		op = d + ":" + op
	}
	if n.GetName() != "" {
		return fmt.Sprintf("node %q (%s #%d)", n.GetName(), op, i)
	}
	return fmt.Sprintf("node #%d (%s)", i, op)
}

// preds returns the distinct producer indexes of the values node i reads.
func (v *View) preds(i int) []int {
	n := v.G.Node[i]
	var out []int
	add := func(name string) {
		if p, ok := v.Producer[name]; ok {
			for _, q := range out {
				if q == p {
					return
				}
			}
			out = append(out, p)
		}
	}
	for _, in := range n.Input {
		add(in)
	}
	if hasSubgraph(n) {
		for _, in := range outerRefs(n) {
			add(in)
		}
	}
	return out
}

// topoOrder is Kahn's algorithm taking the lowest ready node index first, so
// a graph already in topological order keeps its file order.
func (v *View) topoOrder() ([]int, error) {
	n := len(v.G.Node)
	indeg := make([]int, n)
	succ := make([][]int, n)
	for i := 0; i < n; i++ {
		for _, p := range v.preds(i) {
			indeg[i]++
			succ[p] = append(succ[p], i)
		}
	}
	ready := &intHeap{}
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			*ready = append(*ready, i)
		}
	}
	// Already a valid heap: ascending order.
	order := make([]int, 0, n)
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, s := range succ[i] {
			indeg[s]--
			if indeg[s] == 0 {
				heap.Push(ready, s)
			}
		}
	}
	if len(order) == n {
		return order, nil
	}
	return nil, v.cycleError(indeg)
}

// cycleError finds a cycle among the nodes Kahn could not order (indeg > 0)
// and names it.
func (v *View) cycleError(indeg []int) error {
	start := -1
	for i, d := range indeg {
		if d > 0 {
			start = i
			break
		}
	}
	// Walk predecessors that are still blocked; within a finite set the walk
	// must revisit a node, and the revisited stretch is a cycle.
	pos := map[int]int{}
	var path []int
	cur := start
	for {
		if at, seen := pos[cur]; seen {
			// path[k+1] feeds path[k]; in data-flow order the cycle is
			// cur -> path[last] -> ... -> path[at+1] -> cur.
			names := []string{NodeLabel(v.G, cur)}
			for k := len(path) - 1; k > at; k-- {
				names = append(names, NodeLabel(v.G, path[k]))
			}
			names = append(names, NodeLabel(v.G, cur))
			return fmt.Errorf("graph view: cycle through %s: %s", NodeLabel(v.G, cur), strings.Join(names, " -> "))
		}
		pos[cur] = len(path)
		path = append(path, cur)
		next := -1
		for _, p := range v.preds(cur) {
			if indeg[p] > 0 {
				next = p
				break
			}
		}
		if next < 0 { // cannot happen: a blocked node has a blocked predecessor
			return fmt.Errorf("graph view: cycle through %s", NodeLabel(v.G, cur))
		}
		cur = next
	}
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// HasSubgraph reports whether n carries a graph attribute (If, Loop, Scan, …).
func HasSubgraph(n *onnxpb.NodeProto) bool { return hasSubgraph(n) }

func hasSubgraph(n *onnxpb.NodeProto) bool {
	for _, a := range n.Attribute {
		if a.G != nil || len(a.Graphs) > 0 {
			return true
		}
	}
	return false
}

// OuterRefs returns the names that the subgraphs of n read from enclosing
// scopes (not defined inside them), sorted by first use, without duplicates.
func OuterRefs(n *onnxpb.NodeProto) []string { return outerRefs(n) }

func outerRefs(n *onnxpb.NodeProto) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range n.Attribute {
		gs := a.Graphs
		if a.G != nil {
			gs = append([]*onnxpb.GraphProto{a.G}, gs...)
		}
		for _, g := range gs {
			for _, name := range freeNames(g) {
				if !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
	}
	return out
}

// freeNames lists the values g reads but does not define, including those its
// own nested subgraphs read from outside g.
func freeNames(g *onnxpb.GraphProto) []string {
	defined := map[string]bool{"": true}
	for _, in := range g.Input {
		defined[in.GetName()] = true
	}
	for _, t := range g.Initializer {
		defined[t.GetName()] = true
	}
	for _, t := range g.SparseInitializer {
		defined[t.GetValues().GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			defined[o] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	use := func(name string) {
		if !defined[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, n := range g.Node {
		for _, in := range n.Input {
			use(in)
		}
		if hasSubgraph(n) {
			for _, in := range outerRefs(n) {
				use(in)
			}
		}
	}
	for _, o := range g.Output {
		use(o.GetName())
	}
	return out
}

// ConstantNodes marks the nodes whose outputs are constants, in node index
// order: Constant nodes, and deterministic default-domain nodes without
// subgraphs whose inputs are all initializers or outputs of other constant
// nodes (e.g. ConstantOfShape of a shape initializer, the way the ONNX
// "light" zoo models carry their weights). A runtime folds them once; their
// outputs are resident, not transient, memory.
func (v *View) ConstantNodes() []bool {
	nodes := v.G.GetNode()
	isConst := make([]bool, len(nodes))
	constVal := map[string]bool{}
	for _, i := range v.Order {
		n := nodes[i]
		c := false
		switch {
		case n.GetDomain() != "" && n.GetDomain() != "ai.onnx":
		case n.GetOpType() == "Constant":
			c = true
		case strings.HasPrefix(n.GetOpType(), "Random") || n.GetOpType() == "Multinomial" || n.GetOpType() == "Bernoulli" || hasSubgraph(n):
		default:
			c = len(n.Input) > 0
			for _, in := range n.Input {
				// An initializer also listed as a graph input (IR < 4) is
				// a default a caller may override, but in practice a weight.
				if in != "" && !v.Inits[in] && !constVal[in] {
					c = false
					break
				}
			}
		}
		if c {
			isConst[i] = true
			for _, o := range n.Output {
				constVal[o] = true
			}
		}
	}
	return isConst
}
