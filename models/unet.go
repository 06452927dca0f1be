package models

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// unet is the original U-Net of Ronneberger et al. (2015): one input
// channel, valid (unpadded) 3x3 convolutions with bias, 2x2 max pooling,
// 2x2 up-convolutions (ConvTranspose, stride 2), skip connections centre-
// cropped with Slice and joined with Concat, and a 1x1 convolution to 2
// classes. 572x572 in, 388x388 out.
func unet(n *net, opt Options) {
	size := int64(opt.Size)
	if _, ok := unetOut(size); !ok {
		lo, hi := size, size
		for lo > 0 {
			if _, ok := unetOut(lo); ok {
				break
			}
			lo--
		}
		for {
			if _, ok := unetOut(hi); ok {
				break
			}
			hi++
		}
		near := fmt.Sprintf("%d", hi)
		if lo > 0 {
			near = fmt.Sprintf("%d or %d", lo, hi)
		}
		failf("size %d does not work with valid 3x3 convolutions and 2x2 pooling (every pooled map must have an even size); try %s", size, near)
	}
	x := n.input("input", onnxpb.TensorProto_FLOAT, []int64{int64(opt.Batch), 1, size, size})
	var skips []string
	c := int64(64)
	for lvl := 1; lvl <= 4; lvl++ {
		x = unetDouble(n, x, fmt.Sprintf("down%d", lvl), c)
		skips = append(skips, x)
		x = n.pool("MaxPool", x, fmt.Sprintf("down%d.pool", lvl), 2, 2, 0, false)
		c *= 2
	}
	x = unetDouble(n, x, "bottom", c)
	for lvl := 4; lvl >= 1; lvl-- {
		c /= 2
		p := fmt.Sprintf("up%d", lvl)
		up := n.convT(x, p+".upconv", c, 2)
		d := n.dims(up)
		skip := n.crop(skips[lvl-1], p+".crop", d[2], d[3])
		x = n.concat([]string{skip, up}, p+".cat", 1)
		x = unetDouble(n, x, p, c)
	}
	x = n.conv(x, "logits", convSpec{cout: 2, k: 1, bias: true, gain: 1})
	n.output(x)
}

// unetDouble is two valid 3x3 convolutions, each followed by Relu.
func unetDouble(n *net, x, name string, c int64) string {
	x = n.conv(x, name+".conv1", convSpec{cout: c, k: 3, bias: true})
	x = n.relu(x, name+".relu1")
	x = n.conv(x, name+".conv2", convSpec{cout: c, k: 3, bias: true})
	return n.relu(x, name+".relu2")
}

// unetOut returns the output size of unet for input size s, and whether s
// works: every map entering a 2x2 pool must be even and positive.
func unetOut(s int64) (int64, bool) {
	for range 4 {
		s -= 4
		if s <= 0 || s%2 != 0 {
			return 0, false
		}
		s /= 2
	}
	s -= 4
	if s <= 0 {
		return 0, false
	}
	for range 4 {
		s = 2*s - 4
	}
	return s, true
}
