package autodiff

import (
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Activations. Where the derivative is a function of the output, the rule
// reads the output (usually kept anyway by the next op), not the input.

func (b *builder) where(name, cond, x, y string, like string) string {
	out := b.op("Where", name, []string{cond, x, y})
	b.shapes[out] = b.shapes[like]
	return out
}

func (b *builder) compare(op, name, x, y string) string {
	out := b.op(op, name, []string{x, y})
	b.setShape(out, onnxpb.TensorProto_BOOL, broadcastDims(b.shapes[x].dims, b.shapes[y].dims))
	return out
}

// gradRelu: dX = dY · Sign(Y), Y ≥ 0 being Relu's output, so Sign(Y) is 1
// where Y > 0 and 0 elsewhere. The form Where(Y > 0, dY, 0) gives the same
// values (up to the sign of a zero) but needs more memory while it runs:
// ORT's Where kernel allocates two output-sized temporaries besides a bool
// mask (onnx/ops/workspace.go), where Sign leaves one.
func gradRelu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	b.addGrad(n.Input[0], b.mul("dX", dy[0], b.unary("Sign", "active", n.Output[0])))
	return nil
}

// gradLeakyRelu: dX = Where(Y > 0, dY, alpha*dY) (alpha > 0 keeps the sign).
func gradLeakyRelu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	alpha := float64(attrsOf(n).float("alpha", 0.01))
	v := n.Output[0]
	if alpha <= 0 {
		v = n.Input[0]
	}
	zero := b.constScalar(0, b.elem(v))
	mask := b.compare("Greater", "positive", v, zero)
	b.addGrad(n.Input[0], b.where("dX", mask, dy[0], b.scale("alpha_dy", dy[0], alpha), dy[0]))
	return nil
}

// gradSigmoid: dX = dY * y * (1 - y).
var gradSigmoid = gradDerivative(func(b *builder, _, y string) string {
	return b.mul("dsig", y, b.sub("one_minus_y", b.constScalar(1, b.elem(y)), y))
})

// gradTanh: dX = dY * (1 - y²).
var gradTanh = gradDerivative(func(b *builder, _, y string) string { return b.oneMinusSquare(y, "y") })

// gradHardSigmoid: dX = alpha*dY where 0 < y < 1.
func gradHardSigmoid(b *builder, n *onnxpb.NodeProto, dy []string) error {
	alpha := float64(attrsOf(n).float("alpha", 0.2))
	y := n.Output[0]
	zero, one := b.constScalar(0, b.elem(y)), b.constScalar(1, b.elem(y))
	inside := b.op("And", "inside", []string{b.compare("Greater", "above0", y, zero), b.compare("Less", "below1", y, one)})
	b.setShape(inside, onnxpb.TensorProto_BOOL, b.shapes[y].dims)
	b.addGrad(n.Input[0], b.where("dX", inside, b.scale("alpha_dy", dy[0], alpha), zero, dy[0]))
	return nil
}

// gradClip: dX = dY where min < y < max (strict: read the output, not x).
func gradClip(b *builder, n *onnxpb.NodeProto, dy []string) error {
	y := n.Output[0]
	var mask string
	if lo := input(n, 1); lo != "" {
		mask = b.compare("Greater", "above_min", y, lo)
	}
	if hi := input(n, 2); hi != "" {
		m := b.compare("Less", "below_max", y, hi)
		if mask == "" {
			mask = m
		} else {
			mask = b.op("And", "inside", []string{mask, m})
			b.setShape(mask, onnxpb.TensorProto_BOOL, b.shapes[y].dims)
		}
	}
	if mask == "" {
		b.addGrad(n.Input[0], dy[0])
		return nil
	}
	b.addGrad(n.Input[0], b.where("dX", mask, dy[0], b.constScalar(0, b.elem(y)), dy[0]))
	return nil
}

// gradErf: dX = dY * 2/sqrt(pi) * exp(-x²).
var gradErf = gradDerivative(func(b *builder, x, _ string) string {
	e := b.unary("Exp", "exp_neg_x2", b.unary("Neg", "neg_x2", b.mul("x2", x, x)))
	return b.scale("derf", e, 2/math.Sqrt(math.Pi))
})

// softmaxAxes: the reduced axes (opset<13 softmax over all axes from axis on).
func (b *builder) softmaxAxes(n *onnxpb.NodeProto) ([]int64, error) {
	dims, err := b.shape(n.Output[0])
	if err != nil {
		return nil, err
	}
	axis := normAxis(attrsOf(n).int("axis", -1), len(dims))
	if b.flatSoftmax[n] {
		var axes []int64
		for i := axis; i < int64(len(dims)); i++ {
			axes = append(axes, i)
		}
		return axes, nil
	}
	return []int64{axis}, nil
}

// gradSoftmax: dX = y * (dY - sum(dY*y, axis)).
func gradSoftmax(b *builder, n *onnxpb.NodeProto, dy []string) error {
	axes, err := b.softmaxAxes(n)
	if err != nil {
		return err
	}
	y := n.Output[0]
	s := b.reduceSum("sum_dy_y", b.mul("dy_y", dy[0], y), axes, true)
	b.addGrad(n.Input[0], b.mul("dX", y, b.sub("dy_minus_s", dy[0], s)))
	return nil
}

// gradLogSoftmax: dX = dY - exp(y) * sum(dY, axis).
func gradLogSoftmax(b *builder, n *onnxpb.NodeProto, dy []string) error {
	axes, err := b.softmaxAxes(n)
	if err != nil {
		return err
	}
	y := n.Output[0]
	s := b.reduceSum("sum_dy", dy[0], axes, true)
	b.addGrad(n.Input[0], b.sub("dX", dy[0], b.mul("p_s", b.unary("Exp", "p", y), s)))
	return nil
}

// gradAbs: dX = dY · sign(x).
func gradAbs(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	b.addGrad(x, b.mul("dX", dy[0], b.unary("Sign", "sign", x)))
	return nil
}

// gradPRelu: y = x if x > 0 else slope·x (slope broadcast to x):
// dX = Where(x > 0, dY, slope·dY); dSlope = Σ Where(x > 0, 0, dY·x).
func gradPRelu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x, slope := n.Input[0], n.Input[1]
	zero := b.constScalar(0, b.elem(x))
	pos := b.compare("Greater", "positive", x, zero)
	if b.needs[x] {
		b.addGrad(x, b.where("dX", pos, dy[0], b.mul("slope_dy", slope, dy[0]), dy[0]))
	}
	if b.needs[slope] {
		g := b.where("dSlope_full", pos, zero, b.mul("dy_x", dy[0], x), dy[0])
		return b.operand("dSlope", slope, g)
	}
	return nil
}

// gradSoftplus: dX = dY · sigmoid(x).
var gradSoftplus = gradDerivative(func(b *builder, x, _ string) string { return b.unary("Sigmoid", "sigmoid", x) })

// gradHardSwish: y = x·clip(x/6 + 1/2, 0, 1): dX = dY·(x/3 + 1/2) on
// (−3, 3), dY above, 0 below.
func gradHardSwish(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	e := b.elem(x)
	mid := b.add("slope", b.scale("x_third", x, 1.0/3), b.constScalar(0.5, e))
	inner := b.where("inner", b.compare("Less", "below3", x, b.constScalar(3, e)), mid, b.constScalar(1, e), x)
	d := b.where("dydx", b.compare("Greater", "above_m3", x, b.constScalar(-3, e)), inner, b.constScalar(0, e), x)
	b.addGrad(x, b.mul("dX", dy[0], d))
	return nil
}

// gradElu: dX = dY where y > 0, dY·(y + alpha) elsewhere (alpha > 0).
func gradElu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	return b.expLinear(n, dy[0], float64(attrsOf(n).float("alpha", 1)), 1)
}

// gradSelu: dX = gamma·dY where y > 0, dY·(y + gamma·alpha) elsewhere.
func gradSelu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	a := attrsOf(n)
	alpha := float64(a.float("alpha", 1.67326319217681884765625))
	gamma := float64(a.float("gamma", 1.05070102214813232421875))
	return b.expLinear(n, dy[0], gamma*alpha, gamma)
}

// expLinear: the derivative is slope where y > 0 and y + c elsewhere.
func (b *builder) expLinear(n *onnxpb.NodeProto, g string, c, slope float64) error {
	y := n.Output[0]
	e := b.elem(y)
	pos := b.compare("Greater", "positive", y, b.constScalar(0, e))
	d := b.where("dydx", pos, b.constScalar(slope, e), b.add("y_plus_c", y, b.constScalar(c, e)), y)
	b.addGrad(n.Input[0], b.mul("dX", g, d))
	return nil
}

// gradSin: dX = dY·cos(x).
var gradSin = gradDerivative(func(b *builder, x, _ string) string { return b.unary("Cos", "cos", x) })

// gradCos: dX = −dY·sin(x).
func gradCos(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	b.addGrad(x, b.unary("Neg", "dX", b.mul("dy_sin", dy[0], b.unary("Sin", "sin", x))))
	return nil
}

// gradDerivative returns a rule dX = dY · f'(x), f' built by deriv from
// x or the output y.
func gradDerivative(deriv func(b *builder, x, y string) string) func(*builder, *onnxpb.NodeProto, []string) error {
	return func(b *builder, n *onnxpb.NodeProto, dy []string) error {
		x := n.Input[0]
		b.addGrad(x, b.mul("dX", dy[0], deriv(b, x, n.Output[0])))
		return nil
	}
}

// Derivatives of the remaining unary functions, as f'(x).
var (
	// tan' = 1 + tan² (from the output).
	gradTan = gradDerivative(func(b *builder, x, y string) string {
		return b.add("dtan", b.constScalar(1, b.elem(x)), b.mul("y2", y, y))
	})
	// asin' = 1/√(1−x²), acos' = −asin'.
	gradAsin = gradDerivative(func(b *builder, x, _ string) string { return b.dAsin(x) })
	gradAcos = gradDerivative(func(b *builder, x, _ string) string { return b.unary("Neg", "dacos", b.dAsin(x)) })
	// atan' = 1/(1+x²).
	gradAtan = gradDerivative(func(b *builder, x, _ string) string {
		return b.unary("Reciprocal", "datan", b.add("one_plus_x2", b.constScalar(1, b.elem(x)), b.mul("x2", x, x)))
	})
	// sinh' = cosh, cosh' = sinh.
	gradSinh = gradDerivative(func(b *builder, x, _ string) string { return b.unary("Cosh", "cosh", x) })
	gradCosh = gradDerivative(func(b *builder, x, _ string) string { return b.unary("Sinh", "sinh", x) })
	// asinh' = 1/√(x²+1), acosh' = 1/√(x²−1), atanh' = 1/(1−x²).
	gradAsinh = gradDerivative(func(b *builder, x, _ string) string {
		return b.unary("Reciprocal", "dasinh", b.unary("Sqrt", "sqrt_x2p1", b.add("x2_plus_1", b.mul("x2", x, x), b.constScalar(1, b.elem(x)))))
	})
	gradAcosh = gradDerivative(func(b *builder, x, _ string) string {
		return b.unary("Reciprocal", "dacosh", b.unary("Sqrt", "sqrt_x2m1", b.sub("x2_minus_1", b.mul("x2", x, x), b.constScalar(1, b.elem(x)))))
	})
	gradAtanh = gradDerivative(func(b *builder, x, _ string) string {
		return b.unary("Reciprocal", "datanh", b.oneMinusSquare(x, "x"))
	})
	// softsign' = 1/(1+|x|)².
	gradSoftsign = gradDerivative(func(b *builder, x, _ string) string {
		d := b.add("one_plus_abs", b.constScalar(1, b.elem(x)), b.unary("Abs", "abs", x))
		return b.unary("Reciprocal", "dsoftsign", b.mul("sq", d, d))
	})
)

// oneMinusSquare returns 1 − v² (nodes named after tag: "<tag>2",
// "one_minus_<tag>2").
func (b *builder) oneMinusSquare(v, tag string) string {
	return b.sub("one_minus_"+tag+"2", b.constScalar(1, b.elem(v)), b.mul(tag+"2", v, v))
}

// dAsin returns asin'(x) = 1/√(1−x²).
func (b *builder) dAsin(x string) string {
	return b.unary("Reciprocal", "dasin", b.unary("Sqrt", "sqrt_1mx2", b.oneMinusSquare(x, "x")))
}

// gradThresholdedRelu: y = x if x > alpha else 0: dX = Where(x > alpha, dY, 0).
func gradThresholdedRelu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	alpha := b.constScalar(float64(attrsOf(n).float("alpha", 1)), b.elem(x))
	b.addGrad(x, b.where("dX", b.compare("Greater", "above", x, alpha), dy[0], b.constScalar(0, b.elem(x)), dy[0]))
	return nil
}

// gradShrink: y = x ± bias outside [−lambd, lambd], 0 inside: dX = dY where
// |x| > lambd (x < −lambd or x > lambd), else 0.
func gradShrink(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	l := float64(attrsOf(n).float("lambd", 0.5))
	e := b.elem(x)
	below := b.compare("Less", "below", x, b.constScalar(-l, e))
	above := b.compare("Greater", "above", x, b.constScalar(l, e))
	out := b.op("Or", "outside", []string{below, above})
	b.setShape(out, onnxpb.TensorProto_BOOL, b.shapes[below].dims)
	b.addGrad(x, b.where("dX", out, dy[0], b.constScalar(0, e), dy[0]))
	return nil
}

// gradCelu: y = max(0, x) + min(0, α(exp(x/α) − 1)): dX = dY for x > 0,
// dY·exp(x/α) otherwise.
func gradCelu(b *builder, n *onnxpb.NodeProto, dy []string) error {
	x := n.Input[0]
	alpha := float64(attrsOf(n).float("alpha", 1))
	e := b.elem(x)
	neg := b.mul("dy_exp", dy[0], b.unary("Exp", "exp", b.scale("x_over_alpha", x, 1/alpha)))
	b.addGrad(x, b.where("dX", b.compare("Greater", "positive", x, b.constScalar(0, e)), dy[0], neg, dy[0]))
	return nil
}
