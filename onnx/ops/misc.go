package ops

import (
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Ops outside the main families, with simple shape rules: cumulative sums,
// quantization, recurrent layers, detection helpers. None of them is used
// by the benchmark networks; they keep real-world models from turning into
// "unknown size".

func init() {
	register(
		Rule{Type: "CumSum", Infer: inferSameAsInput0, FLOPs: perOutput(1), Recompute: always},
		Rule{Type: "ReverseSequence", Infer: inferSameAsInput0, FLOPs: zeroFLOPs, Recompute: always},
		Rule{Type: "EyeLike", Infer: inferEyeLike, FLOPs: perOutput(1), Recompute: always},
		Rule{Type: "QuantizeLinear", Infer: inferQuantize, FLOPs: perOutput(2), Recompute: always},
		Rule{Type: "DequantizeLinear", Infer: inferDequantize, FLOPs: perOutput(2), Recompute: always},
		Rule{Type: "DynamicQuantizeLinear", Infer: inferDynamicQuantize, FLOPs: perInput(4), Recompute: always},
		Rule{Type: "Det", Infer: inferDet, FLOPs: perInput(2), Recompute: always},
		Rule{Type: "NonMaxSuppression", Infer: inferNMS, FLOPs: perInput(4), Recompute: always},
		Rule{Type: "Compress", Infer: inferCompress, FLOPs: zeroFLOPs, Recompute: always},
		Rule{Type: "RoiAlign", Infer: inferRoiAlign, FLOPs: perOutput(4), Recompute: always},
		Rule{Type: "GridSample", Infer: inferGridSample, FLOPs: perOutput(4), Recompute: always},
		Rule{Type: "MaxUnpool", Infer: inferMaxUnpool, FLOPs: perInput(1), Recompute: always},
	)
	registerAs("", []string{"RNN", "GRU", "LSTM"}, Rule{Infer: inferRNN, FLOPs: rnnFLOPs, Recompute: always})
	registerAs("", []string{"HannWindow", "HammingWindow", "BlackmanWindow"}, Rule{Infer: inferWindow, FLOPs: perOutput(4), Recompute: always})
	register(
		// Quantized Conv/MatMul: Conv's and MatMul's shapes with the output
		// zero point's type. Inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp.
		Rule{Type: "QLinearConv", Infer: inferQLinear(0, 3, 7), FLOPs: qlinearConvFLOPs, Recompute: always},
		// a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp.
		Rule{Type: "QLinearMatMul", Infer: inferQLinear(0, 3, 7), FLOPs: qlinearMatMulFLOPs, Recompute: always},
	)
	// ai.onnx.preview.training optimizers: functional (new values as
	// outputs), one output per optimized tensor and state, shaped like the
	// corresponding input after R and T.
	registerAs("ai.onnx.preview.training", []string{"Adagrad", "Momentum", "Adam"},
		Rule{Infer: inferOptimizer, FLOPs: perOutput(4), Recompute: never})
}

func inferWindow(c *Ctx) error {
	elem := onnxpb.TensorProto_DataType(attrInt(c.N, "output_datatype", int64(onnxpb.TensorProto_FLOAT)))
	t := Tensor{Elem: elem, Dims: []int64{-1}, Rank: 1}
	if k := c.konst(0); k != nil && k.Len() == 1 {
		t.Dims[0] = k.Int(0)
	}
	c.set(0, t)
	return nil
}

// inferQLinear runs the float rule on inputs a and b and takes the element
// type of the output zero point (uint8 if absent).
func inferQLinear(a, b, zp int) func(*Ctx) error {
	return func(c *Ctx) error {
		sub := &Ctx{N: c.N, Opset: c.Opset, In: []Tensor{c.in(a), c.in(b)}, InC: []*Const{nil, nil},
			Out: []Tensor{unknownTensor}, OutC: []*Const{nil}, inf: c.inf}
		var err error
		if c.N.GetOpType() == "QLinearConv" {
			err = inferConv(sub)
		} else {
			err = inferMatMul(sub)
		}
		if err != nil {
			return err
		}
		elem := onnxpb.TensorProto_UINT8
		if c.has(zp) && c.in(zp).Elem != 0 {
			elem = c.in(zp).Elem
		}
		c.set(0, sub.Out[0].withElem(elem))
		return nil
	}
}

func qlinearConvFLOPs(n *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(in) < 4 {
		return 0
	}
	return convFLOPs(n, []Tensor{in[0], in[3]}, out)
}

func qlinearMatMulFLOPs(n *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(in) < 4 {
		return 0
	}
	return matmulFLOPs(n, []Tensor{in[0], in[3]}, out)
}

// inferOptimizer: inputs R, T, then n tensors X, n gradients G and (Adam)
// two or (Adagrad, Momentum) one state per tensor; outputs are the new X
// and states, each shaped like its input.
func inferOptimizer(c *Ctx) error {
	states := 1
	if c.N.GetOpType() == "Adam" {
		states = 2
	}
	rest := len(c.In) - 2
	if rest <= 0 || rest%(2+states) != 0 {
		return nil
	}
	n := rest / (2 + states)
	for i := 0; i < n; i++ {
		c.set(i, c.in(2+i))
		for s := 0; s < states; s++ {
			c.set(n+s*n+i, c.in(2+2*n+s*n+i))
		}
	}
	return nil
}

func inferEyeLike(c *Ctx) error {
	x := c.in(0)
	elem := x.Elem
	if a := attr(c.N, "dtype"); a != nil {
		elem = onnxpb.TensorProto_DataType(a.GetI())
	}
	c.set(0, x.withElem(elem))
	return nil
}

func inferQuantize(c *Ctx) error {
	elem := onnxpb.TensorProto_UINT8
	if c.has(2) && c.in(2).Elem != 0 {
		elem = c.in(2).Elem
	}
	c.set(0, c.in(0).withElem(elem))
	return nil
}

func inferDequantize(c *Ctx) error {
	elem := c.in(1).Elem // the scale's type
	if elem == 0 {
		elem = onnxpb.TensorProto_FLOAT
	}
	c.set(0, c.in(0).withElem(elem))
	return nil
}

func inferDynamicQuantize(c *Ctx) error {
	c.set(0, c.in(0).withElem(onnxpb.TensorProto_UINT8))
	c.set(1, Tensor{Elem: onnxpb.TensorProto_FLOAT, Dims: []int64{}, Rank: 0})
	c.set(2, Tensor{Elem: onnxpb.TensorProto_UINT8, Dims: []int64{}, Rank: 0})
	return nil
}

func inferDet(c *Ctx) error {
	x := c.in(0)
	if x.Rank < 2 {
		c.set(0, Tensor{Elem: x.Elem, Rank: -1})
		return nil
	}
	c.set(0, shaped(x.Elem, x.Dims[:x.Rank-2]))
	return nil
}

func inferNMS(c *Ctx) error {
	c.set(0, Tensor{Elem: onnxpb.TensorProto_INT64, Dims: []int64{-1, 3}, Rank: 2})
	return nil
}

func inferCompress(c *Ctx) error {
	x := c.in(0)
	if attr(c.N, "axis") == nil || x.Rank < 0 {
		c.set(0, ofRank(x.Elem, 1))
		return nil
	}
	axis, err := normAxis(attrInt(c.N, "axis", 0), x.Rank)
	if err != nil {
		return err
	}
	out := shaped(x.Elem, x.Dims)
	out.Dims[axis] = -1
	c.set(0, out)
	return nil
}

// inferRoiAlign: [num_rois, C, output_height, output_width].
func inferRoiAlign(c *Ctx) error {
	x, rois := c.in(0), c.in(1)
	out := ofRank(x.Elem, 4)
	if rois.Rank == 2 {
		out.Dims[0] = rois.Dims[0]
	}
	if x.Rank == 4 {
		out.Dims[1] = x.Dims[1]
	}
	out.Dims[2], out.Dims[3] = attrInt(c.N, "output_height", 1), attrInt(c.N, "output_width", 1)
	c.set(0, out)
	return nil
}

// inferGridSample: [N, C, H_out, W_out] from X's N, C and the grid's H, W.
func inferGridSample(c *Ctx) error {
	x, grid := c.in(0), c.in(1)
	if x.Rank < 0 {
		c.set(0, x)
		return nil
	}
	out := ofRank(x.Elem, x.Rank)
	out.Dims[0], out.Dims[1] = x.Dims[0], x.Dims[1]
	if grid.Rank == x.Rank {
		copy(out.Dims[2:], grid.Dims[1:grid.Rank-1])
	}
	c.set(0, out)
	return nil
}

func inferMaxUnpool(c *Ctx) error {
	x := c.in(0)
	if c.has(2) {
		if shape, ok := c.ints(2); ok {
			c.set(0, shaped(x.Elem, shape))
		} else {
			c.set(0, ofRank(x.Elem, x.Rank))
		}
		return nil
	}
	if x.Rank < 3 {
		c.set(0, ofRank(x.Elem, x.Rank))
		return nil
	}
	w, err := readWindow(c.N, x.Rank-2, nil)
	if err != nil {
		return err
	}
	out := shaped(x.Elem, x.Dims)
	for i := 0; i < x.Rank-2; i++ {
		if d := x.Dims[2+i]; d >= 0 {
			out.Dims[2+i] = (d-1)*w.strides[i] + w.kernel[i] - w.pads[i] - w.pads[i+x.Rank-2]
		}
	}
	c.set(0, out)
	return nil
}

// inferRNN: X is [seq, batch, input] (layout 0) or [batch, seq, input]
// (layout 1); Y is [seq, dirs, batch, hidden] (or [batch, seq, dirs,
// hidden]); Y_h and Y_c are [dirs, batch, hidden] (or [batch, dirs, hidden]).
func inferRNN(c *Ctx) error {
	x := c.in(0)
	h := attrInt(c.N, "hidden_size", -1)
	dirs := int64(1)
	if attrString(c.N, "direction", "forward") == "bidirectional" {
		dirs = 2
	}
	seq, batch := int64(-1), int64(-1)
	layout := attrInt(c.N, "layout", 0)
	if x.Rank == 3 {
		seq, batch = x.Dims[0], x.Dims[1]
		if layout != 0 {
			seq, batch = batch, seq
		}
	}
	if layout == 0 {
		c.set(0, Tensor{Elem: x.Elem, Dims: []int64{seq, dirs, batch, h}, Rank: 4})
		for i := 1; i < len(c.Out); i++ {
			c.set(i, Tensor{Elem: x.Elem, Dims: []int64{dirs, batch, h}, Rank: 3})
		}
	} else {
		c.set(0, Tensor{Elem: x.Elem, Dims: []int64{batch, seq, dirs, h}, Rank: 4})
		for i := 1; i < len(c.Out); i++ {
			c.set(i, Tensor{Elem: x.Elem, Dims: []int64{batch, dirs, h}, Rank: 3})
		}
	}
	return nil
}

// rnnFLOPs: per step and direction, gates x (input + hidden) x hidden
// multiply-adds.
func rnnFLOPs(n *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(in) < 3 || len(out) == 0 || in[1].Rank != 3 || in[2].Rank != 3 {
		return 0
	}
	// W is [dirs, gates*hidden, input], R is [dirs, gates*hidden, hidden].
	x := in[0]
	if x.Rank != 3 {
		return 0
	}
	steps := elems(x) / float64(max(1, x.Dims[2]))
	return 2 * steps * (prod(in[1].Dims) + prod(in[2].Dims))
}
