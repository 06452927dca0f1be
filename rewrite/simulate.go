package rewrite

import (
	"fmt"

	"github.com/onnx-recompute/recompute/ort/ortalloc"
	"github.com/onnx-recompute/recompute/ort/ortorder"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/planner"
)

// checkOrder verifies that gp is topologically sorted: every value a node
// reads (explicitly, or implicitly from inside a subgraph) is a graph input,
// an initializer or the output of an earlier node, and no value is written
// twice.
func checkOrder(gp *onnxpb.GraphProto) error {
	defined := map[string]bool{}
	for _, v := range gp.Input {
		defined[v.GetName()] = true
	}
	for _, t := range gp.Initializer {
		defined[t.GetName()] = true
	}
	for _, t := range gp.SparseInitializer {
		defined[t.GetValues().GetName()] = true
	}
	for i, n := range gp.Node {
		for _, x := range nodeReads(n) {
			if !defined[x] {
				return fmt.Errorf("node %d %q (%s) reads %q before it is produced", i, n.GetName(), n.GetOpType(), x)
			}
		}
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if defined[o] {
				return fmt.Errorf("node %d %q (%s) writes %q, which already exists", i, n.GetName(), n.GetOpType(), o)
			}
			defined[o] = true
		}
	}
	return nil
}

// nodeReads lists the non-empty explicit inputs of n and the outer-scope
// values its subgraphs read.
func nodeReads(n *onnxpb.NodeProto) []string {
	var out []string
	for _, x := range n.Input {
		if x != "" {
			out = append(out, x)
		}
	}
	return append(out, onnx.OuterRefs(n)...)
}

// peaks are the simulated transient peaks of one node list.
type peaks struct {
	file, ort int64 // liveness in file order, in ONNX Runtime's predicted order
	// reuse: ORT's predicted order under the model of ORT's allocation
	// planner (ort/ortalloc: dead buffers kept for later tensors of their
	// size).
	reuse   int64
	unsized int // values the simulation could not size (counted as 0)
}

// simulateBoth rebuilds a planner graph from the node list of gp and
// replays it with frees after each value's last use (planner.Liveness and
// planner.Replay) in file order and in the order ONNX Runtime is predicted
// to run (ortorder.PredictOrder), and models ORT's buffer reuse in the
// latter (none for values computed from inputs whose shapes the rewrite
// hid: ortorder.ShapeHidden).
//
// Value sizes come from g by name; a clone's value (cloneOf) has its
// original's size; an ordering guard's values (isGuard) are shapes, empty
// tensors or aliases and count 0 bytes, and a node reading an alias keeps the
// aliased value live too. origin maps gp's node i to g's op (nil: the
// identity; -1: not in g).
func simulateBoth(gp *onnxpb.GraphProto, g *planner.Graph, origin []int, cloneOf map[string]string) (peaks, error) {
	sg, unsized := simGraph(gp, g, origin, cloneOf)
	fileOrder := make([]int, len(gp.Node))
	for i := range fileOrder {
		fileOrder[i] = i
	}
	rf, err := planner.Replay(sg, planner.Liveness(sg, fileOrder))
	if err != nil {
		return peaks{}, err
	}
	order := ortorder.PredictOrder(gp)
	ro, err := planner.Replay(sg, planner.Liveness(sg, order))
	if err != nil {
		return peaks{}, fmt.Errorf("predicted ONNX Runtime order: %w", err)
	}
	var hidden []bool
	if h := ortorder.ShapeHidden(gp); len(h) > 0 {
		hidden = make([]bool, len(sg.Values))
		for v := range sg.Values {
			hidden[v] = h[sg.Values[v].Name]
		}
	}
	return peaks{file: rf.PeakBytes, ort: ro.PeakBytes, reuse: ortalloc.SimulateUnsized(sg, order, hidden).PeakBytes, unsized: unsized}, nil
}

// simGraph is the planner graph simulateBoth replays: gp's node i is op i.
func simGraph(gp *onnxpb.GraphProto, g *planner.Graph, origin []int, cloneOf map[string]string) (sg *planner.Graph, unsized int) {
	zero := map[string]bool{}
	alias := map[string]string{}
	for _, n := range gp.Node {
		if !isGuard(n) {
			continue
		}
		for _, o := range n.Output {
			zero[o] = true
		}
		if n.GetOpType() == "Reshape" && len(n.Input) > 0 && len(n.Output) > 0 {
			alias[n.Output[0]] = n.Input[0]
		}
	}
	byName := make(map[string]int, len(g.Values))
	for i, v := range g.Values {
		byName[v.Name] = i
	}
	resident := map[string]bool{}
	for _, v := range gp.Input {
		resident[v.GetName()] = true
	}
	for _, t := range gp.Initializer {
		resident[t.GetName()] = true
	}
	for _, t := range gp.SparseInitializer {
		resident[t.GetValues().GetName()] = true
	}
	isOutput := map[string]bool{}
	for _, v := range gp.Output {
		isOutput[v.GetName()] = true
	}

	sg = &planner.Graph{}
	index := map[string]int{}
	value := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		v := planner.Value{Name: name, Resident: resident[name], Output: isOutput[name]}
		orig := name
		if o, ok := cloneOf[name]; ok {
			orig = o
		}
		if gi, ok := byName[orig]; ok {
			v.Bytes = g.Values[gi].Bytes
			v.Resident = v.Resident || g.Values[gi].Resident
		} else if !v.Resident && !zero[name] {
			unsized++
		}
		index[name] = len(sg.Values)
		sg.Values = append(sg.Values, v)
		return index[name]
	}
	for i, n := range gp.Node {
		op := planner.Op{Name: n.GetName(), Type: n.GetOpType()}
		o := i
		if origin != nil {
			o = origin[i]
		}
		op.Backward = o >= 0 && g.Ops[o].Backward
		if o >= 0 {
			op.Workspace = g.Ops[o].Workspace // a clone's kernel needs what its original's does
		}
		for _, x := range nodeReads(n) {
			op.Inputs = append(op.Inputs, value(x))
			for a, ok := alias[x]; ok; a, ok = alias[a] {
				op.Inputs = append(op.Inputs, value(a))
			}
		}
		for _, o := range n.Output {
			if o != "" {
				op.Outputs = append(op.Outputs, value(o))
			}
		}
		sg.Ops = append(sg.Ops, op)
	}
	return sg, unsized
}
