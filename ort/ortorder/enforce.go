package ortorder

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// GuardPrefix starts the names of the guard nodes package rewrite and
// EnforceOrder emit.
const GuardPrefix = "recompute/guard"

// Stats describe what EnforceOrder did.
type Stats struct {
	Guards     int // guarded inputs added
	GuardNodes int // nodes added for them
	Mismatched int // positions where ORT's predicted order still differs from the file order (0 on success)
}

// EnforceOrder adds ordering guards to g so that ONNX Runtime's
// order (PredictOrder) is the file order of g's nodes: every node that does
// not already read the previous node's output (guard and Constant nodes
// aside) gets its first input through a data guard on that output,
//
//	x' = Reshape(x, Concat(Shape(x), Cast(Slice(Reshape(y, [-1]), [0], [0]), int64)))
//
// which chains the nodes into the one order the file gives. Reshape shares
// x's buffer and the slice is empty, so a guard costs no memory, only a few
// tiny kernels; unlike a guard built from Shape(y) it survives ORT's
// constant folding. Only nodes from index from on are chained (0: all). g
// must be topologically sorted and use default-domain opset 10 or newer.
// g's node and initializer lists are replaced; nodes and tensors they held
// are never modified (another graph may share them). Declare guarded values
// with an element type only, never a shape: ORT then sizes them at run
// time, and memory follows liveness; with static shapes declared, ORT's
// allocation planner held freed buffers for later same-size tensors
// (ResNet-50 batch 8: 530 MiB measured instead of 359; docs/ORT.md).
func EnforceOrder(g *onnxpb.GraphProto, opset int64, from int) (Stats, error) {
	return enforce(g, opset, from, nil)
}

// GuardNodes guards only the nodes pick selects, each on the output of the
// node before it, as EnforceOrder would: they cannot run before that node,
// and a guarded clone is no longer a common subexpression of its original
// (ORT's CSE would merge it back). ORT's order is otherwise its own.
func GuardNodes(g *onnxpb.GraphProto, opset int64, pick func(*onnxpb.NodeProto) bool) (Stats, error) {
	return enforce(g, opset, 0, pick)
}

func enforce(g *onnxpb.GraphProto, opset int64, from int, pick func(*onnxpb.NodeProto) bool) (Stats, error) {
	var st Stats
	if opset < 10 {
		return st, fmt.Errorf("enforce ORT order: default-domain opset %d < 10 has no Slice with inputs", opset)
	}
	names := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			names[o] = true
		}
		names[n.GetName()] = true
	}
	for _, v := range g.GetInput() {
		names[v.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		names[t.GetName()] = true
	}
	seq := 0
	fresh := func(base string) string {
		for {
			seq++
			s := base + "_" + strconv.Itoa(seq)
			if !names[s] {
				names[s] = true
				return s
			}
		}
	}
	konst := constantValues(g)
	skip := func(n *onnxpb.NodeProto) bool { return skipNode(n, konst) }
	zero, flat := fresh("recompute_order_zero"), fresh("recompute_order_flat")
	var out []*onnxpb.NodeProto
	add := func(op string, ins, outs []string, attrs ...*onnxpb.AttributeProto) {
		out = append(out, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(fresh(GuardPrefix + "_order/" + op)),
			Input: ins, Output: outs, Attribute: attrs})
		st.GuardNodes++
	}
	intAttr := func(name string, v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
	}
	var prev *onnxpb.NodeProto
	for i, n := range g.GetNode() {
		if skip(n) {
			out = append(out, n)
			continue
		}
		chained := prev == nil || reads(n, prev) || pick != nil && !pick(n)
		if !chained && isAlias(n) {
			// Never guarded (isAlias): ORT may run it anywhere after its
			// inputs, and the next node is chained to prev, not to it.
			out = append(out, n)
			continue
		}
		// The first input that is not a constant (a constant made
		// non-constant is neither folded, prepacked nor fused, and the
		// output bytes would differ from the original's).
		in := -1
		for k, v := range n.GetInput() {
			if v != "" && (in < 0 || konst[n.Input[in]] && !konst[v]) {
				in = k
			}
		}
		if !chained && i >= from {
			if yv := firstOutput(prev); yv != "" && in >= 0 {
				yf, ys, empty := fresh(yv+"_order_flat"), fresh(yv+"_order_slice"), fresh(yv+"_order_empty")
				add("Reshape", []string{yv, flat}, []string{yf})
				add("Slice", []string{yf, zero, zero}, []string{ys})
				add("Cast", []string{ys}, []string{empty}, intAttr("to", int64(onnxpb.TensorProto_INT64)))
				xv := n.Input[in]
				xs, xt, xg := fresh(xv+"_order_shape"), fresh(xv+"_order_target"), fresh(xv+"_order_guarded")
				add("Shape", []string{xv}, []string{xs})
				add("Concat", []string{xs, empty}, []string{xt}, intAttr("axis", 0))
				add("Reshape", []string{xv, xt}, []string{xg})
				// Nodes may be shared with another graph (rewrite.Apply
				// reuses untouched nodes): change a copy.
				n = proto.Clone(n).(*onnxpb.NodeProto)
				n.Input[in] = xg
				st.Guards++
			}
		}
		out = append(out, n)
		prev = n
	}
	if st.Guards > 0 {
		g.Initializer = append(slices.Clip(g.Initializer), int64Tensor(zero, 0), int64Tensor(flat, -1))
	}
	g.Node = out
	if pick != nil {
		return st, nil
	}
	_, _, st.Mismatched = firstMismatch(g)
	if st.Mismatched > 0 {
		return st, fmt.Errorf("enforce ORT order: ORT's predicted order still differs at %d positions (a node without inputs cannot be guarded)", st.Mismatched)
	}
	return st, nil
}

// isAlias reports whether n is an op whose output ORT's CPU kernels place
// in its input's buffer. EnforceOrder never guards one: ORT's ReshapeFusion
// fuses chains of Reshape-like nodes whose output shape it can infer, and a
// guard in such a chain, whether on the data (a guard's Reshape) or on the
// shape input (Concat(shape, empty)), breaks it: ORT 1.30 then fails to
// load the model (GetIndexFromName ... _new_reshape). Where ORT runs an
// alias op changes little: its output shares its input's bytes (ResNet-50,
// ORT's defaults: the same measured peak either way; with optimisations
// off, 5% more).
func isAlias(n *onnxpb.NodeProto) bool {
	switch n.GetOpType() {
	case "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity":
		return n.GetDomain() == ""
	}
	return false
}

// constantValues returns the values ONNX Runtime knows before any run:
// initializers, and the outputs of nodes that read only such values
// (Constant nodes included). ORT folds those nodes when it loads the model,
// so they have no place in the run-time order and need no guard.
func constantValues(g *onnxpb.GraphProto) map[string]bool {
	k := map[string]bool{}
	for _, t := range g.GetInitializer() {
		k[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		delete(k, v.GetName()) // an initializer that is also an input can be fed
	}
	for _, n := range g.GetNode() {
		if strings.HasPrefix(n.GetName(), GuardPrefix) || n.GetDomain() != "" || len(n.GetAttribute()) > 0 && hasGraphAttr(n) {
			continue
		}
		all := true
		for _, in := range n.GetInput() {
			if in != "" && !k[in] {
				all = false
				break
			}
		}
		if all && !nondeterministic[n.GetOpType()] {
			for _, o := range n.GetOutput() {
				if o != "" {
					k[o] = true
				}
			}
		}
	}
	return k
}

// nondeterministic ops are never folded.
var nondeterministic = map[string]bool{"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true, "Dropout": true}

func hasGraphAttr(n *onnxpb.NodeProto) bool {
	for _, a := range n.GetAttribute() {
		if a.G != nil || len(a.Graphs) > 0 {
			return true
		}
	}
	return false
}

// skipNode reports whether EnforceOrder leaves n out of the chain: guard
// nodes, and nodes ORT folds at load time (every input constant: weight
// transforms). Guarding one would keep ORT from folding it, and a weight
// that is no longer constant is neither prepacked nor fused: the
// arithmetic, and so the output bytes, would differ from the original's.
func skipNode(n *onnxpb.NodeProto, konst map[string]bool) bool {
	if strings.HasPrefix(n.GetName(), GuardPrefix) {
		return true
	}
	for _, o := range n.GetOutput() {
		if o != "" && !konst[o] {
			return false
		}
	}
	return true
}

// reads reports whether n reads an output of p.
func reads(n, p *onnxpb.NodeProto) bool {
	for _, o := range p.GetOutput() {
		if o == "" {
			continue
		}
		for _, in := range nodeInputs(n) {
			if in == o {
				return true
			}
		}
	}
	return false
}

// Mismatches is the number of positions where ONNX Runtime's predicted
// order of g (PredictOrder) differs from g's file order, leaving out the
// nodes whose position does not matter: guards, nodes ORT folds at load
// time, and alias ops (Reshape, Squeeze, ...). 0: ORT runs the schedule.
func Mismatches(g *onnxpb.GraphProto) int {
	_, _, n := firstMismatch(g)
	return n
}

// firstMismatch compares PredictOrder with the file order, both without
// the nodes Mismatches leaves out; it returns the node ORT runs too early (x) and
// the node the file wants at that position (y), or -1, and the number of
// differing positions.
func firstMismatch(g *onnxpb.GraphProto) (x, y, mismatched int) {
	konst := constantValues(g)
	skip := func(i int) bool { return skipNode(g.Node[i], konst) || isAlias(g.Node[i]) }
	var want, got []int
	for i := range g.Node {
		if !skip(i) {
			want = append(want, i)
		}
	}
	for _, i := range PredictOrder(g) {
		if !skip(i) {
			got = append(got, i)
		}
	}
	x, y = -1, -1
	for k := range want {
		if k < len(got) && got[k] != want[k] {
			if x < 0 {
				x, y = got[k], want[k]
			}
			mismatched++
		}
	}
	return x, y, mismatched
}

func firstOutput(n *onnxpb.NodeProto) string {
	for _, o := range n.GetOutput() {
		if o != "" {
			return o
		}
	}
	return ""
}

func label(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return n.GetOpType()
}

func int64Tensor(name string, v int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{1},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{v}}
}
