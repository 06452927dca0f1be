package models

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// pspnet is PSPNet (Zhao et al. 2017) for 21 classes (PASCAL VOC): a
// dilated ResNet-101 backbone of output stride 8 (torchvision's ResNet-101
// with replace_stride_with_dilation = [false, true, true]), a pyramid
// pooling module with bins 1, 2, 3 and 6 (adaptive average pooling: an
// AveragePool when the 90x90 feature map divides by the bin, constant
// averaging matrices otherwise; 1x1 conv to 512, BN, Relu; bilinear Resize
// back), Concat, a 3x3 conv to 512 with BN and Relu, a 1x1 classifier, and a
// final bilinear Resize to the input size. No auxiliary head, no dropout.
// Resize uses half_pixel coordinates (PyTorch's align_corners=False).
func pspnet(n *net, opt Options) {
	size := int64(opt.Size)
	x := n.input("input", onnxpb.TensorProto_FLOAT, []int64{int64(opt.Batch), 3, size, size})
	feat := resnetBackbone(n, x, "backbone.", [4]int{3, 4, 23, 3}, [4]bool{false, false, true, true})
	d := n.dims(feat)
	branches := []string{feat}
	for _, bin := range []int64{1, 2, 3, 6} {
		p := fmt.Sprintf("ppm.%d", bin)
		y := n.adaptiveAvgPool(feat, p+".pool", bin)
		y = n.conv(y, p+".conv", convSpec{cout: 512, k: 1})
		y = n.bn(y, p+".bn", 1e-5, 1)
		y = n.relu(y, p+".relu")
		y = n.resize(y, p+".up", d[2], d[3])
		branches = append(branches, y)
	}
	x = n.concat(branches, "ppm.cat", 1)
	x = n.conv(x, "head.conv", convSpec{cout: 512, k: 3, p: 1})
	x = n.bn(x, "head.bn", 1e-5, 1)
	x = n.relu(x, "head.relu")
	x = n.conv(x, "head.cls", convSpec{cout: 21, k: 1, bias: true, gain: 1})
	x = n.resize(x, "logits", size, size)
	n.output(x)
}
