package rewrite

import (
	"slices"
	"strings"

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
			n = shallowCopy(n)
			n.Input = slices.Clone(n.Input)
		}
		nodes[i] = n
		origin[n] = e.origin[i]
	}
	og.Node = nodes
	og.Initializer = slices.Clip(og.Initializer)
	st, err := ortorder.EnforceOrder(og, e.opset, 0)
	if err != nil {
		return err
	}
	e.report.Guards, e.report.GuardNodes = st.Guards, st.GuardNodes
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
