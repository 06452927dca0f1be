// Package ortartifact builds ResNet training graphs in the form ONNX
// Runtime's training tooling writes them (training_model.onnx): forward ops
// with BatchNormInternal, com.microsoft gradient ops (ConvGrad, ReluGrad,
// BatchNormalizationGrad, SoftmaxCrossEntropyLossGrad), MaxPoolGrad in the
// default domain, parameters and gradient accumulation buffers as graph
// inputs and InPlaceAccumulatorV2 per parameter. Tests and benchmarks use it
// to rewrite and verify artifacts of the CNN class on ORT's training kernels
// where no artifact from ORT's own tooling is at hand.
//
// Promise: the graph holds only ops ORT's training build runs, in a
// topological order (forward, then backward in reverse); its outputs are
// the loss and each accumulator's output, as in ORT's artifacts. Nothing is
// random: the caller feeds parameters.
package ortartifact

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Config sizes the network.
type Config struct {
	Batch, Size, Classes int64
	Blocks               []int // basic blocks per stage; ResNet-18: 2 2 2 2
}

// ResNet18 is ResNet-18's layout at the given batch and input size.
func ResNet18(batch, size int64) Config {
	return Config{Batch: batch, Size: size, Classes: 1000, Blocks: []int{2, 2, 2, 2}}
}

type builder struct {
	b      *build.Graph
	shape  map[string][]int64
	params []string
	// back holds the backward steps, run in reverse.
	back  []func()
	grads map[string][]string // value -> gradient contributions
	n     int
}

const f32 = onnxpb.TensorProto_FLOAT

func (t *builder) name(s string) string { t.n++; return fmt.Sprintf("%s_%d", s, t.n) }

func (t *builder) param(name string, dims []int64) string {
	t.b.Input(name, f32, dims)
	t.shape[name] = dims
	return name
}

func (t *builder) trainable(name string, dims []int64) string {
	t.params = append(t.params, name)
	return t.param(name, dims)
}

// addGrad records a gradient contribution to v.
func (t *builder) addGrad(v, g string) { t.grads[v] = append(t.grads[v], g) }

// grad returns v's gradient, summing its contributions.
func (t *builder) grad(v string) string {
	gs := t.grads[v]
	switch len(gs) {
	case 0:
		return ""
	case 1:
		return gs[0]
	}
	out := v + "_grad"
	t.b.Node("Sum", "AccumulateGrad_"+v, gs, []string{out})
	t.grads[v] = []string{out}
	return out
}

func ints(name string, v ...int64) *onnxpb.AttributeProto { return build.AttrInts(name, v...) }

// conv: Conv without bias, its ConvGrad.
func (t *builder) conv(x, prefix string, cout, k, stride, pad int64) string {
	xs := t.shape[x]
	w := t.trainable(prefix+".weight", []int64{cout, xs[1], k, k})
	y := prefix + "_out"
	attrs := []*onnxpb.AttributeProto{ints("kernel_shape", k, k), ints("strides", stride, stride), ints("pads", pad, pad, pad, pad), ints("dilations", 1, 1), build.AttrInt("group", 1)}
	t.b.Node("Conv", prefix, []string{x, w}, []string{y}, attrs...)
	ho := (xs[2]+2*pad-k)/stride + 1
	t.shape[y] = []int64{xs[0], cout, ho, ho}
	t.back = append(t.back, func() {
		dy := t.grad(y)
		dx := ""
		if _, fed := t.grads[x]; fed || x != "input" {
			dx = x + "_grad_" + prefix
		}
		n := t.b.Node("ConvGrad", prefix+"_Grad/ConvGrad_0", []string{dy, x, w}, []string{dx, w + "_grad", ""}, attrs...)
		n.Domain = proto.String("com.microsoft")
		if dx != "" {
			t.addGrad(x, dx)
		}
	})
	return y
}

// bn: BatchNormInternal (training mode), its BatchNormalizationGrad.
func (t *builder) bn(x, prefix string) string {
	c := t.shape[x][1]
	scale := t.trainable(prefix+".weight", []int64{c})
	bias := t.trainable(prefix+".bias", []int64{c})
	mean := t.param(prefix+".running_mean", []int64{c})
	vr := t.param(prefix+".running_var", []int64{c})
	y := prefix + "_out"
	sm, sv := prefix+"_saved_mean", prefix+"_saved_inv_std"
	n := t.b.Node("BatchNormInternal", prefix, []string{x, scale, bias, mean, vr},
		[]string{y, prefix + "_running_mean_out", prefix + "_running_var_out", sm, sv},
		build.AttrFloat("epsilon", 1e-5), build.AttrFloat("momentum", 0.9), build.AttrInt("training_mode", 1))
	n.Domain = proto.String("com.microsoft")
	t.shape[y] = t.shape[x]
	t.back = append(t.back, func() {
		dy := t.grad(y)
		dx := x + "_grad_" + prefix
		g := t.b.Node("BatchNormalizationGrad", prefix+"_Grad/BatchNormalizationGrad_0", []string{dy, x, scale, sm, sv},
			[]string{dx, scale + "_grad", bias + "_grad"}, build.AttrFloat("epsilon", 1e-5))
		g.Domain = proto.String("com.microsoft")
		t.addGrad(x, dx)
	})
	return y
}

func (t *builder) relu(x, prefix string) string {
	y := prefix + "_out"
	t.b.Node("Relu", prefix, []string{x}, []string{y})
	t.shape[y] = t.shape[x]
	t.back = append(t.back, func() {
		dx := x + "_grad_" + prefix
		n := t.b.Node("ReluGrad", prefix+"_Grad/ReluGrad_0", []string{t.grad(y), x}, []string{dx})
		n.Domain = proto.String("com.microsoft")
		t.addGrad(x, dx)
	})
	return y
}

func (t *builder) maxpool(x, prefix string) string {
	xs := t.shape[x]
	y, idx := prefix+"_out", prefix+"_out_mask"
	attrs := []*onnxpb.AttributeProto{ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1), ints("dilations", 1, 1),
		build.AttrInt("ceil_mode", 0), build.AttrInt("storage_order", 0)}
	t.b.Node("MaxPool", prefix, []string{x}, []string{y, idx}, attrs...)
	ho := (xs[2]+2-3)/2 + 1
	t.shape[y] = []int64{xs[0], xs[1], ho, ho}
	t.back = append(t.back, func() {
		dx := x + "_grad_" + prefix
		t.b.Node("MaxPoolGrad", prefix+"_Grad/MaxPoolGrad_0", []string{t.grad(y), idx}, []string{dx}, attrs...)
		// ORT's MaxPoolGrad schema infers no output type; its artifacts
		// declare it (without the declaration session creation aborts).
		t.b.G.ValueInfo = append(t.b.G.ValueInfo, build.ValueInfo(dx, f32, xs))
		t.addGrad(x, dx)
	})
	return y
}

func (t *builder) add(a, c, prefix string) string {
	y := prefix + "_out"
	t.b.Node("Add", prefix, []string{a, c}, []string{y})
	t.shape[y] = t.shape[a]
	t.back = append(t.back, func() {
		dy := t.grad(y)
		t.addGrad(a, dy)
		t.addGrad(c, dy)
	})
	return y
}

// block is a basic block: two 3x3 convs and a shortcut.
func (t *builder) block(x, prefix string, cout, stride int64) string {
	h := t.relu(t.bn(t.conv(x, prefix+".conv1", cout, 3, stride, 1), prefix+".bn1"), prefix+".relu1")
	h = t.bn(t.conv(h, prefix+".conv2", cout, 3, 1, 1), prefix+".bn2")
	sc := x
	if stride != 1 || t.shape[x][1] != cout {
		sc = t.bn(t.conv(x, prefix+".downsample.0", cout, 1, stride, 0), prefix+".downsample.1")
	}
	return t.relu(t.add(h, sc, prefix+".add"), prefix+".relu2")
}

// head: GlobalAveragePool, Flatten, Gemm, SoftmaxCrossEntropyLoss.
func (t *builder) head(x string, classes int64) {
	xs := t.shape[x]
	n, c := xs[0], xs[1]
	p := "avgpool_out"
	t.b.Node("GlobalAveragePool", "avgpool", []string{x}, []string{p})
	f := "flatten_out"
	t.b.Node("Flatten", "flatten", []string{p}, []string{f}, build.AttrInt("axis", 1))
	w := t.trainable("fc.weight", []int64{classes, c})
	bias := t.trainable("fc.bias", []int64{classes})
	logits := "logits"
	t.b.Node("Gemm", "fc", []string{f, w, bias}, []string{logits}, build.AttrInt("transB", 1))
	t.b.Input("labels", onnxpb.TensorProto_INT64, []int64{n})
	t.b.Node("SoftmaxCrossEntropyLoss", "loss", []string{logits, "labels"}, []string{"loss", "log_prob"}, build.AttrString("reduction", "mean"))
	t.b.Output("loss", f32, []int64{})
	// Backward of the head, then of the body in reverse.
	t.b.Initializer(build.Float32s("loss_grad", []int64{}, []float32{1}))
	sg := t.b.Node("SoftmaxCrossEntropyLossGrad", "loss_Grad/SoftmaxCrossEntropyLossGrad_0", []string{"loss_grad", "log_prob", "labels"}, []string{"logits_grad"},
		build.AttrString("reduction", "mean"))
	sg.Domain = proto.String("com.microsoft")
	t.b.Node("Gemm", "fc_Grad/Gemm_0", []string{"logits_grad", w}, []string{"flatten_out_grad"}, build.AttrFloat("beta", 0))
	t.b.Node("Gemm", "fc_Grad/Gemm_1", []string{"logits_grad", f}, []string{w + "_grad"}, build.AttrInt("transA", 1), build.AttrFloat("beta", 0))
	t.b.Initializer(build.Int64s("fc_Grad/axes", []int64{1}, []int64{0}))
	t.b.Node("ReduceSum", "fc_Grad/ReduceSum_2", []string{"logits_grad", "fc_Grad/axes"}, []string{bias + "_grad"}, build.AttrInt("keepdims", 0))
	t.b.Initializer(build.Int64s("flatten_Grad/shape", []int64{4}, []int64{n, c, 1, 1}))
	t.b.Node("Reshape", "flatten_Grad/Reshape_0", []string{"flatten_out_grad", "flatten_Grad/shape"}, []string{"avgpool_out_grad"})
	hw := xs[2] * xs[3]
	t.b.Initializer(build.Float32s("avgpool_Grad/scale", []int64{}, []float32{1 / float32(hw)}))
	t.b.Node("Mul", "avgpool_Grad/Mul_0", []string{"avgpool_out_grad", "avgpool_Grad/scale"}, []string{"avgpool_Grad/scaled"})
	t.b.Initializer(build.Int64s("avgpool_Grad/shape", []int64{4}, xs))
	t.b.Node("Expand", "avgpool_Grad/Expand_1", []string{"avgpool_Grad/scaled", "avgpool_Grad/shape"}, []string{x + "_grad_avgpool"})
	t.addGrad(x, x+"_grad_avgpool")
}

// ResNet returns the training graph of cfg (opset 17, com.microsoft 1).
func ResNet(cfg Config) *onnxpb.ModelProto {
	t := &builder{b: build.New("resnet_training"), shape: map[string][]int64{}, grads: map[string][]string{}}
	t.b.Input("input", f32, []int64{cfg.Batch, 3, cfg.Size, cfg.Size})
	t.shape["input"] = []int64{cfg.Batch, 3, cfg.Size, cfg.Size}
	x := t.maxpool(t.relu(t.bn(t.conv("input", "conv1", 64, 7, 2, 3), "bn1"), "relu"), "maxpool")
	ch := int64(64)
	for s, nb := range cfg.Blocks {
		for i := 0; i < nb; i++ {
			stride := int64(1)
			if s > 0 && i == 0 {
				stride = 2
			}
			x = t.block(x, fmt.Sprintf("layer%d.%d", s+1, i), ch, stride)
		}
		ch *= 2
	}
	t.head(x, cfg.Classes)
	for i := len(t.back) - 1; i >= 0; i-- {
		t.back[i]()
	}
	// Accumulate every parameter's gradient (ORT's artifacts).
	t.b.Input("lazy_reset_grad", onnxpb.TensorProto_BOOL, []int64{1})
	for _, p := range t.params {
		buf := p + "_grad.accumulation.buffer"
		t.b.Input(buf, f32, t.shape[p])
		out := p + "_grad.accumulation.out"
		n := t.b.Node("InPlaceAccumulatorV2", "GradientAccumulator_"+p, []string{buf, p + "_grad", "lazy_reset_grad"}, []string{out})
		n.Domain = proto.String("com.microsoft")
		t.b.Output(out, onnxpb.TensorProto_BOOL, []int64{1})
	}
	return build.Model(t.b.G, 17, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)})
}
