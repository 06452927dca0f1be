package autodiff

import (
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// gradGather: dData = ScatterND(zeros, indices[..., None], dY,
// reduction=add) (embeddings: axis 0); another axis is moved first with
// Transposes. Reads only the indices.
func gradGather(b *builder, n *onnxpb.NodeProto, dy []string) error {
	data, idx := n.Input[0], n.Input[1]
	dd, err := b.shape(data)
	if err != nil {
		return err
	}
	id, err := b.shape(idx)
	if err != nil {
		return err
	}
	axis := normAxis(attrsOf(n).int("axis", 0), len(dd))
	ind := idx
	if b.elem(idx) != onnxpb.TensorProto_INT64 {
		ind = b.op("Cast", "indices_int64", []string{idx}, build.AttrInt("to", int64(onnxpb.TensorProto_INT64)))
		b.setShape(ind, onnxpb.TensorProto_INT64, id)
	}
	ind = b.reshape("indices_nd", ind, append(append([]int64{}, id...), 1))
	g := dy[0]
	target := dd
	q := int64(len(id))
	if axis != 0 {
		// Move the gathered axis first (data) and the index axes first (dY):
		// dY has data[:axis] + indices + data[axis+1:].
		var gperm []int64
		for i := int64(0); i < q; i++ {
			gperm = append(gperm, axis+i)
		}
		for i := int64(0); i < axis; i++ {
			gperm = append(gperm, i)
		}
		for i := axis + q; i < int64(len(dd))-1+q; i++ {
			gperm = append(gperm, i)
		}
		g = b.transpose("dY_axis_first", g, gperm)
		target = append([]int64{dd[axis]}, dd[:axis]...)
		target = append(target, dd[axis+1:]...)
	}
	z := b.zeros(target, b.elem(data))
	s := b.op("ScatterND", "dData", []string{z, ind, g}, build.AttrString("reduction", "add"))
	b.setShape(s, b.elem(data), target)
	if axis != 0 {
		// target = [d_axis, d_0..d_axis-1, d_axis+1..]; back to data order.
		perm := make([]int64, len(dd))
		for i := int64(0); i < int64(len(dd)); i++ {
			switch {
			case i < axis:
				perm[i] = i + 1
			case i == axis:
				perm[i] = 0
			default:
				perm[i] = i
			}
		}
		s = b.transpose("dData_axis", s, perm)
	}
	b.addGrad(data, s)
	return nil
}

// gradGatherElements: dData = ScatterElements(zeros, indices, dY,
// reduction=add) on the same axis. Reads only the indices.
func gradGatherElements(b *builder, n *onnxpb.NodeProto, dy []string) error {
	data, idx := n.Input[0], n.Input[1]
	dd, err := b.shape(data)
	if err != nil {
		return err
	}
	axis := normAxis(attrsOf(n).int("axis", 0), len(dd))
	z := b.zeros(dd, b.elem(data))
	g := b.op("ScatterElements", "dData", []string{z, idx, dy[0]}, build.AttrInt("axis", axis), build.AttrString("reduction", "add"))
	b.setShape(g, b.elem(data), dd)
	b.addGrad(data, g)
	return nil
}

// gradTopK: the values output's gradient goes back to the positions the
// indices name (distinct along the axis): ScatterElements into zeros.
func gradTopK(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	xd, err := b.shape(x)
	if err != nil {
		return err
	}
	if dy[0] == "" {
		return nil
	}
	axis := normAxis(attrsOf(n).int("axis", -1), len(xd))
	z := b.zeros(xd, b.elem(x))
	g := b.op("ScatterElements", "dX", []string{z, n.Output[1], dy[0]}, build.AttrInt("axis", axis))
	b.setShape(g, b.elem(x), xd)
	b.addGrad(x, g)
	return nil
}
