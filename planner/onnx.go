package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

// MaxTotalBytes bounds the sum of all value sizes of a planner graph (4
// PiB): far above any device, and far enough below 2^63 that sums over the
// values, recomputed copies included, cannot overflow int64.
const MaxTotalBytes = int64(1) << 52

// SizeError reports sizes too large to plan with: a value whose byte count
// overflows int64 (Shape set), or values whose sizes add up to more than
// MaxTotalBytes (Total; Value is the largest).
type SizeError struct {
	Value string
	Shape string
	Bytes int64
	Total bool
}

func (e *SizeError) Error() string {
	if e.Total {
		return fmt.Sprintf("sizes too large: the values add up to more than %s (the largest, %s, is %s); check --batch and --dim", HumanBytes(MaxTotalBytes), e.Value, HumanBytes(e.Bytes))
	}
	return fmt.Sprintf("sizes too large: value %s (%s) has more bytes than an int64 counts; check --batch and --dim", e.Value, e.Shape)
}

// FromModel builds the planner graph of an ONNX training graph. Ops[i] is
// graph node i, one to one and in the same order (rewrite relies on it).
// Values are every value name of the main graph: graph inputs, initializers
// and Constant outputs are resident, graph outputs are outputs; bytes come
// from r (a value of unknown size counts 0 bytes and is listed in
// g.Warnings, and in g.Unsized if a forward op writes it; sizes that
// overflow, alone or in total, are a *SizeError). cost is "flops" (default; ops.FLOPs), "paper" (10 for
// convolutions, 1 otherwise) or "uniform" (1 per op). Only forward ops that
// ops.Recomputable accepts may be recomputed.
func FromModel(m *onnx.Model, r *ops.Result, s *ops.Split, cost string) (*Graph, error) {
	f, err := NamedCost(cost)
	if err != nil {
		return nil, err
	}
	return FromModelCosts(m, r, s, f)
}

// NamedCost is the cost model FromModel names: "flops" (or "") prices a
// node by its FLOPs, "paper" by 10 for a forward convolution and 1
// otherwise, "uniform" by 1.
func NamedCost(cost string) (CostFunc, error) {
	switch cost {
	case "", "flops":
		return func(_ *onnxpb.NodeProto, flops float64) float64 { return flops }, nil
	case "paper":
		return func(n *onnxpb.NodeProto, _ float64) float64 {
			if strings.HasPrefix(n.GetOpType(), "Conv") && !ops.IsGradientOp(n) {
				return 10
			}
			return 1
		}, nil
	case "uniform":
		return func(*onnxpb.NodeProto, float64) float64 { return 1 }, nil
	}
	return nil, fmt.Errorf("planner graph: unknown cost model %q (want flops, paper or uniform)", cost)
}

// CostFunc prices one node of a model for the planner (Op.Cost), given
// its FLOPs (ops.FLOPs, computed once per node by FromModelCosts).
type CostFunc func(n *onnxpb.NodeProto, flops float64) float64

// FromModelCosts is FromModel with every op priced by cost, for cost
// models from outside the graph (measured kernel times).
func FromModelCosts(m *onnx.Model, r *ops.Result, s *ops.Split, cost CostFunc) (*Graph, error) {
	if m == nil || m.Proto.GetGraph() == nil {
		return nil, fmt.Errorf("planner graph: model has no graph")
	}
	if r == nil || s == nil {
		return nil, fmt.Errorf("planner graph: inference result and training split are required")
	}
	gp := m.Proto.GetGraph()
	nodes := gp.GetNode()
	if len(s.Forward) != len(nodes) {
		return nil, fmt.Errorf("planner graph: split has %d entries for %d nodes", len(s.Forward), len(nodes))
	}
	g := &Graph{}
	idx := map[string]int{}
	var unknown []string
	var overflow error
	value := func(name string) int {
		if i, ok := idx[name]; ok {
			return i
		}
		v := Value{Name: name}
		if t, ok := r.Values[name]; ok {
			if b, ok := t.Bytes(); ok {
				v.Bytes = b
			} else {
				if t.Static() && ops.ElemBits(t.Elem) > 0 && overflow == nil {
					overflow = &SizeError{Value: name, Shape: t.String()}
				}
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
		op.FLOPs = ops.FLOPs(n, r)
		op.Cost = cost(n, op.FLOPs)
		op.Workspace = ops.Workspace(n, r)
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
	if overflow != nil {
		return nil, overflow
	}
	// Every byte count the planner adds up is a sum over a subset of the
	// values (a clone counting as a value): with their total below
	// MaxTotalBytes, no sum can overflow.
	total, largest := int64(0), -1
	for i, v := range g.Values {
		total += v.Bytes
		if largest < 0 || v.Bytes > g.Values[largest].Bytes {
			largest = i
		}
		if total > MaxTotalBytes {
			v := g.Values[largest]
			return nil, &SizeError{Value: v.Name, Bytes: v.Bytes, Total: true}
		}
	}
	writtenFwd := make([]bool, len(g.Values))
	for _, op := range g.Ops {
		if !op.Backward {
			for _, v := range op.Outputs {
				writtenFwd[v] = true
			}
		}
	}
	var counted []string
	for _, name := range unknown {
		v := g.Values[idx[name]]
		if v.Resident {
			continue
		}
		counted = append(counted, name)
		if writtenFwd[idx[name]] {
			g.Unsized = append(g.Unsized, name)
		}
	}
	sort.Strings(g.Unsized)
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
