package ops

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Convolutions: Conv, ConvInteger, ConvTranspose and ORT's ConvGrad.

func init() {
	register(
		Rule{Type: "Conv", Infer: inferConv, FLOPs: convFLOPs, Recompute: always, Workspace: convWorkspace},
		Rule{Type: "ConvInteger", Infer: inferConv, FLOPs: convFLOPs, Recompute: always},
		Rule{Type: "ConvTranspose", Infer: inferConvTranspose, FLOPs: convTransposeFLOPs, Recompute: always, Workspace: convTransposeWorkspace},
		Rule{Domain: "com.microsoft", Type: "ConvGrad", Infer: inferConvGrad, FLOPs: convGradFLOPs, Recompute: always},
	)
}

// window holds the spatial attributes shared by Conv and the pools.
type window struct {
	kernel, strides, dilations, pads []int64
	autoPad                          string
	ceil                             bool
}

// readWindow reads kernel_shape (or takes kernel), strides, dilations, pads
// and auto_pad for nsp spatial dims.
func readWindow(n *onnxpb.NodeProto, nsp int, kernel []int64) (window, error) {
	w := window{autoPad: attrString(n, "auto_pad", "NOTSET"), ceil: attrInt(n, "ceil_mode", 0) != 0}
	if ks, ok := attrInts(n, "kernel_shape"); ok {
		kernel = ks
	}
	if len(kernel) != nsp {
		return w, fmt.Errorf("kernel_shape %v does not match %d spatial dims", kernel, nsp)
	}
	w.kernel = kernel
	w.strides = ones(nsp)
	if s, ok := attrInts(n, "strides"); ok && len(s) == nsp {
		w.strides = s
	}
	w.dilations = ones(nsp)
	if d, ok := attrInts(n, "dilations"); ok && len(d) == nsp {
		w.dilations = d
	}
	w.pads = make([]int64, 2*nsp)
	if p, ok := attrInts(n, "pads"); ok && len(p) == 2*nsp {
		w.pads = p
	}
	return w, nil
}

func ones(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// out computes the output length of spatial dim i for input length in.
func (w window) out(i int, in int64) int64 {
	if in < 0 || w.kernel[i] < 0 {
		return -1
	}
	s := w.strides[i]
	if s <= 0 {
		return -1
	}
	ek := (w.kernel[i]-1)*w.dilations[i] + 1
	switch w.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		return ceilDiv(in, s)
	case "VALID":
		return (in-ek)/s + 1
	}
	span := in + w.pads[i] + w.pads[i+len(w.kernel)] - ek
	if w.ceil {
		o := ceilDiv(span, s) + 1
		// The last window must start inside the (left-padded) input.
		if (o-1)*s >= in+w.pads[i] {
			o--
		}
		return o
	}
	return span/s + 1
}

func inferConv(c *Ctx) error {
	x, wt := c.in(0), c.in(1)
	rank := x.Rank
	if rank < 0 {
		rank = wt.Rank
	}
	elem := x.Elem
	if c.N.GetOpType() == "ConvInteger" {
		elem = onnxpb.TensorProto_INT32
	}
	if rank < 0 {
		c.set(0, Tensor{Elem: elem, Rank: -1})
		return nil
	}
	if rank < 3 {
		return fmt.Errorf("Conv input rank %d < 3", rank)
	}
	nsp := rank - 2
	var kernel []int64
	if wt.Rank == rank {
		kernel = wt.Dims[2:]
	} else {
		kernel = make([]int64, nsp)
		for i := range kernel {
			kernel[i] = -1
		}
	}
	w, err := readWindow(c.N, nsp, kernel)
	if err != nil {
		return err
	}
	out := ofRank(elem, rank)
	if x.Rank == rank {
		out.Dims[0] = x.Dims[0]
		for i := 0; i < nsp; i++ {
			out.Dims[2+i] = w.out(i, x.Dims[2+i])
		}
	}
	if wt.Rank == rank {
		out.Dims[1] = wt.Dims[0]
	}
	c.set(0, out)
	return nil
}

func prod(d []int64) float64 {
	p := 1.0
	for _, v := range d {
		if v < 0 {
			return 0
		}
		p *= float64(v)
	}
	return p
}

// convFLOPs: 2 * output elements * (input channels per group * kernel size).
func convFLOPs(_ *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(in) < 2 || len(out) == 0 || in[1].Rank < 3 {
		return 0
	}
	return 2 * elems(out[0]) * prod(in[1].Dims[1:])
}

func inferConvTranspose(c *Ctx) error {
	x, wt := c.in(0), c.in(1)
	if x.Rank < 0 {
		c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		return nil
	}
	if x.Rank < 3 {
		return fmt.Errorf("ConvTranspose input rank %d < 3", x.Rank)
	}
	rank := x.Rank
	nsp := rank - 2
	kernel := make([]int64, nsp)
	for i := range kernel {
		kernel[i] = -1
	}
	if wt.Rank == rank {
		kernel = wt.Dims[2:]
	}
	w, err := readWindow(c.N, nsp, kernel)
	if err != nil {
		return err
	}
	out := ofRank(x.Elem, rank)
	out.Dims[0] = x.Dims[0]
	if wt.Rank == rank && wt.Dims[1] >= 0 {
		out.Dims[1] = wt.Dims[1] * attrInt(c.N, "group", 1)
	}
	if os, ok := attrInts(c.N, "output_shape"); ok && len(os) >= nsp {
		copy(out.Dims[2:], os[len(os)-nsp:])
		c.set(0, out)
		return nil
	}
	outPad := make([]int64, nsp)
	if p, ok := attrInts(c.N, "output_padding"); ok && len(p) == nsp {
		outPad = p
	}
	for i := 0; i < nsp; i++ {
		in := x.Dims[2+i]
		if in < 0 {
			continue
		}
		switch w.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out.Dims[2+i] = in * w.strides[i]
		default:
			if w.kernel[i] < 0 {
				continue
			}
			ek := (w.kernel[i]-1)*w.dilations[i] + 1
			pads := w.pads[i] + w.pads[i+nsp]
			if w.autoPad == "VALID" {
				pads = 0
			}
			out.Dims[2+i] = w.strides[i]*(in-1) + outPad[i] + ek - pads
		}
	}
	c.set(0, out)
	return nil
}

// convTransposeFLOPs: 2 * input elements * (output channels per group * kernel size).
func convTransposeFLOPs(_ *onnxpb.NodeProto, in, _ []Tensor) float64 {
	if len(in) < 2 || in[1].Rank < 3 {
		return 0
	}
	return 2 * elems(in[0]) * prod(in[1].Dims[1:])
}

// inferConvGrad: inputs dY, X, W; outputs dX (X's type), dW (W's), dB ([M]).
func inferConvGrad(c *Ctx) error {
	x, wt := c.in(1), c.in(2)
	c.set(0, x)
	c.set(1, wt)
	if wt.Rank >= 1 {
		c.set(2, Tensor{Elem: wt.Elem, Dims: []int64{wt.Dims[0]}, Rank: 1})
	} else {
		c.set(2, Tensor{Elem: wt.Elem, Dims: []int64{-1}, Rank: 1})
	}
	return nil
}

// convGradFLOPs: the data and the weight gradient each cost one forward conv.
func convGradFLOPs(_ *onnxpb.NodeProto, in, _ []Tensor) float64 {
	if len(in) < 3 || in[2].Rank < 3 {
		return 0
	}
	return 4 * elems(in[0]) * prod(in[2].Dims[1:])
}
