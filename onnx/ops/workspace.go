package ops

import (
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Kernel workspace: the bytes ONNX Runtime's CPU kernel for an op allocates
// for one run besides its outputs and frees before the run ends (DESIGN.md
// "Memory semantics": part of the op's step, never of a value). Each rule's
// Workspace gives it from the op's attributes and inferred types, for the
// kernels ORT runs when it does not rewrite the graph (ORT 1.30, one intra-op
// thread; ort's TestWorkspaceMatchesORT measures single ops against it). An op
// without a Workspace function, or with unknown shapes, has none.
//
// Under ORT's default optimisation level the NCHWc layout transformer swaps
// Conv for other kernels; the table describes the ops as the file writes them.

// Workspace is the kernel workspace of one run of n in bytes, using the types
// in r (which may be nil); 0 when the rule has none or shapes are unknown.
func Workspace(n *onnxpb.NodeProto, r *Result) int64 {
	in, out := r.types(n)
	return KernelWorkspace(n, in, out)
}

// KernelWorkspace is the kernel workspace of one run of n whose inputs and
// outputs have the types in and out, in bytes; 0 when its rule has none or
// shapes are unknown. It lets a graph builder compare candidate forms of a
// computation before it adds any of them.
func KernelWorkspace(n *onnxpb.NodeProto, in, out []Tensor) int64 {
	rule := lookup(n)
	if rule == nil || rule.Workspace == nil {
		return 0
	}
	if b := rule.Workspace(n, in, out); b > 0 {
		return b
	}
	return 0
}

// mulBytes is a·b·bits/8, or 0 on overflow or a negative factor (unknown).
func mulBytes(bits int, f ...int64) int64 {
	n := int64(1)
	for _, x := range f {
		if x < 0 || (x != 0 && n > math.MaxInt64/x) {
			return 0
		}
		n *= x
	}
	if bits <= 0 || n > math.MaxInt64/int64(bits) {
		return 0
	}
	return n * int64(bits) / 8
}

// whereWorkspace: ORT's Where (numeric types) broadcasts the condition with X
// into one temporary tensor and with Y into another, then merges the two into
// the output (where_op.cc: UntypedSelect twice, UntypedMerge).
func whereWorkspace(_ *onnxpb.NodeProto, in, out []Tensor) int64 {
	if len(in) < 3 || len(out) < 1 || out[0].Elem == onnxpb.TensorProto_STRING {
		return 0
	}
	var total int64
	for _, v := range in[1:3] {
		b, err := broadcast(in[0], v)
		if err != nil {
			return 0
		}
		b.Elem = out[0].Elem
		n, ok := b.Bytes()
		if !ok {
			return 0
		}
		total += n
	}
	return total
}

// scatterWorkspace: ORT's ScatterElements (and Scatter) copies the indices,
// made non-negative, into a vector of their own type before writing.
func scatterWorkspace(n *onnxpb.NodeProto, in, _ []Tensor) int64 {
	if n.GetOpType() == "ScatterND" || len(in) < 2 {
		return 0
	}
	b, _ := in[1].Bytes()
	return b
}

// mlasConvFloatsPerThread is MLAS's working buffer per thread for a
// convolution it segments across threads (MLAS_SGEMM_STRIDEN·STRIDEK).
const mlasConvFloatsPerThread = 128 * 128

// convWorkspace: ORT's Conv (float, up to 3 spatial dims) runs MLAS, which
// needs no buffer for a pointwise convolution (kernel 1, strides 1, no
// padding); expands the whole image (im2col: output pixels × input channels
// per group × kernel size) when a group has more filters than output
// pixels; and otherwise works in fixed blocks per thread.
func convWorkspace(n *onnxpb.NodeProto, in, out []Tensor) int64 {
	if n.GetOpType() != "Conv" || len(in) < 2 || len(out) < 1 {
		return 0
	}
	x, w, y := in[0], in[1], out[0]
	bits := ElemBits(y.Elem)
	if y.Elem != onnxpb.TensorProto_FLOAT || !x.Static() || !w.Static() || !y.Static() || x.Rank < 3 || w.Rank != x.Rank || y.Rank != x.Rank {
		return 0
	}
	nsp := x.Rank - 2
	if nsp > 3 {
		return 0
	}
	win, err := readWindow(n, nsp, w.Dims[2:])
	if err != nil {
		return 0
	}
	group := attrInt(n, "group", 1)
	if group <= 0 {
		return 0
	}
	k := w.Dims[1] // input channels per group
	pointwise := true
	outSize := int64(1)
	for i := 0; i < nsp; i++ {
		k *= w.Dims[2+i]
		outSize *= y.Dims[2+i]
		if w.Dims[2+i] != 1 || win.strides[i] != 1 || win.pads[i] != 0 || win.pads[i+nsp] != 0 {
			pointwise = false
		}
	}
	if win.autoPad == "SAME_UPPER" || win.autoPad == "SAME_LOWER" {
		for i := 0; i < nsp; i++ {
			if w.Dims[2+i] != 1 {
				pointwise = false
			}
		}
	}
	if pointwise {
		return 0
	}
	if filters := w.Dims[0] / group; filters > outSize {
		return mulBytes(bits, outSize, k)
	}
	return mulBytes(bits, mlasConvFloatsPerThread)
}

// convTransposeWorkspace: ORT's ConvTranspose (float) computes one image and
// group at a time into a column buffer (output channels per group × kernel
// size × input pixels) and folds it into the output (col2im).
func convTransposeWorkspace(n *onnxpb.NodeProto, in, out []Tensor) int64 {
	if len(in) < 2 || len(out) < 1 {
		return 0
	}
	x, w := in[0], in[1]
	if out[0].Elem != onnxpb.TensorProto_FLOAT || !x.Static() || !w.Static() || x.Rank < 3 || w.Rank != x.Rank {
		return 0
	}
	group := attrInt(n, "group", 1)
	if group <= 0 {
		return 0
	}
	f := []int64{w.Dims[1]} // output channels per group
	for i := 2; i < x.Rank; i++ {
		f = append(f, w.Dims[i], x.Dims[i])
	}
	return mulBytes(ElemBits(out[0].Elem), f...)
}
