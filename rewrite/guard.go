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
// Shape(x) and Reshape is an alias; the guard costs a few bytes of shape
// arithmetic. The empty vector is made once per round and shared by the
// round's guards. This is the one place that knows the guard's form; change it
// here if ONNX Runtime's measurements call for another.
//
// Returned ok is false when the default-domain opset is too old for a
// dynamic Reshape (opset < 5); the clone is then left unguarded.
func (e *emitter) guard(x, dep string, round int) (string, bool) {
	if e.opset < 5 {
		return "", false
	}
	if e.guardEmpty == "" || e.guardRound != round {
		depShape := e.fresh(dep + "_shape")
		e.emitGuard(round, "Shape", []string{dep}, []string{depShape})
		empty := e.fresh(dep + "_empty")
		if e.opset >= 10 {
			if e.zero == "" {
				e.zero = e.fresh("recompute_guard_zero")
				e.emitGuard(round, "Constant", nil, []string{e.zero},
					build.AttrTensor("value", build.Int64s(e.zero, []int64{1}, []int64{0})))
			}
			e.emitGuard(round, "Slice", []string{depShape, e.zero, e.zero, e.zero}, []string{empty})
		} else {
			e.emitGuard(round, "Slice", []string{depShape}, []string{empty},
				build.AttrInts("axes", 0), build.AttrInts("starts", 0), build.AttrInts("ends", 0))
		}
		e.guardEmpty, e.guardRound = empty, round
	}
	xShape := e.fresh(x + "_shape")
	e.emitGuard(round, "Shape", []string{x}, []string{xShape})
	target := e.fresh(x + "_guard_shape")
	e.emitGuard(round, "Concat", []string{xShape, e.guardEmpty}, []string{target}, build.AttrInt("axis", 0))
	out := e.fresh(x + "_guarded")
	e.emitGuard(round, "Reshape", []string{x, target}, []string{out})
	e.alias[out] = x
	e.report.Guards++
	return out, true
}

// emitGuard appends one guard node; its outputs hold shapes or aliases, so the
// simulation counts them as zero bytes.
func (e *emitter) emitGuard(round int, opType string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) {
	name := e.freshNode("recompute/guard_rc" + strconv.Itoa(round) + "/" + opType)
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
