package ortorder

import (
	"sort"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// expandedOps are ops ORT 1.30's CPU provider runs by expanding their ONNX
// function body at load: the body's nodes are appended after every other
// node, so in the order below the op behaves like a node with the highest
// index. Seen in profiles; extend when a profile shows another.
var expandedOps = map[string]bool{"SoftmaxCrossEntropyLoss": true}

// PredictOrder returns the node order ONNX Runtime's sequential executor
// uses by default (ExecutionOrder::DEFAULT, graph optimisations off), as
// node indexes of g, emulating GraphViewer: a depth-first walk back from the
// sink nodes (nodes whose outputs no node reads), the sink with the highest
// index first, and among a node's producers the one with the highest index
// first; a node is emitted after all its producers. Constant nodes are
// initializers for ORT and are listed first.
//
// This is why a clone written just before its consumer runs early: the
// consumer's producers are visited from the highest index down, and the
// clone has a higher index than the values the consumer also reads.
func PredictOrder(g *onnxpb.GraphProto) []int {
	nodes := g.GetNode()
	n := len(nodes)
	producer := make(map[string]int, n)
	for i, nd := range nodes {
		for _, o := range nd.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	// key orders nodes as ORT indexes them: file order, expanded functions last.
	key := func(i int) int {
		if expandedOps[nodes[i].GetOpType()] {
			return n + i
		}
		return i
	}
	isConst := func(i int) bool { return nodes[i].GetOpType() == "Constant" && nodes[i].GetDomain() == "" }
	preds := make([][]int, n)
	hasSucc := make([]bool, n)
	for i, nd := range nodes {
		seen := map[int]bool{}
		for _, in := range nodeInputs(nd) {
			p, ok := producer[in]
			if !ok || seen[p] || isConst(p) {
				continue
			}
			seen[p] = true
			preds[i] = append(preds[i], p)
			hasSucc[p] = true
		}
		// Pushed in ascending order, so the highest is popped (visited) first.
		sort.Slice(preds[i], func(a, b int) bool { return key(preds[i][a]) < key(preds[i][b]) })
	}
	var order []int
	for i := range nodes {
		if isConst(i) {
			order = append(order, i)
		}
	}
	type entry struct {
		node  int
		leave bool
	}
	var stack []entry
	var sinks []int
	for i := range nodes {
		if !hasSucc[i] && !isConst(i) {
			sinks = append(sinks, i)
		}
	}
	sort.Slice(sinks, func(a, b int) bool { return key(sinks[a]) < key(sinks[b]) })
	for _, s := range sinks {
		stack = append(stack, entry{s, false})
	}
	visited := make([]bool, n)
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e.leave {
			order = append(order, e.node)
			continue
		}
		if visited[e.node] {
			continue
		}
		visited[e.node] = true
		stack = append(stack, entry{e.node, true})
		for _, p := range preds[e.node] {
			if !visited[p] {
				stack = append(stack, entry{p, false})
			}
		}
	}
	return order
}

// nodeInputs lists the values a node reads, including the outer-scope
// values its subgraphs read (ORT's implicit inputs).
func nodeInputs(nd *onnxpb.NodeProto) []string {
	ins := append([]string(nil), nd.GetInput()...)
	for _, a := range nd.GetAttribute() {
		var gs []*onnxpb.GraphProto
		if a.G != nil {
			gs = append(gs, a.G)
		}
		gs = append(gs, a.Graphs...)
		for _, sg := range gs {
			ins = append(ins, outerRefs(sg)...)
		}
	}
	return ins
}

// outerRefs are the names a subgraph reads but does not define.
func outerRefs(g *onnxpb.GraphProto) []string {
	defined := map[string]bool{}
	for _, v := range g.GetInput() {
		defined[v.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		defined[t.GetName()] = true
	}
	for _, nd := range g.GetNode() {
		for _, o := range nd.GetOutput() {
			defined[o] = true
		}
	}
	var refs []string
	for _, nd := range g.GetNode() {
		for _, in := range nodeInputs(nd) {
			if in != "" && !defined[in] {
				refs = append(refs, in)
			}
		}
	}
	return refs
}
