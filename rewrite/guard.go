package rewrite

import (
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort/ortorder"
)

// enforceORTOrder adds ortorder's ordering guards to og (the output graph)
// so that ONNX Runtime runs its nodes in file order. The guard's form lives
// in ortorder.EnforceOrder, next to the emulation of ORT's order it is
// checked against. EnforceOrder edits node inputs and appends initializers
// in place, so the nodes and the initializer list og shares with the input
// model are copied first (inputs only: attributes stay shared). Models below
// default-domain opset 10 get no guards.
func (e *emitter) enforceORTOrder(og *onnxpb.GraphProto) error {
	return e.guard(og, func(g *onnxpb.GraphProto) (ortorder.Stats, error) {
		return ortorder.Enforce(g, e.opset, ortorder.Options{Hold: e.lostReaders(g), Must: e.isClone})
	})
}

// guardClones guards only the clones, each on the node before it: ORT keeps
// its own order (it peaks no higher than the schedule's), but its
// CommonSubexpressionElimination, on at every optimisation level above
// disabled, would otherwise merge a clone that reads its original's inputs
// back into the original, and with it the rest of its recompute chain.
func (e *emitter) guardClones(og *onnxpb.GraphProto) error {
	return e.guard(og, func(g *onnxpb.GraphProto) (ortorder.Stats, error) {
		return ortorder.Enforce(g, e.opset, ortorder.Options{Hold: e.lostReaders(g), Pick: e.isClone, Must: e.isClone})
	})
}

// isClone reports whether n is a recomputation clone.
func (e *emitter) isClone(n *onnxpb.NodeProto) bool {
	for _, o := range n.GetOutput() {
		if _, ok := e.cloneOf[o]; ok {
			return true
		}
	}
	return false
}

// lostReaders returns the recomputed values that og reads fewer times than
// the input graph did: clones took over some of their readers. ORT fuses a
// producer into its reader only when that is the value's one reader, so a
// value left with one reader may be fused in the rewrite and not in the
// original (the last residual Add into GPT-2's final LayerNormalization,
// docs/ORT.md); ortorder gives such values a guard read (Options.Hold).
func (e *emitter) lostReaders(og *onnxpb.GraphProto) map[string]bool {
	orig := map[string]bool{}
	for _, o := range e.cloneOf {
		orig[o] = true
	}
	count := func(g *onnxpb.GraphProto) map[string]int {
		c := map[string]int{}
		for _, n := range g.GetNode() {
			if isGuard(n) {
				continue
			}
			for _, in := range n.GetInput() {
				if orig[in] {
					c[in]++
				}
			}
		}
		for _, o := range g.GetOutput() {
			if orig[o.GetName()] {
				c[o.GetName()]++
			}
		}
		return c
	}
	before, after := count(e.src), count(og)
	hold := map[string]bool{}
	for v, k := range before {
		if after[v] < k {
			hold[v] = true
		}
	}
	return hold
}

// guard runs add (EnforceOrder or GuardNodes) on og and declares the
// guarded values.
func (e *emitter) guard(og *onnxpb.GraphProto, add func(*onnxpb.GraphProto) (ortorder.Stats, error)) error {
	if e.opset < 10 { // the guard needs Slice with inputs
		return nil
	}
	origin := make(map[*onnxpb.NodeProto]int, len(og.Node))
	shared := make(map[*onnxpb.NodeProto]bool, len(e.src.Node))
	for _, n := range e.src.Node {
		shared[n] = true
	}
	nodes := make([]*onnxpb.NodeProto, len(og.Node))
	for i, n := range og.Node {
		if shared[n] {
			n = onnx.ShallowCopy(n)
			n.Input = slices.Clone(n.Input)
		}
		nodes[i] = n
		origin[n] = e.origin[i]
	}
	og.Node = nodes
	og.Initializer = slices.Clip(og.Initializer)
	st, err := add(og)
	if err != nil {
		return err
	}
	e.report.Guards, e.report.GuardNodes = st.Guards, st.GuardNodes
	// A guarded value has its input's type; declaring it keeps shapes
	// known downstream (shape inference cannot see through the guard).
	known := map[string]*onnxpb.TypeProto{}
	for _, vi := range e.valueInfo {
		known[vi.GetName()] = vi.Type
	}
	inits := map[string]bool{}
	for _, t := range og.Initializer {
		inits[t.GetName()] = true
	}
	for _, n := range og.Node {
		// The guarded value is the Reshape to a computed shape; a Reshape
		// to a constant shape (the flattening of the dependency) is not.
		if !isGuard(n) || n.GetOpType() != "Reshape" || len(n.Input) < 2 || len(n.Output) == 0 || inits[n.Input[1]] {
			continue
		}
		x, y := n.Input[0], n.Output[0]
		var vi *onnxpb.ValueInfoProto
		if t := known[x]; t != nil {
			vi = &onnxpb.ValueInfoProto{Name: proto.String(y), Type: t}
		} else if v := e.vinfo[x]; v != nil && v.Type != nil {
			vi = &onnxpb.ValueInfoProto{Name: proto.String(y), Type: v.Type}
		} else {
			orig := x
			if o, ok := e.cloneOf[x]; ok {
				orig = o
			}
			vi = inferredInfo(e.inferred, orig, y)
		}
		if vi != nil {
			// Element type only: with full shapes declared on the guarded
			// values ONNX Runtime measured about 170 MiB more on ResNet-50
			// (batch 8, 224×224, budget 50%: peak ratio 0.66 instead of 0.45;
			// docs/ORT.md), and shapes stay inferable through the guard.
			// The exception is a value read by a node ORT may fuse
			// (ortorder's Stats.Shaped): ORT fuses only inputs whose shapes
			// it knows, and unfused kernels round differently.
			switch {
			case st.Shaped[y]:
			default:
				vi = elemTypeOnly(vi)
			}
			og.ValueInfo = append(og.ValueInfo, vi)
			known[y] = vi.Type
		}
	}
	// Values whose rank a fusion needs (ortorder's Stats.Ranked) get it
	// declared, with unknown dims, unless the model declares them already.
	for _, v := range slices.Sorted(maps.Keys(st.Ranked)) {
		if known[v] != nil {
			continue
		}
		var vi *onnxpb.ValueInfoProto
		if w := e.vinfo[v]; w != nil && w.Type != nil {
			vi = w
		} else {
			orig := v
			if o, ok := e.cloneOf[v]; ok {
				orig = o
			}
			vi = inferredInfo(e.inferred, orig, v)
		}
		if vi != nil {
			vi = rankOnly(vi)
			og.ValueInfo = append(og.ValueInfo, vi)
			known[v] = vi.Type
		}
	}
	e.origin = e.origin[:0]
	for _, n := range og.Node {
		o, ok := origin[n]
		if !ok {
			o = -1
		}
		e.origin = append(e.origin, o)
	}
	return nil
}

// isGuard reports whether n is an ordering guard node; its outputs are
// shapes, empty tensors or, for Reshape, an alias of its first input.
func isGuard(n *onnxpb.NodeProto) bool {
	return strings.HasPrefix(n.GetName(), ortorder.GuardPrefix)
}

// elemTypeOnly returns vi without its shape (a tensor type keeps its element
// type; other types are returned as they are).
func elemTypeOnly(vi *onnxpb.ValueInfoProto) *onnxpb.ValueInfoProto {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil {
		return vi
	}
	return &onnxpb.ValueInfoProto{Name: vi.Name, Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: tt.ElemType}},
	}}
}

// rankOnly returns vi with its dims unknown (a tensor type keeps its element
// type and rank; other types, and tensors of unknown rank, are returned as
// they are).
func rankOnly(vi *onnxpb.ValueInfoProto) *onnxpb.ValueInfoProto {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil {
		return vi
	}
	shape := &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(tt.Shape.Dim))}
	for i := range shape.Dim {
		shape.Dim[i] = &onnxpb.TensorShapeProto_Dimension{}
	}
	return &onnxpb.ValueInfoProto{Name: vi.Name, Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: tt.ElemType, Shape: shape}},
	}}
}
