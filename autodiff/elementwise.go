package autodiff

import (
	"fmt"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Elementwise arithmetic with numpy broadcasting: each operand's gradient is
// summed over the axes it was broadcast along (ReduceSum) and reshaped back.

func noGrad(b *builder, n *onnxpb.NodeProto, dy []string) error { return nil }

// operand adds g (shaped like the output) as the gradient of input v.
func (b *builder) operand(name, v, g string) error {
	if !b.needs[v] {
		return nil
	}
	dims, err := b.shape(v)
	if err != nil {
		return err
	}
	if _, err := b.shape(g); err != nil {
		return err
	}
	b.addGrad(v, b.unbroadcast(name, g, dims))
	return nil
}

func gradAdd(b *builder, n *onnxpb.NodeProto, dy []string) error {
	if err := b.operand("dA", n.Input[0], dy[0]); err != nil {
		return err
	}
	return b.operand("dB", n.Input[1], dy[0])
}

func gradSub(b *builder, n *onnxpb.NodeProto, dy []string) error {
	if err := b.operand("dA", n.Input[0], dy[0]); err != nil {
		return err
	}
	if b.needs[n.Input[1]] {
		return b.operand("dB", n.Input[1], b.unary("Neg", "neg", dy[0]))
	}
	return nil
}

func gradMul(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, y := n.Input[0], n.Input[1]
	if b.needs[x] {
		if err := b.operand("dA", x, b.mul("dA_full", dy[0], y)); err != nil {
			return err
		}
	}
	if b.needs[y] {
		if err := b.operand("dB", y, b.mul("dB_full", dy[0], x)); err != nil {
			return err
		}
	}
	return nil
}

// gradDiv: dA = dy / B; dB = -dy * A / B² = -(dy * out) / B.
func gradDiv(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, y := n.Input[0], n.Input[1]
	if b.needs[x] {
		if err := b.operand("dA", x, b.div("dA_full", dy[0], y)); err != nil {
			return err
		}
	}
	if b.needs[y] {
		t := b.div("dy_over_B", b.mul("dy_out", dy[0], n.Output[0]), y)
		if err := b.operand("dB", y, b.unary("Neg", "dB_full", t)); err != nil {
			return err
		}
	}
	return nil
}

func gradSum(b *builder, n *onnxpb.NodeProto, dy []string) error {
	for i, in := range n.Input {
		if err := b.operand(fmt.Sprintf("d%d", i), in, dy[0]); err != nil {
			return err
		}
	}
	return nil
}

// gradMean: each input gets dY/k (summed over its broadcast axes).
func gradMean(b *builder, n *onnxpb.NodeProto, dy []string) error {
	g := b.scale("dY_over_k", dy[0], 1/float64(len(n.Input)))
	for i, in := range n.Input {
		if err := b.operand(fmt.Sprintf("d%d", i), in, g); err != nil {
			return err
		}
	}
	return nil
}

// gradPow: dA = dy * B * A^(B-1); dB = dy * out * ln(A).
func gradPow(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, y := n.Input[0], n.Input[1]
	if b.needs[x] {
		var d string
		if e, ok := b.constFloat(y); ok {
			switch e {
			case 1:
				d = dy[0]
			case 2:
				d = b.mul("dA_full", dy[0], b.scale("two_x", x, 2))
			default:
				pw := b.bin("Pow", "pow", x, b.constScalar(e-1, b.elem(x)))
				d = b.mul("dA_full", dy[0], b.scale("e_pow", pw, e))
			}
		} else {
			yx := y // the exponent in x's type (ONNX Pow allows e.g. an int64 one)
			if b.elem(y) != b.elem(x) {
				yx = b.unary("Cast", "exponent", y, build.AttrInt("to", int64(b.elem(x))))
				b.setShape(yx, b.elem(x), b.shapes[y].dims)
			}
			ym1 := b.sub("exp_minus_1", yx, b.constScalar(1, b.elem(x)))
			pw := b.bin("Pow", "pow", x, ym1)
			d = b.mul("dA_full", dy[0], b.mul("e_pow", pw, yx))
		}
		if err := b.operand("dA", x, d); err != nil {
			return err
		}
	}
	if b.needs[y] {
		d := b.mul("dB_full", b.mul("dy_out", dy[0], n.Output[0]), b.unary("Log", "log_base", x))
		if err := b.operand("dB", y, d); err != nil {
			return err
		}
	}
	return nil
}

// constFloat reads a float scalar constant.
func (b *builder) constFloat(v string) (float64, bool) {
	t := b.inits[v]
	if t == nil {
		t = b.consts[v]
	}
	if t == nil || numel(t.Dims) != 1 {
		return 0, false
	}
	f, err := floatsOf(t)
	if err != nil || len(f) != 1 {
		return 0, false
	}
	return f[0], true
}

// gradWhere: dX = Where(c, dy, 0), dY = Where(c, 0, dy).
func gradWhere(b *builder, n *onnxpb.NodeProto, dy []string) error {
	c, x, y := n.Input[0], n.Input[1], n.Input[2]
	zero := b.constScalar(0, b.elem(dy[0]))
	if b.needs[x] {
		g := b.op("Where", "dX_full", []string{c, dy[0], zero})
		b.shapes[g] = b.shapes[dy[0]]
		if err := b.operand("dX", x, g); err != nil {
			return err
		}
	}
	if b.needs[y] {
		g := b.op("Where", "dY_full", []string{c, zero, dy[0]})
		b.shapes[g] = b.shapes[dy[0]]
		if err := b.operand("dY", y, g); err != nil {
			return err
		}
	}
	return nil
}

func gradNeg(b *builder, n *onnxpb.NodeProto, dy []string) error {
	b.addGrad(n.Input[0], b.unary("Neg", "dX", dy[0]))
	return nil
}

// gradSqrt: dX = dy * 0.5 / out.
func gradSqrt(b *builder, n *onnxpb.NodeProto, dy []string) error {
	b.addGrad(n.Input[0], b.div("dX", b.scale("half_dy", dy[0], 0.5), n.Output[0]))
	return nil
}

// gradReciprocal: dX = -dy * out².
func gradReciprocal(b *builder, n *onnxpb.NodeProto, dy []string) error {
	o := n.Output[0]
	b.addGrad(n.Input[0], b.unary("Neg", "dX", b.mul("dy_out2", dy[0], b.mul("out2", o, o))))
	return nil
}

func gradExp(b *builder, n *onnxpb.NodeProto, dy []string) error {
	b.addGrad(n.Input[0], b.mul("dX", dy[0], n.Output[0]))
	return nil
}

func gradLog(b *builder, n *onnxpb.NodeProto, dy []string) error {
	b.addGrad(n.Input[0], b.div("dX", dy[0], n.Input[0]))
	return nil
}

func gradIdentity(b *builder, n *onnxpb.NodeProto, dy []string) error {
	b.addGrad(n.Input[0], dy[0])
	return nil
}

// gradCast casts the gradient back to the input's float type.
func gradCast(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	if !isFloat(b.elem(x)) {
		return nil
	}
	if b.elem(x) == b.elem(dy[0]) {
		b.addGrad(x, dy[0])
		return nil
	}
	g := b.unary("Cast", "dX", dy[0], build.AttrInt("to", int64(b.elem(x))))
	b.setShape(g, b.elem(x), b.shapes[dy[0]].dims)
	b.addGrad(x, g)
	return nil
}

// gradMaxMin (variadic Max/Min): each input gets dY where it equals the
// output (ties give every tied input the full gradient).
func gradMaxMin(b *builder, n *onnxpb.NodeProto, dy []string) error {
	y := n.Output[0]
	zero := b.constScalar(0, b.elem(y))
	for i, in := range n.Input {
		if !b.needs[in] {
			continue
		}
		eq := b.compare("Equal", fmt.Sprintf("is_extreme%d", i), in, y)
		g := b.where(fmt.Sprintf("d%d_full", i), eq, dy[0], zero, y)
		if err := b.operand(fmt.Sprintf("d%d", i), in, g); err != nil {
			return err
		}
	}
	return nil
}
