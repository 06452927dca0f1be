package ops

import (
	"fmt"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Split is a training graph cut into its forward part (the ancestors of the
// loss) and its backward part (every other node).
type Split struct {
	Loss                    []string // loss value name(s)
	Forward                 []bool   // per node index: true if forward (ancestor of the loss)
	NumForward, NumBackward int
}

// IsGradientOp reports whether a node's op type only appears in backward
// graphs: ORT's *Grad ops (com.microsoft, and MaxPoolGrad in the default
// domain), gradient accumulation, optimizers and the preview training
// domain. Ops that can sit on either side (Scale, Gemm, ReduceSum, …) are
// not; SplitTraining decides those by graph structure.
func IsGradientOp(n *onnxpb.NodeProto) bool {
	t, d := n.GetOpType(), normDomain(n.GetDomain())
	switch {
	case strings.Contains(t, "Grad"): // *Grad, *Grad_13, *Grad_dX, ZeroGradient, Gradient, BroadcastGradientArgs
		return true
	case strings.HasPrefix(t, "InPlaceAccumulator"):
		return true
	case d == "ai.onnx.preview.training": // Gradient, Momentum, Adagrad, Adam
		return true
	case d == "com.microsoft" && (strings.HasSuffix(t, "Optimizer") || t == "YieldOp"):
		return true
	}
	return false
}

// lossOps are ops whose first output is a training loss.
var lossOps = map[string]bool{
	"SoftmaxCrossEntropyLoss":         true,
	"NegativeLogLikelihoodLoss":       true,
	"SoftmaxCrossEntropyLossInternal": true,
}

// SplitTraining cuts a training graph into forward and backward parts.
// loss names the loss value(s) (comma-separated); "" finds it, in this order:
//  1. a graph output named "loss" (this project's autodiff graphs);
//  2. the first scalar graph output whose ancestors hold no gradient op
//     (ONNX Runtime training artifacts list the loss first);
//  3. the first output of a loss op (SoftmaxCrossEntropyLoss, …);
//  4. a value X whose seed gradient "X_grad" is a graph input or initializer.
//
// A candidate must leave a non-empty backward part. v may be nil (it is then
// built from m). It is an error if no loss is found, a named loss is not
// produced by a node, or no node is left for the backward part.
func SplitTraining(m *onnx.Model, v *onnx.View, loss string) (s *Split, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("split training graph: internal error on a malformed model: %v", p)
		}
	}()
	if m == nil || m.Proto.GetGraph() == nil {
		return nil, fmt.Errorf("split training graph: model has no graph")
	}
	if v == nil {
		var err error
		if v, err = onnx.NewView(m.Proto.GetGraph()); err != nil {
			return nil, fmt.Errorf("split training graph: %w", err)
		}
	}
	nodes := v.G.GetNode()
	if loss != "" {
		var names []string
		for _, s := range strings.Split(loss, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if _, ok := v.Producer[s]; !ok {
				return nil, fmt.Errorf("split training graph: loss %q is not produced by any node", s)
			}
			names = append(names, s)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("split training graph: empty loss name %q", loss)
		}
		s := cut(v, names)
		if s.NumBackward == 0 {
			return nil, fmt.Errorf("split training graph: no backward part: all %d nodes are ancestors of loss %s (a forward-only model? build the backward first)", len(nodes), strings.Join(names, ","))
		}
		return s, nil
	}

	// Candidates in order of preference, each tried once.
	var cands []string
	seen := map[string]bool{}
	add := func(name string) {
		if name == "" || seen[name] {
			return
		}
		if _, ok := v.Producer[name]; !ok {
			return
		}
		seen[name] = true
		cands = append(cands, name)
	}
	outs := v.G.GetOutput()
	for _, o := range outs {
		if o.GetName() == "loss" {
			add("loss")
		}
	}
	var res *Result
	for _, o := range outs {
		if seen[o.GetName()] {
			continue
		}
		if res == nil {
			res, _ = Infer(m, Options{})
		}
		if t := res.value(o.GetName()); isScalar(t) {
			add(o.GetName())
		}
	}
	for _, i := range v.Order {
		n := nodes[i]
		if lossOps[n.GetOpType()] && len(n.GetOutput()) > 0 {
			add(n.GetOutput()[0])
		}
	}
	for _, in := range v.G.GetInput() {
		add(strings.TrimSuffix(in.GetName(), "_grad"))
	}
	for _, t := range v.G.GetInitializer() {
		add(strings.TrimSuffix(t.GetName(), "_grad"))
	}
	var rejected []string
	for _, name := range cands {
		s := cut(v, []string{name})
		if s.NumBackward == 0 {
			rejected = append(rejected, fmt.Sprintf("%q has no backward part", name))
			continue
		}
		if op := gradAncestor(v, s); op != "" {
			rejected = append(rejected, fmt.Sprintf("%q depends on gradient op %s", name, op))
			continue
		}
		return s, nil
	}
	msg := "no loss found (name it with --loss"
	if len(outs) > 0 {
		names := make([]string, 0, len(outs))
		for _, o := range outs {
			names = append(names, o.GetName())
		}
		msg += "; graph outputs: " + strings.Join(names, ", ")
	}
	msg += ")"
	if len(rejected) > 0 {
		msg += "; rejected: " + strings.Join(rejected, "; ")
	}
	if len(cands) == 0 && len(nodes) > 0 {
		msg += "; is this a training graph?"
	}
	return nil, fmt.Errorf("split training graph: %s", msg)
}

func isScalar(t Tensor) bool {
	if t.Rank == 0 {
		return true
	}
	n, ok := t.Elements()
	return ok && n == 1
}

// cut marks the ancestors of the loss values as forward.
func cut(v *onnx.View, loss []string) *Split {
	nodes := v.G.GetNode()
	s := &Split{Loss: loss, Forward: make([]bool, len(nodes))}
	var stack []int
	visit := func(value string) {
		if p, ok := v.Producer[value]; ok && !s.Forward[p] {
			s.Forward[p] = true
			stack = append(stack, p)
		}
	}
	for _, l := range loss {
		visit(l)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, in := range nodes[i].GetInput() {
			visit(in)
		}
		// Values read from inside subgraphs (If/Loop/Scan bodies).
		for _, in := range outerReads(nodes[i]) {
			visit(in)
		}
	}
	for _, f := range s.Forward {
		if f {
			s.NumForward++
		} else {
			s.NumBackward++
		}
	}
	return s
}

// gradAncestor returns the op key of a gradient op in the forward part, or "".
func gradAncestor(v *onnx.View, s *Split) string {
	for i, f := range s.Forward {
		if f && IsGradientOp(v.G.GetNode()[i]) {
			return OpKey(v.G.GetNode()[i])
		}
	}
	return ""
}

// outerReads lists the names a node's subgraphs read (a superset of the
// values they take from the enclosing graph; names defined inside the
// subgraph are not produced in the outer graph, so visiting them is a no-op).
func outerReads(n *onnxpb.NodeProto) []string {
	var out []string
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, sn := range g.GetNode() {
			out = append(out, sn.GetInput()...)
			for _, a := range sn.GetAttribute() {
				if a.G != nil {
					walk(a.G)
				}
				for _, sg := range a.Graphs {
					walk(sg)
				}
			}
		}
	}
	for _, a := range n.GetAttribute() {
		if a.G != nil {
			walk(a.G)
		}
		for _, sg := range a.Graphs {
			walk(sg)
		}
	}
	return out
}
