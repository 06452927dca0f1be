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
	Mismatched int // nodes ORT is predicted to run out of file order (Mismatches)
	Relaxed    int // nodes chained to an earlier node than the one before them, or not at all, so as not to break an ORT fusion
	// Shaped names the guarded values that a node ORT may fuse reads. ORT
	// checks the shapes of a fusion's inputs, and a guarded value's dims
	// are unknown to it, so declare these with their full shape.
	Shaped map[string]bool
	// Ranked names the values whose rank a fusion needs (MatMulScaleFusion
	// fuses a scale only into an operand of known rank) and a guard
	// upstream may hide: declare them with their rank and unknown dims.
	// (A guard that keeps ranks known everywhere cost memory: tiny llama
	// b8 s256 measured 0.92 instead of 0.67, controlled.)
	Ranked map[string]bool
}

// EnforceOrder adds ordering guards to g so that ONNX Runtime's
// order (PredictOrder) is the file order of g's nodes: every node that does
// not already read the previous node's output (guard and Constant nodes
// aside) gets its first input through a data guard on that output,
//
//	x' = Reshape(x, Shape(x) + ReduceSum(Cast(Slice(Reshape(y, [-1]), [0], [0]), int64)))
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
//
// A guard never reads a value ORT may fuse away (fuse.go): the trigger
// then comes from the latest earlier node with a value that is safe to
// read, or the node stays unchained (Stats.Relaxed), and ORT may run it a
// little earlier than the file says.
func EnforceOrder(g *onnxpb.GraphProto, opset int64, from int) (Stats, error) {
	return Enforce(g, opset, Options{From: from})
}

// GuardNodes guards only the nodes pick selects, each on the output of the
// node before it, as EnforceOrder would: they cannot run before that node,
// and a guarded clone is no longer a common subexpression of its original
// (ORT's CSE would merge it back). ORT's order is otherwise its own.
func GuardNodes(g *onnxpb.GraphProto, opset int64, pick func(*onnxpb.NodeProto) bool) (Stats, error) {
	return Enforce(g, opset, Options{Pick: pick})
}

// Options select what Enforce guards.
type Options struct {
	From int                          // chain only the nodes from this index on (EnforceOrder)
	Pick func(*onnxpb.NodeProto) bool // if set, guard only these nodes (GuardNodes); ORT's order is otherwise its own
	// Must selects nodes that are guarded even where every value they
	// could wait on or be guarded through is one ORT may fuse: clones,
	// which ORT's CSE would otherwise merge back into their originals (a
	// lost fusion costs last bits; a merged clone costs the saving).
	Must func(*onnxpb.NodeProto) bool
	// Hold names values that must keep a reader besides the ones they have
	// in g: a rewrite moved some of their readers to clones, and with one
	// reader left ORT would fuse the value's producer into it where it did
	// not in the original (an Add into the LayerNormalization after it).
	// A held value that ORT could fuse gets one guard read, right after
	// its producer, feeding the next guard.
	Hold map[string]bool
}

// freshNamer returns a function that makes names unused in g (values,
// nodes, inputs, initializers), each base + "_" + a sequence number.
func freshNamer(g *onnxpb.GraphProto) func(base string) string {
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
	return func(base string) string {
		for {
			seq++
			s := base + "_" + strconv.Itoa(seq)
			if !names[s] {
				names[s] = true
				return s
			}
		}
	}
}

// Enforce adds ordering guards as EnforceOrder or GuardNodes do, as opt
// says.
func Enforce(g *onnxpb.GraphProto, opset int64, opt Options) (Stats, error) {
	var st Stats
	from, pick := opt.From, opt.Pick
	if opset < 10 {
		return st, fmt.Errorf("enforce ORT order: default-domain opset %d < 10 has no Slice with inputs", opset)
	}
	fresh := freshNamer(g)
	konst := ConstantValues(g)
	fused := fusionValues(g, konst)
	st.Ranked = scaleOperands(g, fused)
	reshaped := reshapedMatMuls(g, fused)
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
	// empty reads y and returns an empty int64 tensor that exists only
	// once y does.
	empty := func(yv string) string {
		yf, ys, e := fresh(yv+"_order_flat"), fresh(yv+"_order_slice"), fresh(yv+"_order_empty")
		add("Reshape", []string{yv, flat}, []string{yf})
		add("Slice", []string{yf, zero, zero}, []string{ys})
		add("Cast", []string{ys}, []string{e}, intAttr("to", int64(onnxpb.TensorProto_INT64)))
		return e
	}
	// trigger is the value the next guard reads: prev's first output, or,
	// where ORT may fuse that away, the latest chained node's value that
	// it may not (exact reports whether that is prev's).
	var chain []*onnxpb.NodeProto
	trigger := func() (v string, exact bool) {
		for k := len(chain) - 1; k >= 0 && k >= len(chain)-16; k-- {
			for _, o := range chain[k].GetOutput() {
				if o != "" && fused[o] == nil {
					return o, k == len(chain)-1
				}
			}
		}
		return "", false
	}
	var pending []string // empties of held values, for the next guard
	hold := func(n *onnxpb.NodeProto) {
		for _, o := range n.GetOutput() {
			if o != "" && opt.Hold[o] && fused[o] != nil {
				pending = append(pending, empty(o))
			}
		}
	}
	for i, n := range g.GetNode() {
		if skip(n) {
			out = append(out, n)
			continue
		}
		var prev *onnxpb.NodeProto
		if len(chain) > 0 {
			prev = chain[len(chain)-1]
		}
		chained := prev == nil || reads(n, prev) || pick != nil && !pick(n)
		if !chained && isAlias(n) {
			// Never guarded (isAlias): ORT may run it anywhere after its
			// inputs, and the next node is chained to prev, not to it.
			out = append(out, n)
			hold(n)
			continue
		}
		// The guarded input: the first that is not a constant (a constant
		// made non-constant is neither folded, prepacked nor fused, and the
		// output bytes would differ from the original's) and not a value
		// ORT may fuse into n.
		in, allConst := -1, true
		for k, v := range n.GetInput() {
			if v != "" && !konst[v] {
				allConst = false
			}
			if v != "" && fused[v] == nil && (in < 0 || konst[n.Input[in]] && !konst[v]) {
				in = k
			}
		}
		if in >= 0 && konst[n.Input[in]] && !allConst {
			in = -1 // every value n computes on is one ORT may fuse into it
		}
		must := opt.Must != nil && opt.Must(n)
		if reshaped[n] {
			in = -1
		} else if in < 0 && must {
			for k, v := range n.GetInput() {
				if v != "" && (in < 0 || konst[n.Input[in]] && !konst[v]) {
					in = k
				}
			}
		}
		want := !chained && i >= from
		if (want || len(pending) > 0) && in >= 0 && !isAlias(n) {
			var empties []string
			if want {
				yv, exact := trigger()
				if yv == "" && must {
					yv = firstOutput(prev)
				}
				if yv != "" {
					empties = append(empties, empty(yv))
					if !exact {
						st.Relaxed++
					}
				} else {
					st.Relaxed++
				}
			}
			empties = append(empties, pending...)
			if len(empties) > 0 {
				pending = nil
				xv := n.Input[in]
				xs, xt, xg := fresh(xv+"_order_shape"), fresh(xv+"_order_target"), fresh(xv+"_order_guarded")
				add("Shape", []string{xv}, []string{xs})
				// Concat(Shape(x), empty): shape inference cannot
				// know the target's length, so ORT sizes the guarded value
				// at run time and leaves it out of its memory planning.
				add("Concat", append([]string{xs}, empties...), []string{xt}, intAttr("axis", 0))
				add("Reshape", []string{xv, xt}, []string{xg})
				// Nodes may be shared with another graph (rewrite.Apply
				// reuses untouched nodes): change a copy.
				if checksShapes(n, fused) {
					if st.Shaped == nil {
						st.Shaped = map[string]bool{}
					}
					st.Shaped[xg] = true
				}
				n = proto.Clone(n).(*onnxpb.NodeProto)
				n.Input[in] = xg
				st.Guards++
			}
		} else if want {
			st.Relaxed++
		}
		out = append(out, n)
		hold(n)
		chain = append(chain, n)
	}
	if st.GuardNodes > 0 {
		g.Initializer = append(slices.Clip(g.Initializer), int64Tensor(zero, 0), int64Tensor(flat, -1))
	}
	g.Node = out
	if pick != nil {
		return st, nil
	}
	_, _, st.Mismatched = firstMismatch(g)
	if st.Mismatched > 0 && st.Relaxed == 0 {
		return st, fmt.Errorf("enforce ORT order: ORT's predicted order still runs %d nodes out of file order (a node without inputs cannot be guarded)", st.Mismatched)
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

// ConstantValues returns the values ONNX Runtime knows before any run:
// initializers, and the outputs of nodes that read only such values
// (Constant nodes included). ORT folds those nodes when it loads the model,
// so they have no place in the run-time order and need no guard.
func ConstantValues(g *onnxpb.GraphProto) map[string]bool {
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

// Mismatches is the number of nodes ONNX Runtime is predicted to run out
// of g's file order (PredictOrder): the fewest nodes that, moved, make the
// two orders agree. It leaves out the nodes whose position does not
// matter: guards, nodes ORT folds at load time, and alias ops (Reshape,
// Squeeze, ...). 0: ORT runs the schedule.
func Mismatches(g *onnxpb.GraphProto) int {
	_, _, n := firstMismatch(g)
	return n
}

// firstMismatch compares PredictOrder with the file order, both without
// the nodes Mismatches leaves out; it returns the node ORT runs too early (x) and
// the node the file wants at that position (y), or -1, and the number of
// nodes out of order (those outside a longest common subsequence).
func firstMismatch(g *onnxpb.GraphProto) (x, y, moved int) {
	konst := ConstantValues(g)
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
			x, y = got[k], want[k]
			break
		}
	}
	if x < 0 {
		return x, y, 0
	}
	// Both list the same nodes; want is increasing, so the longest common
	// subsequence is the longest increasing run of got's indexes.
	var tails []int
	for _, i := range got {
		k, _ := slices.BinarySearch(tails, i)
		if k == len(tails) {
			tails = append(tails, i)
		} else {
			tails[k] = i
		}
	}
	return x, y, len(got) - len(tails)
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
