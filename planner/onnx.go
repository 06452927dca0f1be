package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

// FromModel builds the planner graph of an ONNX training graph. Ops[i] is
// graph node i, one to one and in the same order (rewrite relies on it).
// Values are every value name of the main graph: graph inputs, initializers
// and Constant outputs are resident, graph outputs are outputs; bytes come
// from r (a value of unknown size counts 0 bytes and is listed in
// g.Warnings). cost is "flops" (default; ops.FLOPs), "paper" (10 for
// convolutions, 1 otherwise) or "uniform" (1 per op). Only forward ops that
// ops.Recomputable accepts may be recomputed.
func FromModel(m *onnx.Model, r *ops.Result, s *ops.Split, cost string) (*Graph, error) {
	if m == nil || m.Proto.GetGraph() == nil {
		return nil, fmt.Errorf("planner graph: model has no graph")
	}
	if r == nil || s == nil {
		return nil, fmt.Errorf("planner graph: inference result and training split are required")
	}
	switch cost {
	case "", "flops", "paper", "uniform":
	default:
		return nil, fmt.Errorf("planner graph: unknown cost model %q (want flops, paper or uniform)", cost)
	}
	gp := m.Proto.GetGraph()
	nodes := gp.GetNode()
	if len(s.Forward) != len(nodes) {
		return nil, fmt.Errorf("planner graph: split has %d entries for %d nodes", len(s.Forward), len(nodes))
	}
	g := &Graph{}
	idx := map[string]int{}
	var unknown []string
	value := func(name string) int {
		if i, ok := idx[name]; ok {
			return i
		}
		v := Value{Name: name}
		if t, ok := r.Values[name]; ok {
			if b, ok := t.Bytes(); ok {
				v.Bytes = b
			} else {
				unknown = append(unknown, name)
			}
		} else {
			unknown = append(unknown, name)
		}
		g.Values = append(g.Values, v)
		idx[name] = len(g.Values) - 1
		return idx[name]
	}
	for _, in := range gp.GetInput() {
		g.Values[value(in.GetName())].Resident = true
	}
	for _, t := range gp.GetInitializer() {
		g.Values[value(t.GetName())].Resident = true
	}
	for i, n := range nodes {
		op := Op{Name: n.GetName(), Type: n.GetOpType(), Backward: !s.Forward[i]}
		if op.Name == "" {
			op.Name = fmt.Sprintf("%s#%d", n.GetOpType(), i)
		}
		for _, name := range n.GetInput() {
			if name != "" {
				op.Inputs = append(op.Inputs, value(name))
			}
		}
		constant := n.GetOpType() == "Constant" && (n.GetDomain() == "" || n.GetDomain() == "ai.onnx")
		for _, name := range n.GetOutput() {
			if name == "" {
				continue
			}
			v := value(name)
			if constant {
				g.Values[v].Resident = true
			}
			op.Outputs = append(op.Outputs, v)
		}
		switch cost {
		case "paper":
			op.Cost = 1
			if strings.HasPrefix(n.GetOpType(), "Conv") && !ops.IsGradientOp(n) {
				op.Cost = 10
			}
		case "uniform":
			op.Cost = 1
		default:
			op.Cost = ops.FLOPs(n, r)
		}
		op.Recomputable = !op.Backward && ops.Recomputable(n)
		if !op.Backward {
			g.ForwardCost += op.Cost
		}
		g.Ops = append(g.Ops, op)
	}
	for _, out := range gp.GetOutput() {
		if i, ok := idx[out.GetName()]; ok {
			g.Values[i].Output = true
		}
	}
	var counted []string
	for _, name := range unknown {
		if v := g.Values[idx[name]]; !v.Resident {
			counted = append(counted, name)
		}
	}
	if len(counted) > 0 {
		sort.Strings(counted)
		list := counted
		if len(list) > 5 {
			list = append(append([]string{}, list[:5]...), fmt.Sprintf("… %d more", len(counted)-5))
		}
		g.Warnings = append(g.Warnings, fmt.Sprintf("%d values of unknown size count 0 bytes (%s); give --dim/--batch for symbolic dimensions", len(counted), strings.Join(list, ", ")))
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("planner graph: %w", err)
	}
	return g, nil
}
