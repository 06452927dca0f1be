package models

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// vgg19 is torchvision's vgg19 (configuration E, no BatchNormalization):
// sixteen 3x3 convolutions with bias, five 2x2 max pools, an adaptive 7x7
// average pool and the 4096-4096-1000 classifier. Dropout is left out (the
// planner and autodiff see a deterministic graph); it has no parameters.
func vgg19(n *net, opt Options) {
	x := n.input("input", onnxpb.TensorProto_FLOAT, []int64{int64(opt.Batch), 3, int64(opt.Size), int64(opt.Size)})
	cfg := []int64{64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0}
	i := 0 // torchvision's index in features
	for _, c := range cfg {
		if c == 0 {
			x = n.pool("MaxPool", x, fmt.Sprintf("features.%d", i), 2, 2, 0, false)
			i++
			continue
		}
		x = n.conv(x, fmt.Sprintf("features.%d", i), convSpec{cout: c, k: 3, p: 1, bias: true})
		x = n.relu(x, fmt.Sprintf("features.%d", i+1))
		i += 2
	}
	x = n.adaptiveAvgPool(x, "avgpool", 7)
	x = n.flatten(x, "flatten")
	x = n.linear(x, "classifier.0", 4096, 2)
	x = n.relu(x, "classifier.1")
	x = n.linear(x, "classifier.3", 4096, 2)
	x = n.relu(x, "classifier.4")
	x = n.linear(x, "logits", 1000, 1)
	n.output(x)
}
