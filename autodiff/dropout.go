package autodiff

import "github.com/onnx-recompute/recompute/onnx/onnxpb"

// gradDropout: dX = Where(mask, dY / (1-ratio), 0); reads only the mask.
func gradDropout(b *builder, n *onnxpb.NodeProto, dy []string) error {
	ratio, ok := b.dropRatio[n]
	if !ok || len(n.Output) < 2 || n.Output[1] == "" {
		return errorf("dropout was not switched to training mode")
	}
	g := b.scale("scaled", dy[0], 1/(1-ratio))
	b.addGrad(n.Input[0], b.where("dX", n.Output[1], g, b.constScalar(0, b.elem(dy[0])), dy[0]))
	return nil
}
