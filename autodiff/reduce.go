package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// reduceAxes returns the normalized reduced axes (all when none are given).
func reduceAxes(axes []int64, rank int) []int64 {
	if len(axes) == 0 {
		axes = make([]int64, rank)
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	out := make([]int64, len(axes))
	for i, a := range axes {
		out[i] = normAxis(a, rank)
	}
	return out
}

// expandBack reshapes a reduced gradient to keepdims form and expands it to
// the input shape.
func (b *builder) expandBack(g string, xd, axes []int64) string {
	kd := append([]int64{}, xd...)
	for _, a := range axes {
		kd[a] = 1
	}
	g = b.reshape("dY_keepdims", g, kd)
	out := b.op("Expand", "dX", []string{g, b.constI64(xd...)})
	b.setShape(out, b.elem(g), xd)
	return out
}

// gradReduceMean: dX = Expand(dY / count).
func gradReduceMean(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	axes := reduceAxes(attrsOf(n).ints("axes"), len(xd))
	count := int64(1)
	for _, a := range axes {
		count *= xd[a]
	}
	g := b.scale("dY_over_count", dy[0], 1/float64(count))
	b.addGrad(x, b.expandBack(g, xd, axes))
	return nil
}

// gradReduceSum: dX = Expand(dY).
func gradReduceSum(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	var axes []int64
	if a := input(n, 1); a != "" {
		var ok bool
		if axes, ok = b.constInts(a); !ok {
			return fmt.Errorf("axes %q are not constants", a)
		}
	}
	if len(axes) == 0 && attrsOf(n).int("noop_with_empty_axes", 0) != 0 {
		b.addGrad(x, dy[0])
		return nil
	}
	b.addGrad(x, b.expandBack(dy[0], xd, reduceAxes(axes, len(xd))))
	return nil
}

// reduceGeometry reads the axes of an opset-17 Reduce* (an attribute;
// ReduceSum's axes input is gradReduceSum's) and the keepdims shape.
func (b *builder) reduceGeometry(n *onnxpb.NodeProto) (xd, axes, kd []int64, err error) {
	x := n.Input[0]
	if xd, err = b.shape(x); err != nil {
		return nil, nil, nil, err
	}
	axes = reduceAxes(attrsOf(n).ints("axes"), len(xd))
	kd = append([]int64{}, xd...)
	for _, a := range axes {
		kd[a] = 1
	}
	return xd, axes, kd, nil
}

// expandTo broadcasts a reduced value (any keepdims) to the input shape.
func (b *builder) expandTo(name, v string, kd, xd []int64) string {
	v = b.reshape(name+"_keepdims", v, kd)
	out := b.op("Expand", name, []string{v, b.constI64(xd...)})
	b.setShape(out, b.elem(v), xd)
	return out
}

// gradReduceExtreme (ReduceMax/ReduceMin): dY goes to the elements equal to
// the result (ties all get it).
func gradReduceExtreme(b *builder, n *onnxpb.NodeProto, dy []string) error {
	xd, _, kd, err := b.reduceGeometry(n)
	if err != nil {
		return err
	}
	b.addGrad(n.Input[0], b.extremeGrad(n.Input[0], n.Output[0], dy[0], kd, xd))
	return nil
}

// extremeGrad is the gradient of a maximum or minimum y of x over the axes
// where kd (y with kept dims) is 1: dY, broadcast to xd, where x equals y.
func (b *builder) extremeGrad(x, y, dy string, kd, xd []int64) string {
	yf := b.expandTo("Y_full", y, kd, xd)
	g := b.expandTo("dY_full", dy, kd, xd)
	return b.where("dX", b.compare("Equal", "is_extreme", x, yf), g, b.constScalar(0, b.elem(x)), x)
}

// gradReduceSumSquare: dX = 2x·dY.
func gradReduceSumSquare(b *builder, n *onnxpb.NodeProto, dy []string) error {
	xd, _, kd, err := b.reduceGeometry(n)
	if err != nil {
		return err
	}
	x := n.Input[0]
	b.addGrad(x, b.mul("dX", b.scale("two_x", x, 2), b.expandTo("dY_full", dy[0], kd, xd)))
	return nil
}

// gradReduceL1: dX = sign(x)·dY.
func gradReduceL1(b *builder, n *onnxpb.NodeProto, dy []string) error {
	xd, _, kd, err := b.reduceGeometry(n)
	if err != nil {
		return err
	}
	x := n.Input[0]
	b.addGrad(x, b.mul("dX", b.unary("Sign", "sign", x), b.expandTo("dY_full", dy[0], kd, xd)))
	return nil
}

// gradReduceL2: dX = x/y·dY.
func gradReduceL2(b *builder, n *onnxpb.NodeProto, dy []string) error {
	_, _, kd, err := b.reduceGeometry(n)
	if err != nil {
		return err
	}
	x := n.Input[0]
	ratio := b.div("dY_over_Y", b.reshape("dY_k", dy[0], kd), b.reshape("Y_k", n.Output[0], kd))
	b.addGrad(x, b.mul("dX", x, ratio))
	return nil
}

// gradReduceLogSumExp: dX = exp(x − y)·dY.
func gradReduceLogSumExp(b *builder, n *onnxpb.NodeProto, dy []string) error {
	_, _, kd, err := b.reduceGeometry(n)
	if err != nil {
		return err
	}
	x := n.Input[0]
	p := b.unary("Exp", "softmax", b.sub("x_minus_y", x, b.reshape("Y_k", n.Output[0], kd)))
	b.addGrad(x, b.mul("dX", p, b.reshape("dY_k", dy[0], kd)))
	return nil
}

// gradReduceLogSum: y = log Σx: dX = dY / Σx = dY·exp(−y), broadcast.
func gradReduceLogSum(b *builder, n *onnxpb.NodeProto, dy []string) error {
	xd, _, kd, err := b.reduceGeometry(n)
	if err != nil {
		return err
	}
	x := n.Input[0]
	inv := b.unary("Exp", "inv_sum", b.unary("Neg", "neg_y", b.reshape("Y_k", n.Output[0], kd)))
	b.addGrad(x, b.expandTo("dX", b.mul("dy_inv_sum", b.reshape("dY_k", dy[0], kd), inv), kd, xd))
	return nil
}
