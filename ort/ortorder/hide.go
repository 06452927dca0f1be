package ortorder

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// HidePrefix starts the names of HideShapes' nodes (a GuardPrefix name, so
// that everything that sees through ordering guards sees through them).
const HidePrefix = GuardPrefix + "_shape/"

// HideShapes gives each named graph input x one guard that every reader of
// x then reads instead:
//
//	x' = Reshape(x, Concat(Shape(x), Cast(Slice(Reshape(x, [-1]), [0], [0]), int64)))
//
// x' has x's bytes (Reshape shares its input's buffer) and a shape ONNX
// Runtime's shape inference cannot know, so ORT sizes x' and every value
// computed from it at run time. Its allocation planner then places none of
// them in the buffer of a dead tensor of the same size, a reuse that keeps
// that buffer allocated from the death to the reuse (ort/ortalloc): memory
// follows the tensors' liveness. Constants, prepacked weights and fusions
// that need shapes are untouched as long as the named inputs are data, not
// weights.
//
// It returns the number of inputs hidden. Inputs no node reads are left
// alone; opset < 10 (no Slice with inputs) is an error.
func HideShapes(g *onnxpb.GraphProto, opset int64, inputs []string) (int, error) {
	if opset < 10 {
		return 0, fmt.Errorf("hide shapes: default-domain opset %d < 10 has no Slice with inputs", opset)
	}
	read := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, v := range n.GetInput() {
			read[v] = true
		}
	}
	fresh := freshNamer(g)
	var guards []*onnxpb.NodeProto
	add := func(op string, ins, outs []string, attrs ...*onnxpb.AttributeProto) {
		guards = append(guards, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(fresh(HidePrefix + op)),
			Input: ins, Output: outs, Attribute: attrs})
	}
	zero, flat := fresh("recompute_shape_zero"), fresh("recompute_shape_flat")
	hidden := map[string]string{}
	for _, x := range inputs {
		if !read[x] || hidden[x] != "" {
			continue
		}
		xf, xs, xe := fresh(x+"_shape_flat"), fresh(x+"_shape_slice"), fresh(x+"_shape_empty")
		sh, tg, xg := fresh(x+"_shape"), fresh(x+"_shape_target"), fresh(x+"_shape_hidden")
		add("Reshape", []string{x, flat}, []string{xf})
		add("Slice", []string{xf, zero, zero}, []string{xs})
		add("Cast", []string{xs}, []string{xe}, &onnxpb.AttributeProto{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(onnxpb.TensorProto_INT64))})
		add("Shape", []string{x}, []string{sh})
		add("Concat", []string{sh, xe}, []string{tg}, &onnxpb.AttributeProto{Name: proto.String("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(0)})
		add("Reshape", []string{x, tg}, []string{xg})
		hidden[x] = xg
	}
	if len(hidden) == 0 {
		return 0, nil
	}
	nodes := slices.Clip(guards)
	for _, n := range g.GetNode() {
		changed := false
		for _, v := range n.GetInput() {
			if hidden[v] != "" {
				changed = true
			}
		}
		if changed {
			// Nodes may be shared with another graph: change a copy.
			n = proto.Clone(n).(*onnxpb.NodeProto)
			for k, v := range n.Input {
				if h := hidden[v]; h != "" {
					n.Input[k] = h
				}
			}
		}
		nodes = append(nodes, n)
	}
	g.Node = nodes
	g.Initializer = append(slices.Clip(g.Initializer), int64Tensor(zero, 0), int64Tensor(flat, -1))
	return len(hidden), nil
}

// ShapeHidden returns the values of g whose shape ORT cannot know when it
// plans because they are computed from a HideShapes guard: the guards'
// outputs and, in node order, every output of a node that reads one (Shape
// and Size excepted: their output's shape is the input's rank). Ordering
// guards hide shapes too, but only where they are; this counts HideShapes'.
func ShapeHidden(g *onnxpb.GraphProto) map[string]bool {
	hidden := map[string]bool{}
	target := map[string]bool{} // the guards' Concat outputs
	for _, n := range g.GetNode() {
		if strings.HasPrefix(n.GetName(), HidePrefix) {
			switch {
			case n.GetOpType() == "Concat" && len(n.GetOutput()) > 0:
				target[n.GetOutput()[0]] = true
			case n.GetOpType() == "Reshape" && len(n.GetInput()) > 1 && target[n.GetInput()[1]] && len(n.GetOutput()) > 0:
				hidden[n.GetOutput()[0]] = true
			}
			continue
		}
		if n.GetOpType() == "Shape" || n.GetOpType() == "Size" {
			continue
		}
		for _, v := range n.GetInput() {
			if hidden[v] {
				for _, o := range n.GetOutput() {
					if o != "" {
						hidden[o] = true
					}
				}
				break
			}
		}
	}
	return hidden
}
