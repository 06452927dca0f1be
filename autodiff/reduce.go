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
