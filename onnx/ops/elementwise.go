package ops

import (
	"fmt"
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Elementwise ops: unary activations and math, broadcasting binary and
// variadic ops, comparisons and logic, Where, Cast, Clip, Dropout.

func init() {
	// Unary ops whose output has the input's shape and type: k FLOPs per element.
	unary := map[float64][]string{
		0: {"Identity"},
		1: {"Relu", "LeakyRelu", "Neg", "Abs", "Sign", "Floor", "Ceil", "Round", "Reciprocal",
			"ThresholdedRelu", "Shrink", "BitwiseNot", "Sqrt", "Exp", "Log", "Trilu"},
		2: {"HardSigmoid", "Elu", "Selu", "Celu", "HardSwish", "Softsign"},
		4: {"Sigmoid", "Tanh", "Softplus", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan",
			"Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Mish"},
		8: {"Gelu"},
	}
	for k, types := range unary {
		registerAs("", types, Rule{Infer: inferUnary, FLOPs: perOutput(k), Recompute: always})
	}
	// ONNX Runtime contrib activations of the same kind.
	registerAs("com.microsoft", []string{"FastGelu", "BiasGelu", "QuickGelu", "Gelu"},
		Rule{Infer: inferUnary, FLOPs: perOutput(8), Recompute: always})
	registerAs("", []string{"Not"}, Rule{Infer: inferUnary, FLOPs: perOutput(1), Recompute: always})
	registerAs("", []string{"IsNaN", "IsInf"}, Rule{Infer: inferUnaryBool, FLOPs: perOutput(1), Recompute: always})
	register(
		Rule{Type: "Clip", Infer: inferUnary, FLOPs: perOutput(2), Recompute: always},
		Rule{Type: "PRelu", Infer: inferUnary, FLOPs: perOutput(2), Recompute: always},
		Rule{Type: "Cast", Infer: inferCast, FLOPs: perOutput(1), Recompute: always},
		Rule{Type: "CastLike", Infer: inferCastLike, FLOPs: perOutput(1), Recompute: always},
		Rule{Type: "Dropout", Infer: inferDropout, FLOPs: perOutput(1), Recompute: dropoutDeterministic},
		Rule{Type: "Where", Infer: inferWhere, FLOPs: perOutput(1), Recompute: always, Workspace: whereWorkspace},
	)
	arith := []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor"}
	registerAs("", arith, Rule{Infer: inferBinary, FLOPs: perOutput(1), Recompute: always})
	compare := []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"}
	registerAs("", compare, Rule{Infer: inferCompare, FLOPs: perOutput(1), Recompute: always})
	variadic := []string{"Sum", "Max", "Min", "Mean"}
	registerAs("", variadic, Rule{Infer: inferVariadic, FLOPs: variadicFLOPs, Recompute: always})
}

// dropoutDeterministic: Dropout is the identity (deterministic) unless it can
// run in training mode: a training_mode input (opset 12+) or, in older
// opsets, a non-zero ratio attribute without is_test=1.
func dropoutDeterministic(n *onnxpb.NodeProto) bool {
	in := n.GetInput()
	if len(in) >= 3 && in[2] != "" {
		return false
	}
	if a := attr(n, "ratio"); a != nil && a.GetF() != 0 && attrInt(n, "is_test", 0) == 0 {
		return false
	}
	return true
}

func inferUnary(c *Ctx) error {
	if len(c.In) == 0 {
		return fmt.Errorf("no input")
	}
	c.set(0, c.in(0).withElem(c.in(0).Elem))
	if k := c.konst(0); k != nil {
		if f := unaryFold(c.N.GetOpType()); f != nil {
			c.setConst(0, mapConst(k, f))
		}
	}
	return nil
}

func inferUnaryBool(c *Ctx) error {
	c.set(0, c.in(0).withElem(onnxpb.TensorProto_BOOL))
	return nil
}

// unaryFold is the scalar function of the unary ops worth folding in shape
// arithmetic; nil for the rest.
func unaryFold(op string) func(float64) float64 {
	switch op {
	case "Identity":
		return func(x float64) float64 { return x }
	case "Neg":
		return func(x float64) float64 { return -x }
	case "Abs":
		return math.Abs
	case "Sign":
		return func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		}
	case "Floor":
		return math.Floor
	case "Ceil":
		return math.Ceil
	case "Round":
		return math.RoundToEven
	case "Sqrt":
		return math.Sqrt
	case "Relu":
		return func(x float64) float64 { return math.Max(x, 0) }
	case "Not":
		return func(x float64) float64 {
			if x == 0 {
				return 1
			}
			return 0
		}
	case "Reciprocal":
		return func(x float64) float64 { return 1 / x }
	case "Exp":
		return math.Exp
	case "Log":
		return math.Log
	}
	return nil
}

// mapConst applies f to every element, keeping the type.
func mapConst(k *Const, f func(float64) float64) *Const {
	if k.IsFloat() {
		v := make([]float64, k.Len())
		for i := range v {
			v[i] = f(k.Floats[i])
		}
		return &Const{Elem: k.Elem, Dims: append([]int64{}, k.Dims...), Floats: v}
	}
	v := make([]int64, k.Len())
	for i := range v {
		v[i] = wrapInt(k.Elem, int64(f(float64(k.Ints[i]))))
	}
	return &Const{Elem: k.Elem, Dims: append([]int64{}, k.Dims...), Ints: v}
}

func inferCast(c *Ctx) error {
	to := onnxpb.TensorProto_DataType(attrInt(c.N, "to", 0))
	c.set(0, c.in(0).withElem(to))
	if k := c.konst(0); k != nil {
		c.setConst(0, castConst(k, to))
	}
	return nil
}

func inferCastLike(c *Ctx) error {
	to := c.in(1).Elem
	c.set(0, c.in(0).withElem(to))
	if k := c.konst(0); k != nil && to != 0 {
		c.setConst(0, castConst(k, to))
	}
	return nil
}

// castConst converts a constant to another element type (nil if that type
// is not foldable).
func castConst(k *Const, to onnxpb.TensorProto_DataType) *Const {
	switch {
	case isFloatElem(to):
		return &Const{Elem: to, Dims: append([]int64{}, k.Dims...), Floats: k.FloatSlice()}
	case ElemBits(to) > 0 && to != onnxpb.TensorProto_COMPLEX64 && to != onnxpb.TensorProto_COMPLEX128:
		if k.IsFloat() {
			return newConst(to, k.Dims, k.Floats)
		}
		v := make([]int64, k.Len())
		for i, x := range k.Ints {
			v[i] = wrapInt(to, x)
		}
		return &Const{Elem: to, Dims: append([]int64{}, k.Dims...), Ints: v}
	}
	return nil
}

func inferDropout(c *Ctx) error {
	x := c.in(0)
	c.set(0, x.withElem(x.Elem))
	c.set(1, x.withElem(onnxpb.TensorProto_BOOL))
	if k := c.konst(0); k != nil && dropoutDeterministic(c.N) {
		c.setConst(0, k)
	}
	return nil
}

func inferBinary(c *Ctx) error {
	if len(c.In) < 2 {
		return fmt.Errorf("needs 2 inputs, has %d", len(c.In))
	}
	t, err := broadcast(c.in(0), c.in(1))
	if err != nil {
		return err
	}
	t.Elem = c.in(0).Elem
	if t.Elem == 0 {
		t.Elem = c.in(1).Elem
	}
	c.set(0, t)
	if a, b := c.konst(0), c.konst(1); a != nil && b != nil {
		c.setConst(0, foldBinary(c.N, t.Elem, a, b))
	}
	return nil
}

func inferCompare(c *Ctx) error {
	if len(c.In) < 2 {
		return fmt.Errorf("needs 2 inputs, has %d", len(c.In))
	}
	t, err := broadcast(c.in(0), c.in(1))
	if err != nil {
		return err
	}
	t.Elem = onnxpb.TensorProto_BOOL
	c.set(0, t)
	if a, b := c.konst(0), c.konst(1); a != nil && b != nil {
		c.setConst(0, foldBinary(c.N, t.Elem, a, b))
	}
	return nil
}

func inferVariadic(c *Ctx) error {
	if len(c.In) == 0 {
		return fmt.Errorf("no inputs")
	}
	t := c.in(0)
	consts := []*Const{c.konst(0)}
	for i := 1; i < len(c.In); i++ {
		var err error
		elem := t.Elem
		t, err = broadcast(t, c.in(i))
		if err != nil {
			return err
		}
		t.Elem = elem
		consts = append(consts, c.konst(i))
	}
	if t.Elem == 0 {
		for _, in := range c.In {
			if in.Elem != 0 {
				t.Elem = in.Elem
				break
			}
		}
	}
	c.set(0, t)
	if c.N.GetOpType() == "Mean" {
		return nil
	}
	acc := consts[0]
	for _, k := range consts[1:] {
		if acc == nil || k == nil {
			return nil
		}
		acc = foldBinary(c.N, t.Elem, acc, k)
	}
	if acc != nil && len(consts) == 1 {
		acc = mapConst(acc, func(x float64) float64 { return x })
	}
	c.setConst(0, acc)
	return nil
}

func variadicFLOPs(_ *onnxpb.NodeProto, in, out []Tensor) float64 {
	if len(out) == 0 {
		return 0
	}
	k := float64(len(in) - 1)
	if k < 1 {
		k = 1
	}
	return k * elems(out[0])
}

func inferWhere(c *Ctx) error {
	if len(c.In) < 3 {
		return fmt.Errorf("needs 3 inputs, has %d", len(c.In))
	}
	t, err := broadcast(c.in(0), c.in(1))
	if err == nil {
		t, err = broadcast(t, c.in(2))
	}
	if err != nil {
		return err
	}
	t.Elem = c.in(1).Elem
	if t.Elem == 0 {
		t.Elem = c.in(2).Elem
	}
	c.set(0, t)
	cond, x, y := c.konst(0), c.konst(1), c.konst(2)
	if cond == nil || x == nil || y == nil || !t.Static() {
		return nil
	}
	n, ok := t.Elements()
	if !ok || n > maxConstElems {
		return nil
	}
	ic, ix, iy := broadcastIndex(t.Dims, cond.Dims), broadcastIndex(t.Dims, x.Dims), broadcastIndex(t.Dims, y.Dims)
	out := make([]float64, n)
	for i := range out {
		if cond.Int(ic[i]) != 0 {
			out[i] = x.Float(ix[i])
		} else {
			out[i] = y.Float(iy[i])
		}
	}
	if !isFloatElem(t.Elem) && (!x.IsFloat() && !y.IsFloat()) {
		v := make([]int64, n)
		for i := range v {
			if cond.Int(ic[i]) != 0 {
				v[i] = x.Ints[ix[i]]
			} else {
				v[i] = y.Ints[iy[i]]
			}
		}
		c.setConst(0, newIntConst(t.Elem, t.Dims, v))
		return nil
	}
	c.setConst(0, newConst(t.Elem, t.Dims, out))
	return nil
}

// broadcastIndex maps every flat index of an output of shape out to the flat
// index of an input of shape in broadcast to it. Both shapes are static.
func broadcastIndex(out, in []int64) []int {
	n := int64(1)
	for _, d := range out {
		n *= d
	}
	idx := make([]int, n)
	// stride of each output axis in the input (0 where broadcast)
	strides := make([]int64, len(out))
	s := int64(1)
	for i := len(out) - 1; i >= 0; i-- {
		j := i - (len(out) - len(in))
		if j >= 0 {
			if in[j] != 1 {
				strides[i] = s
			}
			s *= in[j]
		}
	}
	for f := int64(0); f < n; f++ {
		rem, off := f, int64(0)
		for i := len(out) - 1; i >= 0; i-- {
			if out[i] == 0 {
				break
			}
			off += (rem % out[i]) * strides[i]
			rem /= out[i]
		}
		idx[f] = int(off)
	}
	return idx
}

// foldBinary evaluates a broadcasting binary op on two constants; nil if the
// op is not folded or the result would be large.
func foldBinary(n *onnxpb.NodeProto, elem onnxpb.TensorProto_DataType, a, b *Const) *Const {
	t, err := broadcast(a.tensor(), b.tensor())
	if err != nil || !t.Static() {
		return nil
	}
	cnt, ok := t.Elements()
	if !ok || cnt > maxConstElems {
		return nil
	}
	ia, ib := broadcastIndex(t.Dims, a.Dims), broadcastIndex(t.Dims, b.Dims)
	op := n.GetOpType()
	if !a.IsFloat() && !b.IsFloat() && !isFloatElem(elem) {
		f := intOp(op, attrInt(n, "fmod", 0) != 0, attrString(n, "direction", ""))
		if f == nil {
			return nil
		}
		v := make([]int64, cnt)
		for i := range v {
			r, ok := f(a.Ints[ia[i]], b.Ints[ib[i]])
			if !ok {
				return nil
			}
			v[i] = wrapInt(elem, r)
		}
		return newIntConst(elem, t.Dims, v)
	}
	f := floatOp(op)
	if f == nil {
		return nil
	}
	v := make([]float64, cnt)
	for i := range v {
		v[i] = f(a.Float(ia[i]), b.Float(ib[i]))
	}
	return newConst(elem, t.Dims, v)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func floatOp(op string) func(a, b float64) float64 {
	switch op {
	case "Add", "Sum":
		return func(a, b float64) float64 { return a + b }
	case "Sub":
		return func(a, b float64) float64 { return a - b }
	case "Mul":
		return func(a, b float64) float64 { return a * b }
	case "Div":
		return func(a, b float64) float64 { return a / b }
	case "Pow":
		return math.Pow
	case "Max":
		return math.Max
	case "Min":
		return math.Min
	case "Mod":
		return math.Mod
	case "Equal":
		return func(a, b float64) float64 { return b2f(a == b) }
	case "Less":
		return func(a, b float64) float64 { return b2f(a < b) }
	case "Greater":
		return func(a, b float64) float64 { return b2f(a > b) }
	case "LessOrEqual":
		return func(a, b float64) float64 { return b2f(a <= b) }
	case "GreaterOrEqual":
		return func(a, b float64) float64 { return b2f(a >= b) }
	}
	return nil
}

// intOp is the integer version; ok=false for a division by zero.
func intOp(op string, fmod bool, direction string) func(a, b int64) (int64, bool) {
	switch op {
	case "Add", "Sum":
		return func(a, b int64) (int64, bool) { return a + b, true }
	case "Sub":
		return func(a, b int64) (int64, bool) { return a - b, true }
	case "Mul":
		return func(a, b int64) (int64, bool) { return a * b, true }
	case "Div":
		return func(a, b int64) (int64, bool) {
			if b == 0 {
				return 0, false
			}
			return a / b, true // C truncation, as ONNX integer Div
		}
	case "Mod":
		return func(a, b int64) (int64, bool) {
			if b == 0 {
				return 0, false
			}
			r := a % b
			if !fmod && r != 0 && (r < 0) != (b < 0) {
				r += b // Python-style: sign of the divisor
			}
			return r, true
		}
	case "Pow":
		return func(a, b int64) (int64, bool) { return int64(math.Pow(float64(a), float64(b))), true }
	case "Max":
		return func(a, b int64) (int64, bool) { return max(a, b), true }
	case "Min":
		return func(a, b int64) (int64, bool) { return min(a, b), true }
	case "Equal":
		return func(a, b int64) (int64, bool) { return b2i(a == b), true }
	case "Less":
		return func(a, b int64) (int64, bool) { return b2i(a < b), true }
	case "Greater":
		return func(a, b int64) (int64, bool) { return b2i(a > b), true }
	case "LessOrEqual":
		return func(a, b int64) (int64, bool) { return b2i(a <= b), true }
	case "GreaterOrEqual":
		return func(a, b int64) (int64, bool) { return b2i(a >= b), true }
	case "And", "BitwiseAnd":
		return func(a, b int64) (int64, bool) { return a & b, true }
	case "Or", "BitwiseOr":
		return func(a, b int64) (int64, bool) { return a | b, true }
	case "Xor", "BitwiseXor":
		return func(a, b int64) (int64, bool) { return a ^ b, true }
	case "BitShift":
		return func(a, b int64) (int64, bool) {
			if b < 0 || b > 63 {
				return 0, false
			}
			if direction == "LEFT" {
				return int64(uint64(a) << uint(b)), true
			}
			return int64(uint64(a) >> uint(b)), true
		}
	}
	return nil
}
