package models

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// densenet161 is torchvision's densenet161: growth 48, blocks 6-12-36-24,
// 96 initial features, bottleneck width 4*48, compression 0.5. Each dense
// layer reads the Concat of all earlier features of its block and the block
// grows by one Concat per layer, as in torchvision's forward.
func densenet161(n *net, opt Options) {
	const growth, bnSize = 48, 4
	x := n.input("input", onnxpb.TensorProto_FLOAT, []int64{int64(opt.Batch), 3, int64(opt.Size), int64(opt.Size)})
	x = n.conv(x, "features.conv0", convSpec{cout: 96, k: 7, s: 2, p: 3})
	x = n.bn(x, "features.norm0", 1e-5, 1)
	x = n.relu(x, "features.relu0")
	x = n.pool("MaxPool", x, "features.pool0", 3, 2, 1, false)
	for b, layers := range []int{6, 12, 36, 24} {
		for l := range layers {
			p := fmt.Sprintf("features.denseblock%d.denselayer%d", b+1, l+1)
			y := n.bn(x, p+".norm1", 1e-5, 1)
			y = n.relu(y, p+".relu1")
			y = n.conv(y, p+".conv1", convSpec{cout: bnSize * growth, k: 1})
			y = n.bn(y, p+".norm2", 1e-5, 1)
			y = n.relu(y, p+".relu2")
			y = n.conv(y, p+".conv2", convSpec{cout: growth, k: 3, p: 1})
			x = n.concat([]string{x, y}, p+".cat", 1)
		}
		if b == 3 {
			break
		}
		p := fmt.Sprintf("features.transition%d", b+1)
		x = n.bn(x, p+".norm", 1e-5, 1)
		x = n.relu(x, p+".relu")
		x = n.conv(x, p+".conv", convSpec{cout: n.dims(x)[1] / 2, k: 1})
		x = n.pool("AveragePool", x, p+".pool", 2, 2, 0, false)
	}
	x = n.bn(x, "features.norm5", 1e-5, 1)
	x = n.relu(x, "features.relu5")
	x = n.gap(x, "avgpool")
	x = n.flatten(x, "flatten")
	x = n.linear(x, "logits", 1000, 1)
	n.output(x)
}
