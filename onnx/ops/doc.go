// Package ops is what the tool knows about each ONNX operator: shape,
// element-type and byte-size inference, a FLOPs estimate, and whether a node
// may be recomputed. It also splits a training graph into its forward and
// backward parts.
//
// It sits between package onnx (which only reads and writes models) and the
// planner (which needs bytes and costs per value and op). Each op family lives
// in one file and registers one Rule per op with every facet filled in
// (registry_test.go checks it, and that the op list is covered):
//
//	elementwise.go  unary math and activations, broadcasting binary/variadic ops, Where, Cast, Clip, Dropout
//	conv.go         Conv, ConvTranspose, ConvGrad
//	pool.go         MaxPool (+ indices), AveragePool, Global*Pool, MaxPoolGrad
//	norm.go         BatchNormalization, BatchNormInternal/Grad, LayerNormalization(+Grad), LRN, …
//	matmul.go       Gemm, MatMul, Einsum, FusedMatMul
//	shape.go        Shape, Reshape, Squeeze, Concat, Split, Slice, Expand, Pad, Resize, Constant, Range, …
//	gather.go       Gather, GatherElements/ND, Scatter*, OneHot, TopK, NonZero
//	reduce.go       Reduce*, ArgMax/ArgMin
//	softmax.go      Softmax, LogSoftmax, SoftmaxCrossEntropyLoss, NLL loss and their ORT gradients
//	training.go     ORT training ops: *Grad activations, DropoutGrad, GatherGrad, InPlaceAccumulator*, Scale
//	random.go       Random* (never recomputed)
//	control.go      If, Loop, Scan (outputs inferred from their subgraphs)
//	misc.go         CumSum, quantization, RNN/GRU/LSTM, RoiAlign, …
//	split.go        IsGradientOp, SplitTraining
//
// Inference (Infer) walks the main graph in topological order. Opset
// differences are honoured (axes as attribute or input, Clip bounds, Resize
// scales/sizes, Pad pads, Slice starts/ends). Small integer and float tensors
// (initializers, Constant, and the results of shape arithmetic: Shape,
// Gather, Concat, Unsqueeze, Slice, Cast, arithmetic, Range, Where, …) are
// folded into Result.Consts, so PyTorch-exported Reshape/Expand/Resize chains
// resolve. Symbolic dims are bound by Options.Dims (--dim NAME=N) and
// Options.Batch (--batch N: the leading dim of every non-initializer graph
// input whose leading dim is symbolic or unknown); unbound dims stay -1 and
// make the value's size unknown.
//
// Promise: Infer never fails because of an op it does not know or a shape it
// cannot work out. Such an op is listed in Result.Unknown, its outputs take
// the type recorded in the file's value_info (when there is one) or stay
// unknown (Rank -1, Bytes reports false), and inference carries on. A rule
// that finds its inputs inconsistent adds a warning instead. Our rules are
// preferred to the file's value_info; value_info only fills what a rule left
// unknown, and a contradiction is a warning. Only a model without a graph is
// an error. The package never modifies the model it is given.
//
// Recompute policy: a node may be cloned if its op has a rule, it has no
// subgraph, and its rule says it is deterministic and free of side effects:
// not Random*, not InPlaceAccumulator*/ZeroGradient, not Dropout that can
// run in training mode.
//
// The agreement with onnx.shape_inference (Debian python3-onnx) is checked
// by reference_test.go on the corpus and ~1,070 libonnx-testdata models, and
// by training_reference_test.go on autodiff training graphs of every built-in
// network.
package ops
