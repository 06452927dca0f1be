package models

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// googlenet is torchvision's GoogLeNet (Inception v1 with BatchNormalization
// after every convolution, eps 1e-3) without the auxiliary heads, dropout or
// input transform. Like torchvision, the "5x5" branch uses a 3x3 kernel.
func googlenet(n *net, opt Options) {
	x := n.input("input", onnxpb.TensorProto_FLOAT, []int64{int64(opt.Batch), 3, int64(opt.Size), int64(opt.Size)})
	x = basicConv(n, x, "conv1", 64, 7, 2, 3)
	x = n.pool("MaxPool", x, "maxpool1", 3, 2, 0, true)
	x = basicConv(n, x, "conv2", 64, 1, 1, 0)
	x = basicConv(n, x, "conv3", 192, 3, 1, 1)
	x = n.pool("MaxPool", x, "maxpool2", 3, 2, 0, true)
	x = inception(n, x, "inception3a", 64, 96, 128, 16, 32, 32)
	x = inception(n, x, "inception3b", 128, 128, 192, 32, 96, 64)
	x = n.pool("MaxPool", x, "maxpool3", 3, 2, 0, true)
	x = inception(n, x, "inception4a", 192, 96, 208, 16, 48, 64)
	x = inception(n, x, "inception4b", 160, 112, 224, 24, 64, 64)
	x = inception(n, x, "inception4c", 128, 128, 256, 24, 64, 64)
	x = inception(n, x, "inception4d", 112, 144, 288, 32, 64, 64)
	x = inception(n, x, "inception4e", 256, 160, 320, 32, 128, 128)
	x = n.pool("MaxPool", x, "maxpool4", 2, 2, 0, true)
	x = inception(n, x, "inception5a", 256, 160, 320, 32, 128, 128)
	x = inception(n, x, "inception5b", 384, 192, 384, 48, 128, 128)
	x = n.gap(x, "avgpool")
	x = n.flatten(x, "flatten")
	x = n.linear(x, "logits", 1000, 1)
	n.output(x)
}

// basicConv is torchvision's BasicConv2d: Conv (no bias), BN (eps 1e-3), Relu.
func basicConv(n *net, x, name string, cout, k, s, p int64) string {
	x = n.conv(x, name+".conv", convSpec{cout: cout, k: k, s: s, p: p})
	x = n.bn(x, name+".bn", 1e-3, 1)
	return n.relu(x, name+".relu")
}

func inception(n *net, x, name string, c1, c3r, c3, c5r, c5, pool int64) string {
	b1 := basicConv(n, x, name+".branch1", c1, 1, 1, 0)
	b2 := basicConv(n, x, name+".branch2.0", c3r, 1, 1, 0)
	b2 = basicConv(n, b2, name+".branch2.1", c3, 3, 1, 1)
	b3 := basicConv(n, x, name+".branch3.0", c5r, 1, 1, 0)
	b3 = basicConv(n, b3, name+".branch3.1", c5, 3, 1, 1)
	b4 := n.pool("MaxPool", x, name+".branch4.0", 3, 1, 1, true)
	b4 = basicConv(n, b4, name+".branch4.1", pool, 1, 1, 0)
	return n.concat([]string{b1, b2, b3, b4}, name+".cat", 1)
}
