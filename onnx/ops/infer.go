package ops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Options binds symbolic dimensions.
type Options struct {
	Dims  map[string]int64 // --dim NAME=N: every dim_param NAME becomes N
	Batch int64            // --batch N: leading dim of every graph input whose leading dim is symbolic or unknown
}

// Result is the inferred type of every value of a model's main graph.
type Result struct {
	Values   map[string]Tensor // every value name (inputs, initializers, node outputs)
	Consts   map[string]*Const // small constant int64/float tensors folded on the way (shape arithmetic)
	Unknown  []string          // "domain:OpType" ("OpType" in the default domain) without a rule, sorted, unique
	Warnings []string
}

// Ctx is what a rule's Infer sees of one node.
type Ctx struct {
	N     *onnxpb.NodeProto
	Opset int64     // version of the node's domain imported by the model (0 if not imported)
	In    []Tensor  // per input; unknownTensor for an absent (empty-named) input
	InC   []*Const  // per input; nil unless the value is a known small constant
	Out   []Tensor  // per output, to be set by the rule
	OutC  []*Const  // per output, optional folded constants
	inf   *inferrer // whole-graph state, for rules that look at producers
}

// has reports whether optional input i is present.
func (c *Ctx) has(i int) bool { return i < len(c.N.GetInput()) && c.N.GetInput()[i] != "" }

// in returns input i (unknown if absent).
func (c *Ctx) in(i int) Tensor {
	if i < len(c.In) {
		return c.In[i]
	}
	return unknownTensor
}

// konst returns input i's constant value or nil.
func (c *Ctx) konst(i int) *Const {
	if i < len(c.InC) {
		return c.InC[i]
	}
	return nil
}

// set sets output i if the node has it.
func (c *Ctx) set(i int, t Tensor) {
	if i < len(c.Out) {
		c.Out[i] = t
	}
}

// setConst sets output i to a folded constant (and its type).
func (c *Ctx) setConst(i int, k *Const) {
	if i < len(c.Out) && k != nil {
		c.Out[i] = k.tensor()
		c.OutC[i] = k
	}
}

// producer returns the node that writes value name, or nil.
func (c *Ctx) producer(name string) *onnxpb.NodeProto {
	if i, ok := c.inf.producer[name]; ok {
		return c.inf.g.GetNode()[i]
	}
	return nil
}

// value returns the inferred type of any value seen so far.
func (c *Ctx) value(name string) Tensor {
	t, _ := c.inf.lookup(name)
	return t
}

type inferrer struct {
	g        *onnxpb.GraphProto
	r        *Result
	opsets   map[string]int64
	bind     map[string]int64  // dim_param -> size
	declared map[string]Tensor // value_info, graph outputs
	producer map[string]int
	unknown  map[string]bool
	// Subgraphs (If branches) see the values of their enclosing graphs.
	parent      *inferrer
	useDeclared bool
}

// lookup finds a value's type in this graph or an enclosing one.
func (inf *inferrer) lookup(name string) (Tensor, bool) {
	for s := inf; s != nil; s = s.parent {
		if t, ok := s.r.Values[name]; ok {
			return t, true
		}
	}
	return unknownTensor, false
}

// lookupConst finds a value's folded constant in this graph or an enclosing one.
func (inf *inferrer) lookupConst(name string) *Const {
	for s := inf; s != nil; s = s.parent {
		if _, ok := s.r.Values[name]; ok {
			return s.r.Consts[name]
		}
	}
	return nil
}

// Infer works out the element type and shape of every value of m's main
// graph. It never fails for a missing rule or an unknown shape (see the
// package doc); it fails only for a model without a graph.
func Infer(m *onnx.Model, opt Options) (r *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("infer shapes: internal error on a malformed model: %v", p)
		}
	}()
	return infer(m, opt, true)
}

// infer is Infer; useDeclared=false ignores the file's value_info and output
// shapes so tests can check the rules alone.
func infer(m *onnx.Model, opt Options, useDeclared bool) (*Result, error) {
	if m == nil || m.Proto == nil || m.Proto.GetGraph() == nil {
		return nil, fmt.Errorf("infer shapes: model has no graph")
	}
	g := m.Proto.GetGraph()
	inf := &inferrer{
		g:        g,
		r:        &Result{Values: map[string]Tensor{}, Consts: map[string]*Const{}},
		opsets:   map[string]int64{},
		bind:     map[string]int64{},
		declared: map[string]Tensor{},
		producer: map[string]int{},
		unknown:  map[string]bool{},

		useDeclared: useDeclared,
	}
	for _, o := range m.Proto.GetOpsetImport() {
		inf.opsets[normDomain(o.GetDomain())] = o.GetVersion()
	}
	for k, v := range opt.Dims {
		inf.bind[k] = v
	}
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	// --batch binds the leading dim_param of every (non-weight) graph input.
	if opt.Batch > 0 {
		for _, vi := range g.GetInput() {
			if inits[vi.GetName()] != nil {
				continue
			}
			dims := vi.GetType().GetTensorType().GetShape().GetDim()
			if len(dims) == 0 {
				continue
			}
			if p := dims[0].GetDimParam(); p != "" {
				if _, ok := inf.bind[p]; !ok {
					inf.bind[p] = opt.Batch
				}
			}
		}
	}
	if useDeclared {
		for _, vi := range g.GetValueInfo() {
			inf.declared[vi.GetName()] = inf.typeOf(vi.GetType(), false, 0)
		}
		for _, vi := range g.GetOutput() {
			inf.declared[vi.GetName()] = inf.typeOf(vi.GetType(), false, 0)
		}
	}
	for _, vi := range g.GetInput() {
		if inits[vi.GetName()] != nil {
			continue
		}
		if vi.GetType().GetTensorType() == nil && vi.GetType().GetSparseTensorType() == nil {
			inf.warnf("graph input %q has no tensor type", vi.GetName())
		}
		inf.r.Values[vi.GetName()] = inf.typeOf(vi.GetType(), true, opt.Batch)
	}
	// An initializer that is also a graph input (IR 4+) is a default the
	// caller could override; we fold it anyway, as runtimes do unless fed:
	// exporters list shape constants this way (keep_initializers_as_inputs).
	for _, t := range g.GetInitializer() {
		inf.r.Values[t.GetName()] = shaped(onnxpb.TensorProto_DataType(t.GetDataType()), t.GetDims())
		if c := constFromProto(t); c != nil {
			inf.r.Consts[t.GetName()] = c
		}
	}
	for _, st := range g.GetSparseInitializer() {
		v := st.GetValues()
		inf.r.Values[v.GetName()] = shaped(onnxpb.TensorProto_DataType(v.GetDataType()), st.GetDims())
	}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				inf.producer[o] = i
			}
		}
	}
	for _, i := range topoOrder(g, inf.producer) {
		inf.node(g.GetNode()[i])
	}
	for k := range inf.unknown {
		inf.r.Unknown = append(inf.r.Unknown, k)
	}
	sort.Strings(inf.r.Unknown)
	return inf.r, nil
}

func (inf *inferrer) warnf(format string, args ...any) {
	inf.r.Warnings = append(inf.r.Warnings, fmt.Sprintf(format, args...))
}

// typeOf converts a declared type. isInput applies --batch to an unknown
// leading dim.
func (inf *inferrer) typeOf(tp *onnxpb.TypeProto, isInput bool, batch int64) Tensor {
	tt := tp.GetTensorType()
	if tt == nil {
		if st := tp.GetSparseTensorType(); st != nil {
			tt = &onnxpb.TypeProto_Tensor{ElemType: st.ElemType, Shape: st.Shape}
		} else {
			return unknownTensor
		}
	}
	t := Tensor{Elem: onnxpb.TensorProto_DataType(tt.GetElemType()), Rank: -1}
	if tt.GetShape() == nil {
		return t
	}
	dims := tt.GetShape().GetDim()
	t.Rank = len(dims)
	t.Dims = make([]int64, len(dims))
	for i, d := range dims {
		t.Dims[i] = -1
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if v.DimValue >= 0 {
				t.Dims[i] = v.DimValue
			}
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if n, ok := inf.bind[v.DimParam]; ok {
				t.Dims[i] = n
			}
		}
		if i == 0 && isInput && batch > 0 && t.Dims[0] < 0 {
			t.Dims[0] = batch
		}
	}
	return t
}

// node infers one node's outputs.
func (inf *inferrer) node(n *onnxpb.NodeProto) {
	c := &Ctx{
		N:     n,
		Opset: inf.opsets[normDomain(n.GetDomain())],
		In:    make([]Tensor, len(n.GetInput())),
		InC:   make([]*Const, len(n.GetInput())),
		Out:   make([]Tensor, len(n.GetOutput())),
		OutC:  make([]*Const, len(n.GetOutput())),
		inf:   inf,
	}
	if c.Opset == 0 && normDomain(n.GetDomain()) == "com.microsoft" {
		c.Opset = 1
	}
	for i, name := range n.GetInput() {
		c.In[i] = unknownTensor
		if name == "" {
			continue
		}
		t, ok := inf.lookup(name)
		if !ok {
			if d, ok := inf.declared[name]; ok {
				t = d
			} else {
				t = unknownTensor
			}
			inf.r.Values[name] = t
			if _, produced := inf.producer[name]; !produced {
				inf.warnf("%s reads %q, which nothing produces", nodeLabel(n), name)
			}
		}
		c.In[i] = t
		c.InC[i] = inf.lookupConst(name)
	}
	for i := range c.Out {
		c.Out[i] = unknownTensor
	}
	rule := lookup(n)
	if rule == nil {
		inf.unknown[strings.TrimPrefix(OpKey(n), ":")] = true
	} else if err := safeInfer(rule, c); err != nil {
		inf.warnf("%s: %v", nodeLabel(n), err)
		for i := range c.Out {
			c.Out[i] = unknownTensor
			c.OutC[i] = nil
		}
	}
	for i, name := range n.GetOutput() {
		if name == "" {
			continue
		}
		t := c.Out[i]
		if d, ok := inf.declared[name]; ok {
			if rule != nil && conflicts(t, d) {
				inf.warnf("%s: output %q inferred as %v but the file declares %v; keeping the inferred type", nodeLabel(n), name, t, d)
			}
			t = merge(t, d)
		}
		if t.Rank >= 0 {
			// Own the dims: rules may pass an input's slice through.
			t = shaped(t.Elem, t.Dims)
		} else {
			t.Dims = nil
		}
		inf.r.Values[name] = t
		k := c.OutC[i]
		if k == nil {
			k = emptyConst(t)
		}
		if k != nil && k.Len() <= maxConstElems {
			inf.r.Consts[name] = k
		}
	}
}

// safeInfer runs a rule, turning a panic (a bug in a rule, e.g. an index out
// of range on a malformed node) into an error so one bad node never stops
// inference.
func safeInfer(rule *Rule, c *Ctx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("shape rule failed: %v", p)
		}
	}()
	return rule.Infer(c)
}

// conflicts reports whether two types are known to differ.
func conflicts(a, b Tensor) bool {
	if a.Elem != 0 && b.Elem != 0 && a.Elem != b.Elem {
		return true
	}
	if a.Rank < 0 || b.Rank < 0 {
		return false
	}
	if a.Rank != b.Rank {
		return true
	}
	for i := range a.Dims {
		if a.Dims[i] >= 0 && b.Dims[i] >= 0 && a.Dims[i] != b.Dims[i] {
			return true
		}
	}
	return false
}

// merge fills what our rule left unknown from a declared type.
func merge(ours, decl Tensor) Tensor {
	if ours.Elem == 0 {
		ours.Elem = decl.Elem
	}
	if ours.Rank < 0 {
		ours.Rank = decl.Rank
		ours.Dims = append([]int64(nil), decl.Dims...)
		return ours
	}
	if decl.Rank == ours.Rank {
		ours.Dims = append([]int64(nil), ours.Dims...)
		for i, d := range ours.Dims {
			if d < 0 {
				ours.Dims[i] = decl.Dims[i]
			}
		}
	}
	return ours
}

// topoOrder returns node indexes so that producers come before consumers,
// keeping file order where the file is already sorted. Cycles are broken
// arbitrarily (inference must not fail; onnx.NewView reports them).
func topoOrder(g *onnxpb.GraphProto, producer map[string]int) []int {
	nodes := g.GetNode()
	state := make([]uint8, len(nodes)) // 0 new, 1 visiting, 2 done
	order := make([]int, 0, len(nodes))
	type frame struct{ node, next int }
	for start := range nodes {
		if state[start] != 0 {
			continue
		}
		stack := []frame{{start, 0}}
		state[start] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			ins := nodes[top.node].GetInput()
			pushed := false
			for top.next < len(ins) {
				name := ins[top.next]
				top.next++
				if p, ok := producer[name]; ok && state[p] == 0 {
					state[p] = 1
					stack = append(stack, frame{p, 0})
					pushed = true
					break
				}
			}
			if pushed {
				continue
			}
			state[top.node] = 2
			order = append(order, top.node)
			stack = stack[:len(stack)-1]
		}
	}
	return order
}

// maxSubgraphDepth bounds nested If branches (malformed models may nest
// without end).
const maxSubgraphDepth = 16

// subgraphOutputs infers a subgraph (an If branch) in the scope of the
// current values and returns the types of its outputs. Warnings and ops
// without rules inside it are reported as the main graph's.
func (inf *inferrer) subgraphOutputs(g *onnxpb.GraphProto) []Tensor {
	return inf.subgraphOutputsWith(g, nil)
}

// subgraphOutputsWith is subgraphOutputs with the subgraph's inputs typed by
// the caller (a Loop or Scan body); inputs[i] of unknown rank keeps the
// body's declared type.
func (inf *inferrer) subgraphOutputsWith(g *onnxpb.GraphProto, inputs []Tensor) []Tensor {
	depth := 0
	for s := inf; s != nil; s = s.parent {
		depth++
	}
	outs := make([]Tensor, len(g.GetOutput()))
	for i := range outs {
		outs[i] = unknownTensor
	}
	if depth > maxSubgraphDepth {
		return outs
	}
	sub := &inferrer{
		g:           g,
		r:           &Result{Values: map[string]Tensor{}, Consts: map[string]*Const{}},
		opsets:      inf.opsets,
		bind:        inf.bind,
		declared:    map[string]Tensor{},
		producer:    map[string]int{},
		unknown:     inf.unknown,
		parent:      inf,
		useDeclared: inf.useDeclared,
	}
	if inf.useDeclared {
		for _, vi := range g.GetValueInfo() {
			sub.declared[vi.GetName()] = sub.typeOf(vi.GetType(), false, 0)
		}
		for _, vi := range g.GetOutput() {
			sub.declared[vi.GetName()] = sub.typeOf(vi.GetType(), false, 0)
		}
	}
	for i, vi := range g.GetInput() {
		t := sub.typeOf(vi.GetType(), false, 0)
		if i < len(inputs) {
			t = merge(inputs[i], t)
		}
		sub.r.Values[vi.GetName()] = t
	}
	for _, t := range g.GetInitializer() {
		sub.r.Values[t.GetName()] = shaped(onnxpb.TensorProto_DataType(t.GetDataType()), t.GetDims())
		if c := constFromProto(t); c != nil {
			sub.r.Consts[t.GetName()] = c
		}
	}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				sub.producer[o] = i
			}
		}
	}
	for _, i := range topoOrder(g, sub.producer) {
		sub.node(g.GetNode()[i])
	}
	inf.r.Warnings = append(inf.r.Warnings, sub.r.Warnings...)
	for i, vi := range g.GetOutput() {
		if t, ok := sub.lookup(vi.GetName()); ok {
			outs[i] = t
		} else if d, ok := sub.declared[vi.GetName()]; ok {
			outs[i] = d
		}
	}
	return outs
}

// emptyConst returns the value of a tensor with a static shape and no
// elements: whatever computed it, it is known. ONNX Runtime ordering guards
// (ort/ortorder) build a shape from such an empty slice of a runtime value;
// knowing it keeps the guarded Reshape's shape inferable.
func emptyConst(t Tensor) *Const {
	if t.Elem == 0 || !t.Static() {
		return nil
	}
	if n, ok := t.Elements(); !ok || n != 0 {
		return nil
	}
	if isFloatElem(t.Elem) {
		return &Const{Elem: t.Elem, Dims: t.Dims, Floats: []float64{}}
	}
	return &Const{Elem: t.Elem, Dims: t.Dims, Ints: []int64{}}
}
