package rewrite

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort/ortorder"
)

// Hiding shapes from ONNX Runtime's allocation planner.
//
// ORT plans, at session creation, to place a tensor in the buffer of a dead
// tensor of exactly its size, and keeps that buffer allocated from the death
// to the reuse (ort/ortalloc). On a rewritten training graph this holds
// forward buffers through the backward pass: ResNet-18 (an ORT training
// artifact, batch 8, budget 50%) measured 178 MiB on ORT's training build
// against 118.5 MiB simulated; with the shapes hidden, 136 MiB (docs/ORT.md).
// ORT plans no reuse for a tensor whose shape it cannot infer, so one guard
// on each data input (ortorder.HideShapes) gives every value computed from
// it a shape known only at run time, and memory follows liveness.

// dataInputs returns og's graph inputs (not initializers) that forward
// nodes read, in graph input order: images, tokens, labels, and, in ORT's
// training artifacts, the parameters fed as inputs. Gradient accumulation
// buffers are read by backward nodes only and are never touched.
func (e *emitter) dataInputs(og *onnxpb.GraphProto) []string {
	inits := map[string]bool{}
	for _, t := range og.GetInitializer() {
		inits[t.GetName()] = true
	}
	read := map[string]bool{}
	for i, n := range og.GetNode() {
		if o := e.origin[i]; o < 0 || e.g.Ops[o].Backward {
			continue
		}
		for _, v := range n.GetInput() {
			read[v] = true
		}
	}
	var out []string
	for _, v := range og.GetInput() {
		if name := v.GetName(); read[name] && !inits[name] {
			out = append(out, name)
		}
	}
	return out
}

// hideShapes adds ortorder.HideShapes' guards for inputs to og and returns
// how many inputs it hid; their nodes count as guard nodes.
func (e *emitter) hideShapes(og *onnxpb.GraphProto, inputs []string) (int, error) {
	if len(inputs) == 0 {
		return 0, nil
	}
	guards, nodes, before := e.report.Guards, e.report.GuardNodes, len(og.Node)
	hidden := 0
	err := e.guard(og, func(g *onnxpb.GraphProto) (ortorder.Stats, error) {
		n, err := ortorder.HideShapes(g, e.opset, inputs)
		hidden = n
		return ortorder.Stats{}, err
	})
	e.report.Guards = guards
	e.report.GuardNodes = nodes + len(og.Node) - before
	return hidden, err
}

// undeclareHidden keeps only the element type in the value_info entries the
// rewrite added for clones (a clone's value_info copies its original's, or
// comes from shape inference) whose shape HideShapes hid. ORT takes a
// declared shape as known: with it, it planned clones into dead buffers of
// their size again (ResNet-50, batch 51, 112², least memory: 462 MiB
// measured against 293 MiB modelled, the excess buffers holding nothing
// live; docs/ORT.md). The source's own value_info stays as it was: ORT's
// training build needs it (the corpus's lenet artifact aborts without it).
func (e *emitter) undeclareHidden(og *onnxpb.GraphProto) {
	hidden := ortorder.ShapeHidden(og)
	for i, vi := range og.ValueInfo {
		if _, clone := e.cloneOf[vi.GetName()]; clone && hidden[vi.GetName()] {
			og.ValueInfo[i] = elemTypeOnly(vi)
		}
	}
}
