package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// gradGather (axis 0, embeddings): dData = ScatterND(zeros, indices[...,
// None], dY, reduction=add). Reads only the indices.
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
	if axis := normAxis(attrsOf(n).int("axis", 0), len(dd)); axis != 0 {
		return fmt.Errorf("Gather on axis %d is not supported (axis 0 only)", axis)
	}
	ind := idx
	if b.elem(idx) != onnxpb.TensorProto_INT64 {
		ind = b.op("Cast", "indices_int64", []string{idx}, build.AttrInt("to", int64(onnxpb.TensorProto_INT64)))
		b.setShape(ind, onnxpb.TensorProto_INT64, id)
	}
	ind = b.reshape("indices_nd", ind, append(append([]int64{}, id...), 1))
	z := b.zeros(dd, b.elem(data))
	g := b.op("ScatterND", "dData", []string{z, ind, dy[0]}, build.AttrString("reduction", "add"))
	b.setShape(g, b.elem(data), dd)
	b.addGrad(data, g)
	return nil
}
