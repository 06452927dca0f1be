package autodiff

import (
	"fmt"
	"math"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// convertForward copies the forward nodes into their opset-17 form (pass A:
// the conversions that need no shapes). Nodes are shallow-copied, so the
// input model is never modified.
func (b *builder) convertForward() error {
	var out []*onnxpb.NodeProto
	for _, n0 := range b.src.Proto.Graph.Node {
		n := proto.Clone(n0).(*onnxpb.NodeProto)
		if n.GetDomain() == "ai.onnx" {
			n.Domain = nil
		}
		var extra []*onnxpb.NodeProto
		var err error
		if n.GetDomain() == msDomain {
			extra, err = b.fromMicrosoft(n)
		} else {
			extra, err = b.toOpset17(n)
		}
		if err != nil {
			return fmt.Errorf("autodiff: node %s (%s, opset %d): %w", nodeName(n0), n0.GetOpType(), b.opset, err)
		}
		out = append(out, extra...)
		out = append(out, n)
	}
	b.fwd = out
	return nil
}

// attr helpers for conversion

func dropAttrs(n *onnxpb.NodeProto, names ...string) {
	kept := n.Attribute[:0]
	for _, a := range n.Attribute {
		drop := false
		for _, x := range names {
			if a.GetName() == x {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, a)
		}
	}
	n.Attribute = kept
}

func setAttr(n *onnxpb.NodeProto, a *onnxpb.AttributeProto) {
	dropAttrs(n, a.GetName())
	n.Attribute = append(n.Attribute, a)
}

// constInput reads a constant int64 input (initializer or Constant node).
func (b *builder) constInts(v string) ([]int64, bool) {
	t := b.inits[v]
	if t == nil {
		t = b.consts[v]
	}
	if t == nil {
		if v, ok := b.folded[v]; ok {
			return append([]int64{}, v...), true
		}
		return nil, false
	}
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_INT64:
		if len(t.Int64Data) > 0 {
			return append([]int64{}, t.Int64Data...), true
		}
		if t.RawData != nil || numel(t.Dims) == 0 {
			out := make([]int64, len(t.RawData)/8)
			for i := range out {
				out[i] = int64(uint64(t.RawData[8*i]) | uint64(t.RawData[8*i+1])<<8 | uint64(t.RawData[8*i+2])<<16 | uint64(t.RawData[8*i+3])<<24 |
					uint64(t.RawData[8*i+4])<<32 | uint64(t.RawData[8*i+5])<<40 | uint64(t.RawData[8*i+6])<<48 | uint64(t.RawData[8*i+7])<<56)
			}
			return out, true
		}
	case onnxpb.TensorProto_INT32:
		out := make([]int64, len(t.Int32Data))
		for i, x := range t.Int32Data {
			out[i] = int64(x)
		}
		if len(t.RawData) > 0 {
			out = make([]int64, len(t.RawData)/4)
			for i := range out {
				out[i] = int64(int32(uint32(t.RawData[4*i]) | uint32(t.RawData[4*i+1])<<8 | uint32(t.RawData[4*i+2])<<16 | uint32(t.RawData[4*i+3])<<24))
			}
		}
		return out, true
	}
	return nil, false
}

// fwdConst adds an int64 initializer for a converted forward node.
func (b *builder) fwdConst(n *onnxpb.NodeProto, what string, v []int64) string {
	name := b.fresh(nodeName(n) + "/" + what)
	t := build.Int64s(name, []int64{int64(len(v))}, v)
	b.g.Initializer = append(b.g.Initializer, t)
	b.inits[name] = t
	return name
}

func (b *builder) fwdFloat(n *onnxpb.NodeProto, what string, v float32) string {
	name := b.fresh(nodeName(n) + "/" + what)
	t := floatTensor(onnxpb.TensorProto_FLOAT, nil, []float64{float64(v)})
	t.Name = proto.String(name)
	b.g.Initializer = append(b.g.Initializer, t)
	b.inits[name] = t
	return name
}

func setInput(n *onnxpb.NodeProto, i int, v string) {
	for len(n.Input) <= i {
		n.Input = append(n.Input, "")
	}
	n.Input[i] = v
}

// toOpset17 rewrites n in place to its opset-17 meaning and may return extra
// nodes to put before it. Conversions that need shapes happen in prepare.
func (b *builder) toOpset17(n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	v := b.opset
	a := attrsOf(n)
	dropAttrs(n, "consumed_inputs")
	switch n.GetOpType() {
	case "Clip":
		if v < 11 {
			lo, hi := a.float("min", -3.4028234663852886e+38), a.float("max", 3.4028234663852886e+38)
			dropAttrs(n, "min", "max")
			n.Input = []string{n.Input[0], b.fwdFloat(n, "min", lo), b.fwdFloat(n, "max", hi)}
		}
	case "Squeeze", "Unsqueeze":
		if v < 13 {
			if ax := a.ints("axes"); ax != nil {
				dropAttrs(n, "axes")
				setInput(n, 1, b.fwdConst(n, "axes", ax))
			}
		}
	case "Split":
		if v < 13 {
			if s := a.ints("split"); s != nil {
				dropAttrs(n, "split")
				setInput(n, 1, b.fwdConst(n, "split", s))
			}
		}
		if v >= 18 {
			if a["num_outputs"] != nil {
				return nil, fmt.Errorf("Split with num_outputs (opset 18) is not converted to opset 17 yet")
			}
		}
	case "ReduceSum":
		if v < 13 {
			if ax := a.ints("axes"); ax != nil {
				dropAttrs(n, "axes")
				setInput(n, 1, b.fwdConst(n, "axes", ax))
			}
		}
	case "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
		if v >= 18 {
			if len(n.Input) > 1 && n.Input[1] != "" {
				ax, ok := b.constInts(n.Input[1])
				if !ok {
					return nil, fmt.Errorf("axes input %q is not a constant", n.Input[1])
				}
				n.Input = n.Input[:1]
				setAttr(n, build.AttrInts("axes", ax...))
			} else if a.int("noop_with_empty_axes", 0) != 0 {
				return nil, fmt.Errorf("noop_with_empty_axes=1 has no opset-17 form")
			}
			dropAttrs(n, "noop_with_empty_axes")
		}
	case "Pad":
		if v < 11 {
			pads := a.ints("pads")
			mode := a.str("mode", "constant")
			val := a.float("value", 0)
			n.Attribute = nil
			setAttr(n, build.AttrString("mode", mode))
			n.Input = []string{n.Input[0], b.fwdConst(n, "pads", pads), b.fwdFloat(n, "value", val)}
		}
		if v >= 18 && len(n.Input) > 3 && n.Input[3] != "" {
			return nil, fmt.Errorf("Pad with an axes input (opset 18) is not converted to opset 17 yet")
		}
	case "Slice":
		if v < 10 {
			st, en, ax := a.ints("starts"), a.ints("ends"), a.ints("axes")
			n.Attribute = nil
			n.Input = []string{n.Input[0], b.fwdConst(n, "starts", st), b.fwdConst(n, "ends", en)}
			if ax != nil {
				n.Input = append(n.Input, b.fwdConst(n, "axes", ax))
			}
		}
	case "Reshape":
		if v < 5 {
			s := a.ints("shape")
			dropAttrs(n, "shape")
			n.Input = []string{n.Input[0], b.fwdConst(n, "shape", s)}
		}
	case "Dropout":
		if v < 12 {
			ratio := a.float("ratio", 0.5)
			dropAttrs(n, "ratio", "is_test")
			n.Input = []string{n.Input[0], b.fwdFloat(n, "ratio", ratio)}
		}
	case "BatchNormalization":
		dropAttrs(n, "spatial", "is_test")
	case "Upsample":
		mode := a.str("mode", "nearest")
		var scales string
		if v < 9 {
			sc := a.Floats("scales")
			name := b.fresh(nodeName(n) + "/scales")
			t := floatTensor(onnxpb.TensorProto_FLOAT, []int64{int64(len(sc))}, f64s(sc))
			t.Name = proto.String(name)
			b.g.Initializer = append(b.g.Initializer, t)
			b.inits[name] = t
			scales = name
		} else {
			scales = n.Input[1]
		}
		n.OpType = proto.String("Resize")
		n.Attribute = nil
		n.Input = []string{n.Input[0], "", scales}
		setAttr(n, build.AttrString("mode", mode))
		setAttr(n, build.AttrString("coordinate_transformation_mode", "asymmetric"))
		if mode == "nearest" {
			setAttr(n, build.AttrString("nearest_mode", "floor"))
		}
	case "Resize":
		if v < 11 {
			mode := a.str("mode", "nearest")
			n.Input = []string{n.Input[0], "", n.Input[1]}
			setAttr(n, build.AttrString("coordinate_transformation_mode", "asymmetric"))
			if mode == "nearest" {
				setAttr(n, build.AttrString("nearest_mode", "floor"))
			}
		}
		if v >= 18 {
			if a.int("antialias", 0) != 0 || a.str("keep_aspect_ratio_policy", "stretch") != "stretch" || a.str("coordinate_transformation_mode", "") == "half_pixel_symmetric" {
				return nil, fmt.Errorf("Resize attributes of opset %d have no opset-17 form", v)
			}
			dropAttrs(n, "antialias", "keep_aspect_ratio_policy", "axes")
		}
	case "Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less", "Gemm", "PRelu":
		if v < 7 && a.int("broadcast", 0) != 0 && a["axis"] != nil {
			return nil, fmt.Errorf("legacy broadcast with an axis (opset < 7) is not supported")
		}
		dropAttrs(n, "broadcast", "axis")
		if n.GetOpType() == "Gemm" || n.GetOpType() == "PRelu" {
			// Gemm's alpha/beta/trans attributes are kept; only broadcast goes.
		}
	case "AveragePool", "MaxPool", "LpPool":
		if v >= 19 {
			for _, d := range a.ints("dilations") {
				if d != 1 && n.GetOpType() == "AveragePool" {
					return nil, fmt.Errorf("AveragePool with dilations (opset 19) has no opset-17 form")
				}
			}
			if n.GetOpType() == "AveragePool" {
				dropAttrs(n, "dilations")
			}
		}
	case "Gelu":
		return b.geluPrimitives(n, a.str("approximate", "none"))
	case "Mish":
		// Mish (opset 18, absent from opset 17) = x·tanh(softplus(x)); n
		// becomes the Mul.
		x := n.Input[0]
		sp, th := b.primValue(n, "softplus"), b.primValue(n, "tanh")
		pre := []*onnxpb.NodeProto{b.primNode(n, "Softplus", sp, x), b.primNode(n, "Tanh", th, sp)}
		n.OpType = proto.String("Mul")
		n.Attribute = nil
		n.Input = []string{x, th}
		return pre, nil
	}
	return nil, nil
}

func (a attrs) Floats(name string) []float32 {
	if x, ok := a[name]; ok {
		return x.Floats
	}
	return nil
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// primValue names a value of the primitives that replace forward node n.
func (b *builder) primValue(n *onnxpb.NodeProto, what string) string {
	return b.fresh(nodeName(n) + "/" + what)
}

// primNode is one of the primitive nodes that replace forward node n.
func (b *builder) primNode(n *onnxpb.NodeProto, op, out string, in ...string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(b.fresh(nodeName(n) + "/" + op)), Input: in, Output: []string{out}}
}

// msDomain is ONNX Runtime's contrib-op domain.
const msDomain = "com.microsoft"

// msLowered lists the com.microsoft ops fromMicrosoft writes as standard
// ops: the Gelu family ONNX Runtime's fusions leave in exported eval graphs.
var msLowered = map[string]bool{"Gelu": true, "BiasGelu": true, "FastGelu": true, "QuickGelu": true}

// fromMicrosoft writes a com.microsoft op of msLowered as opset-17
// primitives, with ONNX Runtime's definitions (contrib_defs): Gelu is
// 0.5·x·(1+erf(x/√2)); BiasGelu is Gelu(x+bias); FastGelu is the tanh form
// of Gelu(x+bias), bias optional; QuickGelu is x·sigmoid(alpha·x), alpha
// 1.702 by default. n becomes the last node.
func (b *builder) fromMicrosoft(n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	op := n.GetOpType()
	if !msLowered[op] {
		return nil, fmt.Errorf("op %s:%s is not a standard ONNX op", msDomain, op)
	}
	n.Domain = nil
	var pre []*onnxpb.NodeProto
	if (op == "BiasGelu" || op == "FastGelu") && len(n.Input) > 1 && n.Input[1] != "" {
		s := b.primValue(n, "biased")
		pre = append(pre, b.primNode(n, "Add", s, n.Input[0], n.Input[1]))
		n.Input = []string{s}
	}
	if len(n.Input) == 0 || n.Input[0] == "" || len(n.Output) != 1 {
		return nil, fmt.Errorf("%s:%s needs an input and one output", msDomain, op)
	}
	switch op {
	case "QuickGelu":
		x, s, sg := n.Input[0], b.primValue(n, "scaled"), b.primValue(n, "sigmoid")
		alpha := attrsOf(n).float("alpha", 1.702)
		pre = append(pre, b.primNode(n, "Mul", s, x, b.fwdFloat(n, "alpha", float32(alpha))), b.primNode(n, "Sigmoid", sg, s))
		n.OpType = proto.String("Mul")
		n.Attribute = nil
		n.Input = []string{x, sg}
		return pre, nil
	case "FastGelu":
		more, err := b.geluPrimitives(n, "tanh")
		return append(pre, more...), err
	}
	more, err := b.geluPrimitives(n, "none")
	return append(pre, more...), err
}

// geluPrimitives writes Gelu (opset 20, absent from opset 17) as
// 0.5·x·(1 + erf(x/√2)), or with approximate="tanh" as
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); n becomes the last Mul.
func (b *builder) geluPrimitives(n *onnxpb.NodeProto, approx string) ([]*onnxpb.NodeProto, error) {
	x, y := n.Input[0], n.Output[0]
	v := func(what string) string { return b.primValue(n, what) }
	mk := func(op, out string, in ...string) *onnxpb.NodeProto { return b.primNode(n, op, out, in...) }
	var pre []*onnxpb.NodeProto
	var inner string
	switch approx {
	case "none":
		t, e := v("scaled"), v("erf")
		pre = append(pre, mk("Mul", t, x, b.fwdFloat(n, "inv_sqrt2", float32(1/math.Sqrt2))), mk("Erf", e, t))
		inner = e
	case "tanh":
		x2, x3, c, s, u, th := v("x2"), v("x3"), v("cubic"), v("sum"), v("scaled"), v("tanh")
		pre = append(pre, mk("Mul", x2, x, x), mk("Mul", x3, x2, x), mk("Mul", c, x3, b.fwdFloat(n, "k", 0.044715)),
			mk("Add", s, x, c), mk("Mul", u, s, b.fwdFloat(n, "sqrt_2_over_pi", float32(math.Sqrt(2/math.Pi)))), mk("Tanh", th, u))
		inner = th
	default:
		return nil, fmt.Errorf("Gelu approximate=%q", approx)
	}
	one, h := v("one_plus"), v("x_times")
	pre = append(pre, mk("Add", one, inner, b.fwdFloat(n, "one", 1)), mk("Mul", h, x, one))
	n.OpType = proto.String("Mul")
	n.Attribute = nil
	n.Input = []string{h, b.fwdFloat(n, "half", 0.5)}
	n.Output = []string{y}
	return pre, nil
}
