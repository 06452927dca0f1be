package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Pass B of the forward conversion, after shape inference: conversions that
// need ranks (old Softmax), training mode (BatchNormalization, Dropout). A
// logical forward node may be written as several nodes (its expansion); the
// backward walks the logical nodes.

// fnode makes a forward node (not appended anywhere) and names it.
func (b *builder) fnode(op, name string, inputs, outputs []string, a ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(b.fresh(name)), Input: inputs, Output: outputs, Attribute: a}
}

// fval names a new forward value and records its type.
func (b *builder) fval(name string, elem onnxpb.TensorProto_DataType, dims []int64) string {
	v := b.fresh(name)
	b.setShape(v, elem, dims)
	return v
}

func (b *builder) prepare() error {
	for _, n := range b.fwd {
		var err error
		switch n.GetOpType() {
		case "Softmax", "LogSoftmax", "Hardmax":
			err = b.prepareSoftmax(n)
		case "BatchNormalization":
			err = b.prepareBatchNorm(n)
		case "Dropout":
			err = b.prepareDropout(n)
		case "LayerNormalization":
			err = b.prepareLayerNorm(n)
		}
		if err != nil {
			return fmt.Errorf("autodiff: node %s (%s): %w", nodeName(n), n.GetOpType(), err)
		}
	}
	return nil
}

// prepareSoftmax gives opset<13 Softmax (coerce to 2-D at axis) its opset-13
// meaning: the same op when axis is the last one, else Flatten/Softmax/Reshape.
func (b *builder) prepareSoftmax(n *onnxpb.NodeProto) error {
	if b.opset >= 13 {
		return nil
	}
	x := n.Input[0]
	dims, err := b.shape(x)
	if err != nil {
		return err
	}
	axis := normAxis(attrsOf(n).int("axis", 1), len(dims))
	if axis == int64(len(dims))-1 {
		setAttr(n, build.AttrInt("axis", axis))
		return nil
	}
	elem := b.elem(x)
	inner := numel(dims[axis:])
	flat := b.fval(nodeName(n)+"/flat", elem, []int64{numel(dims[:axis]), inner})
	sm := b.fval(nodeName(n)+"/2d", elem, []int64{numel(dims[:axis]), inner})
	f := b.fnode("Flatten", nodeName(n)+"/flatten", []string{x}, []string{flat}, build.AttrInt("axis", axis))
	s := b.fnode(n.GetOpType(), nodeName(n)+"/softmax2d", []string{flat}, []string{sm}, build.AttrInt("axis", 1))
	r := b.fnode("Reshape", nodeName(n)+"/reshape", []string{sm, b.fwdConst(n, "shape", dims)}, []string{n.Output[0]})
	b.expand[n] = []*onnxpb.NodeProto{f, s, r}
	// The logical node keeps its meaning for the backward rule.
	setAttr(n, build.AttrInt("axis", axis))
	b.flatSoftmax[n] = true
	return nil
}

// bnSaved are the forward values the BatchNormalization backward reads.
type bnSaved struct {
	xhat, inv, scale string // scale reshaped to [C,1,...]
	axes             []int64
	count            int64
}

// prepareBatchNorm writes training-mode batch normalization as primitives:
// mean, variance over all axes but 1, xhat = (x-mean)/sqrt(var+eps),
// y = xhat*scale + bias. Running mean/var are not updated (inputs 3 and 4
// stay unused).
func (b *builder) prepareBatchNorm(n *onnxpb.NodeProto) error {
	if len(n.Input) < 3 {
		return fmt.Errorf("needs X, scale and B")
	}
	x, scale, bias := n.Input[0], n.Input[1], n.Input[2]
	dims, err := b.shape(x)
	if err != nil {
		return err
	}
	if len(dims) < 2 {
		return fmt.Errorf("input rank %d < 2", len(dims))
	}
	elem := b.elem(x)
	eps := float64(attrsOf(n).float("epsilon", 1e-5))
	axes := []int64{0}
	cdims := []int64{dims[1]}
	stat := []int64{1, dims[1]}
	for i := 2; i < len(dims); i++ {
		axes = append(axes, int64(i))
		cdims = append(cdims, 1)
		stat = append(stat, 1)
	}
	count := numel(dims) / dims[1]
	base := nodeName(n)
	mean := b.fval(base+"/mean", elem, stat)
	xc := b.fval(base+"/centered", elem, dims)
	sq := b.fval(base+"/squared", elem, dims)
	variance := b.fval(base+"/var", elem, stat)
	ve := b.fval(base+"/var_eps", elem, stat)
	sd := b.fval(base+"/std", elem, stat)
	inv := b.fval(base+"/inv_std", elem, stat)
	xhat := b.fval(base+"/xhat", elem, dims)
	s := b.fval(base+"/scale_c", elem, cdims)
	bb := b.fval(base+"/bias_c", elem, cdims)
	ys := b.fval(base+"/scaled", elem, dims)
	epsName := b.fwdFloatOf(n, "epsilon", eps, elem)
	shapeC := b.fwdConst(n, "channel_shape", cdims)
	nodes := []*onnxpb.NodeProto{
		b.fnode("ReduceMean", base+"/mean", []string{x}, []string{mean}, build.AttrInts("axes", axes...), build.AttrInt("keepdims", 1)),
		b.fnode("Sub", base+"/center", []string{x, mean}, []string{xc}),
		b.fnode("Mul", base+"/square", []string{xc, xc}, []string{sq}),
		b.fnode("ReduceMean", base+"/variance", []string{sq}, []string{variance}, build.AttrInts("axes", axes...), build.AttrInt("keepdims", 1)),
		b.fnode("Add", base+"/add_eps", []string{variance, epsName}, []string{ve}),
		b.fnode("Sqrt", base+"/sqrt", []string{ve}, []string{sd}),
		b.fnode("Reciprocal", base+"/reciprocal", []string{sd}, []string{inv}),
		b.fnode("Mul", base+"/normalize", []string{xc, inv}, []string{xhat}),
		b.fnode("Reshape", base+"/scale_c", []string{scale, shapeC}, []string{s}),
		b.fnode("Reshape", base+"/bias_c", []string{bias, shapeC}, []string{bb}),
		b.fnode("Mul", base+"/scale", []string{xhat, s}, []string{ys}),
		b.fnode("Add", base+"/shift", []string{ys, bb}, []string{n.Output[0]}),
	}
	b.expand[n] = nodes
	b.bn[n] = bnSaved{xhat: xhat, inv: inv, scale: s, axes: axes, count: count}
	// Running mean/var outputs (training_mode=1 form) are not produced.
	for _, o := range n.Output[1:] {
		if o != "" && b.readByAnyNode(o) {
			return fmt.Errorf("running mean/var output %q is read by the forward graph", o)
		}
	}
	n.Output = n.Output[:1]
	return nil
}

func (b *builder) readByAnyNode(v string) bool {
	for _, m := range b.fwd {
		for _, in := range m.Input {
			if in == v {
				return true
			}
		}
	}
	for _, o := range b.src.Proto.Graph.Output {
		if o.GetName() == v {
			return true
		}
	}
	return false
}

func (b *builder) fwdFloatOf(n *onnxpb.NodeProto, what string, v float64, elem onnxpb.TensorProto_DataType) string {
	name := b.fresh(nodeName(n) + "/" + what)
	t := floatTensor(elem, nil, []float64{v})
	t.Name = proto.String(name)
	b.g.Initializer = append(b.g.Initializer, t)
	b.inits[name] = t
	b.setShape(name, onnxpb.TensorProto_DataType(t.GetDataType()), []int64{})
	return name
}

// prepareDropout switches Dropout to training mode with a fixed seed and
// makes its mask an output the backward reads.
func (b *builder) prepareDropout(n *onnxpb.NodeProto) error {
	ratio := 0.5
	if r := input(n, 1); r != "" {
		t := b.inits[r]
		if t == nil {
			t = b.consts[r]
		}
		if t == nil {
			return fmt.Errorf("ratio %q is not a constant", r)
		}
		v, err := floatsOf(t)
		if err != nil || len(v) != 1 {
			return fmt.Errorf("ratio %q: not a float scalar", r)
		}
		ratio = v[0]
	} else {
		setInput(n, 1, b.fwdFloatOf(n, "ratio", ratio, b.elem(n.Input[0])))
	}
	if ratio <= 0 || ratio >= 1 {
		return fmt.Errorf("ratio %g: training mode needs 0 < ratio < 1", ratio)
	}
	t := &onnxpb.TensorProto{Name: proto.String(b.fresh(nodeName(n) + "/training_mode")), DataType: proto.Int32(int32(onnxpb.TensorProto_BOOL)), RawData: []byte{1}}
	b.g.Initializer = append(b.g.Initializer, t)
	b.inits[t.GetName()] = t
	b.setShape(t.GetName(), onnxpb.TensorProto_BOOL, []int64{})
	setInput(n, 2, t.GetName())
	if attrsOf(n)["seed"] == nil {
		// A distinct fixed seed per node: equal seeds would give equal
		// masks to same-shaped Dropouts.
		setAttr(n, build.AttrInt("seed", int64(1234+len(b.dropRatio))))
	}
	if len(n.Output) < 2 || n.Output[1] == "" {
		for len(n.Output) < 2 {
			n.Output = append(n.Output, "")
		}
		n.Output[1] = b.fresh(nodeName(n) + "/mask")
	}
	dims := b.shapes[n.Input[0]].dims
	b.setShape(n.Output[1], onnxpb.TensorProto_BOOL, dims)
	b.dropRatio[n] = ratio
	return nil
}
