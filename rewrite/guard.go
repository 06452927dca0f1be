package rewrite

import (
	"strconv"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// guard emits the ordering guard of DESIGN.md ("Measured"): it returns a value
// equal to x (same data, same shape) that ONNX Runtime can only compute after
// dep has been computed:
//
//	x' = Reshape(x, Concat(Shape(x), Slice(Shape(dep), 0, 0)))
//
// Slice(Shape(dep), 0, 0) is an empty int64 vector, so the target shape is
// Shape(x) and the data is unchanged. Callers pick x with guardInput, the
// smallest input: measured on ResNet-50 (ORT 1.30, optimisations off), the
// guard's Reshape copies its input, and guarding the first input (often a
// large activation) cost 90 MiB of measured peak that guarding the smallest
// (often a weight) does not. The simulation counts guard values as aliases. The empty vector is made once per key (a recompute round,
// "rc<k>", or one link of the leaf chain) and shared by the key's guards. This is the one place that knows the guard's form; change it
// here if ONNX Runtime's measurements call for another.
//
// Returned ok is false when the default-domain opset is too old for a
// dynamic Reshape (opset < 5); the clone is then left unguarded.
func (e *emitter) guard(x, dep, key string) (string, bool) {
	if e.opset < 5 {
		return "", false
	}
	if e.guardEmpty == "" || e.guardKey != key {
		depShape := e.fresh(dep + "_shape")
		e.emitGuard(key, "Shape", []string{dep}, []string{depShape})
		empty := e.fresh(dep + "_empty")
		if e.opset >= 10 {
			if e.zero == "" {
				e.zero = e.fresh("recompute_guard_zero")
				e.emitGuard(key, "Constant", nil, []string{e.zero},
					build.AttrTensor("value", build.Int64s(e.zero, []int64{1}, []int64{0})))
			}
			e.emitGuard(key, "Slice", []string{depShape, e.zero, e.zero, e.zero}, []string{empty})
		} else {
			e.emitGuard(key, "Slice", []string{depShape}, []string{empty},
				build.AttrInts("axes", 0), build.AttrInts("starts", 0), build.AttrInts("ends", 0))
		}
		e.guardEmpty, e.guardKey = empty, key
	}
	xShape := e.fresh(x + "_shape")
	e.emitGuard(key, "Shape", []string{x}, []string{xShape})
	target := e.fresh(x + "_guard_shape")
	e.emitGuard(key, "Concat", []string{xShape, e.guardEmpty}, []string{target}, build.AttrInt("axis", 0))
	out := e.fresh(x + "_guarded")
	e.emitGuard(key, "Reshape", []string{x, target}, []string{out})
	e.alias[out] = x
	e.report.Guards++
	return out, true
}

// emitGuard appends one guard node; its outputs hold shapes or aliases, so the
// simulation counts them as zero bytes.
func (e *emitter) emitGuard(key, opType string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) {
	name := e.freshNode("recompute/guard_" + key + "/" + opType)
	e.nodes = append(e.nodes, &onnxpb.NodeProto{
		OpType:    proto.String(opType),
		Name:      proto.String(name),
		Input:     inputs,
		Output:    outputs,
		Attribute: attrs,
	})
	e.origin = append(e.origin, -1)
	for _, o := range outputs {
		e.guardValue[o] = true
	}
}

// chainLeaves ties every leaf node (no consumer: a parameter gradient, the
// loss) to the node after it in file order: that node's first input is
// guarded by the leaf's output. ONNX Runtime's default order is a
// depth-first walk back from the leaves; a leaf that nothing reads runs only
// when the walk finally starts from it, which for the weight gradients of
// the upper layers is after the whole backward pass, and the output
// gradients they read stay alive all that time. Tied to its successor, a
// leaf runs no later than the next node of the schedule.
func (e *emitter) chainLeaves() {
	consumed := map[string]bool{}
	for _, n := range e.nodes {
		for _, x := range nodeReads(n) {
			consumed[x] = true
		}
	}
	leaf := func(n *onnxpb.NodeProto) string {
		first := ""
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if consumed[o] {
				return ""
			}
			if first == "" {
				first = o
			}
		}
		return first
	}
	nodes, origin := e.nodes, e.origin
	e.nodes, e.origin = make([]*onnxpb.NodeProto, 0, len(nodes)), make([]int, 0, len(origin))
	e.zero = "" // the walk's constant may sit after the first leaves
	pending, k := "", 0
	for i, n := range nodes {
		if j := e.guardInput(n); pending != "" && j >= 0 {
			k++
			if gx, ok := e.guard(n.Input[j], pending, "leaf"+strconv.Itoa(k)); ok {
				n = proto.Clone(n).(*onnxpb.NodeProto)
				n.Input[j] = gx
				e.report.LeafGuards++
			}
		}
		pending = leaf(n)
		e.emit(n, origin[i])
	}
}

// guardInput picks the input of n to route through a guard: the smallest
// by planner size (unknown sizes count as large), first on ties; -1 if n has
// no input. Reshape should alias, but where a runtime copies, a small input
// (often a weight) keeps the copy cheap.
func (e *emitter) guardInput(n *onnxpb.NodeProto) int {
	best, bestBytes := -1, int64(0)
	for i, x := range n.Input {
		if x == "" {
			continue
		}
		orig := x
		if o, ok := e.cloneOf[x]; ok {
			orig = o
		}
		b, ok := e.bytes[orig]
		if !ok {
			b = 1 << 62
		}
		if best < 0 || b < bestBytes {
			best, bestBytes = i, b
		}
	}
	return best
}
