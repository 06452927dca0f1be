package models

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// residualGamma is the initial BN scale of the last BatchNormalization of
// every residual branch. With inference-mode BN (mean 0, variance 1) each
// block adds its branch's variance to the trunk; at scale 1 ResNet-152's
// logits reach ~1e4 on unit inputs. 0.25 keeps them moderate while every
// weight still gets a gradient (in the spirit of zero-init-residual).
const residualGamma = 0.25

// resnetClassifier is torchvision's ResNet v1.5 (stride on the 3x3 conv of
// the bottleneck) with Bottleneck blocks and a 1000-way fc.
func resnetClassifier(n *net, opt Options, blocks [4]int) {
	x := n.input("input", onnxpb.TensorProto_FLOAT, []int64{int64(opt.Batch), 3, int64(opt.Size), int64(opt.Size)})
	x = resnetBackbone(n, x, "", blocks, [4]bool{})
	x = n.gap(x, "avgpool")
	x = n.flatten(x, "flatten")
	x = n.linear(x, "logits", 1000, 1)
	n.output(x)
}

// resnetBackbone builds the stem and the four stages of a bottleneck ResNet.
// dilate[i] replaces the stride of stage i by dilation, as torchvision's
// replace_stride_with_dilation (the first block of a dilated stage keeps the
// previous dilation).
func resnetBackbone(n *net, x, prefix string, blocks [4]int, dilate [4]bool) string {
	x = n.conv(x, prefix+"conv1", convSpec{cout: 64, k: 7, s: 2, p: 3})
	x = n.bn(x, prefix+"bn1", 1e-5, 1)
	x = n.relu(x, prefix+"relu")
	x = n.pool("MaxPool", x, prefix+"maxpool", 3, 2, 1, false)
	inplanes, dilation := int64(64), int64(1)
	for stage, count := range blocks {
		planes := int64(64) << stage
		stride := int64(1)
		if stage > 0 {
			stride = 2
		}
		prevDilation := dilation
		if dilate[stage] {
			dilation *= stride
			stride = 1
		}
		for i := range count {
			name := fmt.Sprintf("%slayer%d.%d", prefix, stage+1, i)
			s, d := int64(1), dilation
			if i == 0 {
				s, d = stride, prevDilation
			}
			x = bottleneck(n, x, name, inplanes, planes, s, d)
			inplanes = planes * 4
		}
	}
	return x
}

// bottleneck is torchvision's Bottleneck: 1x1, 3x3 (stride, dilation), 1x1
// with expansion 4, and a 1x1 projection shortcut when the shape changes.
func bottleneck(n *net, x, name string, inplanes, planes, stride, dilation int64) string {
	identity := x
	y := n.conv(x, name+".conv1", convSpec{cout: planes, k: 1})
	y = n.bn(y, name+".bn1", 1e-5, 1)
	y = n.relu(y, name+".relu1")
	y = n.conv(y, name+".conv2", convSpec{cout: planes, k: 3, s: stride, p: dilation, d: dilation})
	y = n.bn(y, name+".bn2", 1e-5, 1)
	y = n.relu(y, name+".relu2")
	y = n.conv(y, name+".conv3", convSpec{cout: planes * 4, k: 1})
	y = n.bn(y, name+".bn3", 1e-5, residualGamma)
	if stride != 1 || inplanes != planes*4 {
		identity = n.conv(x, name+".downsample.0", convSpec{cout: planes * 4, k: 1, s: stride})
		identity = n.bn(identity, name+".downsample.1", 1e-5, 1)
	}
	y = n.add(y, identity, name+".add")
	return n.relu(y, name+".relu3")
}
