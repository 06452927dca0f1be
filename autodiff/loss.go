package autodiff

import (
	"errors"
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// ErrOutputNotFloat: the model's first output is not floating point, so no
// loss of any kind can be put on it.
var ErrOutputNotFloat = errors.New("not floating point; no loss")

// UnsupportedOpError is a node autodiff cannot differentiate: an op of a
// domain other than ONNX's (NotStandard), or one a gradient must flow
// through that has no gradient rule here.
type UnsupportedOpError struct {
	Op, Domain  string // the op type and its domain ("" for ONNX's)
	Node        string // the node's name (or, unnamed, its position)
	NotStandard bool
}

func (e *UnsupportedOpError) Error() string {
	if e.NotStandard {
		return fmt.Sprintf("autodiff: node %s: op %s:%s is not a standard ONNX op", e.Node, e.Domain, e.Op)
	}
	return fmt.Sprintf("autodiff: no gradient rule for op %s (node %s)", e.Op, e.Node)
}

// addLoss appends the loss nodes (logical forward nodes) on the model's first
// output and declares the inputs the loss needs.
func (b *builder) addLoss(opt Options) error {
	y := b.src.Proto.Graph.Output[0].GetName()
	dims, err := b.shape(y)
	if err != nil {
		return fmt.Errorf("autodiff: loss on output %q: %w", y, err)
	}
	elem := b.elem(y)
	if !isFloat(elem) {
		return fmt.Errorf("autodiff: output %q is %v, %w", y, elem, ErrOutputNotFloat)
	}
	if elem == onnxpb.TensorProto_BFLOAT16 {
		// The loss ops (OneHot, SoftmaxCrossEntropyLoss) take no bfloat16:
		// the loss is computed on the output cast to float.
		t := b.fval("loss/as_float", onnxpb.TensorProto_FLOAT, dims)
		b.fwd = append(b.fwd, b.fnode("Cast", "loss/as_float", []string{y}, []string{t}, build.AttrInt("to", int64(onnxpb.TensorProto_FLOAT))))
		y, elem = t, onnxpb.TensorProto_FLOAT
	}
	if opt.Loss == "" {
		opt.Loss = "cross-entropy"
		if len(dims) < 2 || dims[1] < 2 {
			opt.Loss = "mse"
		}
	}
	b.lossKind = opt.Loss
	lossName := b.fresh(LossName)
	b.loss = lossName
	b.setShape(lossName, elem, []int64{})
	switch opt.Loss {
	case "cross-entropy":
		if len(dims) < 2 {
			return fmt.Errorf("autodiff: cross-entropy needs an output of rank >= 2 ([N, C, ...]); %q has shape %v (try --loss mse or sum)", y, dims)
		}
		axis, err := classAxis(b.src.Proto, opt.ClassAxis, len(dims))
		if err != nil {
			return err
		}
		labelsIn := ""
		if b.used[opt.Labels] {
			return fmt.Errorf("autodiff: labels input %q clashes with a name in the model (choose another with --labels)", opt.Labels)
		}
		if axis == len(dims)-1 && len(dims) > 2 {
			// Classes last (a language model's [N, seq, vocab]): flatten to
			// [N·seq, vocab] and the labels to [N·seq] — the same mean
			// loss, and a Reshape (which runtimes alias) instead of a
			// transposed copy of the logits, in the forward and in the
			// gradient.
			ldims := dims[:len(dims)-1]
			rows := numel(ldims)
			t := b.fval("loss/rows", elem, []int64{rows, dims[axis]})
			rn := b.fnode("Reshape", "loss/rows", []string{y, ""}, []string{t})
			rn.Input[1] = b.fwdConst(rn, "shape", []int64{rows, dims[axis]})
			b.fwd = append(b.fwd, rn)
			b.used[opt.Labels] = true
			b.g.Input = append(b.g.Input, build.ValueInfo(opt.Labels, onnxpb.TensorProto_INT64, ldims))
			b.setShape(opt.Labels, onnxpb.TensorProto_INT64, ldims)
			labelsIn = b.fval("loss/labels_rows", onnxpb.TensorProto_INT64, []int64{rows})
			ln := b.fnode("Reshape", "loss/labels_rows", []string{opt.Labels, ""}, []string{labelsIn})
			ln.Input[1] = b.fwdConst(ln, "shape", []int64{rows})
			b.fwd = append(b.fwd, ln)
			y, dims = t, []int64{rows, dims[axis]}
		} else if axis != 1 {
			// Move the classes to axis 1, where SoftmaxCrossEntropyLoss wants them.
			perm := []int64{0, int64(axis)}
			for i := 1; i < len(dims); i++ {
				if i != axis {
					perm = append(perm, int64(i))
				}
			}
			tdims := make([]int64, len(dims))
			for i, p := range perm {
				tdims[i] = dims[p]
			}
			t := b.fval("loss/classes_first", elem, tdims)
			b.fwd = append(b.fwd, b.fnode("Transpose", "loss/classes_first", []string{y}, []string{t}, build.AttrInts("perm", perm...)))
			y, dims = t, tdims
		}
		b.labels = opt.Labels
		if labelsIn == "" {
			b.used[opt.Labels] = true
			ldims := append([]int64{dims[0]}, dims[2:]...)
			b.g.Input = append(b.g.Input, build.ValueInfo(opt.Labels, onnxpb.TensorProto_INT64, ldims))
			b.setShape(opt.Labels, onnxpb.TensorProto_INT64, ldims)
			labelsIn = opt.Labels
		}
		logp := b.fval("loss/log_prob", elem, dims)
		n := b.fnode("SoftmaxCrossEntropyLoss", "loss/cross_entropy", []string{y, labelsIn}, []string{lossName, logp}, build.AttrString("reduction", "mean"))
		b.fwd = append(b.fwd, n)
	case "mse":
		if b.used["target"] {
			return fmt.Errorf("autodiff: mse target input %q clashes with a name in the model", "target")
		}
		b.used["target"] = true
		b.labels = "target"
		b.g.Input = append(b.g.Input, build.ValueInfo("target", elem, dims))
		b.setShape("target", elem, dims)
		d := b.fval("loss/diff", elem, dims)
		sq := b.fval("loss/squared", elem, dims)
		b.fwd = append(b.fwd,
			b.fnode("Sub", "loss/diff", []string{y, "target"}, []string{d}),
			b.fnode("Mul", "loss/square", []string{d, d}, []string{sq}),
			b.fnode("ReduceMean", "loss/mean", []string{sq}, []string{lossName}, build.AttrInt("keepdims", 0)))
	case "sum":
		b.fwd = append(b.fwd, b.fnode("ReduceSum", "loss/sum", []string{y}, []string{lossName}, build.AttrInt("keepdims", 0)))
	default:
		return fmt.Errorf("autodiff: unknown loss %q (want cross-entropy, mse or sum)", opt.Loss)
	}
	return nil
}

// gradSCE: d logits = (softmax - onehot(labels)) · s, s = dloss / count
// (mean) or dloss (sum), with softmax = exp(log_prob) (the op's second
// output), so the backward reads log_prob and the labels, never the logits.
// Written as softmax·s with −s added at the labels' positions
// (ScatterElements, reduction add): two tensors of the logits' size at
// once, never three (no one-hot tensor; GPT-2's logits are 1.5 GiB at
// batch 8).
func gradSCE(b *builder, n *onnxpb.NodeProto, dy []string) error {
	if err := lossSupported(n); err != nil {
		return err
	}
	if dy[0] == "" {
		return nil
	}
	x, labels := n.Input[0], n.Input[1]
	dims, err := b.shape(x)
	if err != nil {
		return err
	}
	ld, err := b.shape(labels)
	if err != nil {
		return err
	}
	logp := input2(n.Output, 1)
	if logp == "" {
		return fmt.Errorf("log_prob output missing")
	}
	scale, err := lossScale(n, dims)
	if err != nil {
		return err
	}
	s := b.scale("dloss_scaled", dy[0], scale)
	ps := b.mul("softmax_scaled", b.unary("Exp", "softmax", logp), s)
	// The labels as indices along the class axis: [N, 1, d…].
	id := append([]int64{ld[0], 1}, ld[1:]...)
	idx := b.reshape("labels_at_class", labels, id)
	minus := b.op("Expand", "minus_s", []string{b.unary("Neg", "neg_s", s), b.constI64(id...)})
	b.setShape(minus, b.elem(x), id)
	g := b.op("ScatterElements", "dlogits", []string{ps, idx, minus}, build.AttrInt("axis", 1), build.AttrString("reduction", "add"))
	b.setShape(g, b.elem(x), dims)
	b.addGrad(x, g)
	return nil
}

func input2(v []string, i int) string {
	if i < len(v) {
		return v[i]
	}
	return ""
}

// lossSupported refuses the loss options (SoftmaxCrossEntropyLoss,
// NegativeLogLikelihoodLoss) whose gradients are not written here: class
// weights and ignore_index.
func lossSupported(n *onnxpb.NodeProto) error {
	if len(n.Input) > 2 && n.Input[2] != "" {
		return fmt.Errorf("class weights are not supported")
	}
	if attrsOf(n)["ignore_index"] != nil {
		return fmt.Errorf("ignore_index is not supported")
	}
	return nil
}

// lossScale is dloss's factor in the gradient of a loss over an input of
// the given dims (classes on axis 1): 1/count of the reduced elements for
// reduction mean, 1 for sum.
func lossScale(n *onnxpb.NodeProto, dims []int64) (float64, error) {
	switch r := attrsOf(n).str("reduction", "mean"); r {
	case "mean":
		if numel(dims) == 0 {
			return 0, fmt.Errorf("the loss input is empty (shape %v)", dims)
		}
		return 1 / float64(numel(dims)/dims[1]), nil
	case "sum":
		return 1, nil
	default:
		return 0, fmt.Errorf("reduction %q is not supported", r)
	}
}

// gradNLL (NegativeLogLikelihoodLoss, no weights, no ignore_index):
// dX = −onehot(target)·dloss/count (mean) or −onehot·dloss (sum).
func gradNLL(b *builder, n *onnxpb.NodeProto, dy []string) error {
	if err := lossSupported(n); err != nil {
		return err
	}
	x, target := n.Input[0], n.Input[1]
	dims, err := b.shape(x)
	if err != nil {
		return err
	}
	elem := b.elem(x)
	onehot := b.op("OneHot", "onehot", []string{target, b.constI64(dims[1]), b.constTensor("off_on", elem, []int64{2}, []float64{0, -1})}, build.AttrInt("axis", 1))
	b.setShape(onehot, elem, dims)
	scale, err := lossScale(n, dims)
	if err != nil {
		return err
	}
	b.addGrad(x, b.mul("dX", onehot, b.scale("dloss_scaled", dy[0], scale)))
	return nil
}

// classAxis resolves Options.ClassAxis (0: the model's ClassAxisKey
// metadata, else 1) to a non-negative axis of an output of the given rank.
func classAxis(m *onnxpb.ModelProto, axis, rank int) (int, error) {
	if axis == 0 {
		axis = 1
		for _, kv := range m.GetMetadataProps() {
			if kv.GetKey() != ClassAxisKey {
				continue
			}
			if _, err := fmt.Sscan(kv.GetValue(), &axis); err != nil || axis == 0 {
				return 0, fmt.Errorf("autodiff: metadata %s=%q is not a class axis", ClassAxisKey, kv.GetValue())
			}
		}
	}
	if axis < 0 {
		axis += rank
	}
	if axis < 1 || axis >= rank {
		return 0, fmt.Errorf("autodiff: class axis %d is out of range for an output of rank %d (axis 0 is the batch)", axis, rank)
	}
	return axis, nil
}
