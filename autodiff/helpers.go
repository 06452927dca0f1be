package autodiff

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Constants are initializers named "Grad/const/...", shared by content.

func (b *builder) addConst(key, base string, t *onnxpb.TensorProto) string {
	if name, ok := b.constN[key]; ok {
		return name
	}
	name := b.fresh("Grad/const/" + base)
	t.Name = proto.String(name)
	b.g.Initializer = append(b.g.Initializer, t)
	b.constN[key] = name
	dims := append([]int64{}, t.Dims...)
	b.setShape(name, onnxpb.TensorProto_DataType(t.GetDataType()), dims)
	return name
}

// constI64 returns a 1-D int64 constant.
func (b *builder) constI64(v ...int64) string {
	key := fmt.Sprint("i64", v)
	base := strings.Trim(strings.ReplaceAll(fmt.Sprint(v), " ", "_"), "[]")
	if len(base) > 24 {
		base = base[:24]
	}
	return b.addConst(key, "i64_"+base, build.Int64s("", []int64{int64(len(v))}, v))
}

// constScalar returns a scalar constant of the given float type.
func (b *builder) constScalar(v float64, elem onnxpb.TensorProto_DataType) string {
	key := fmt.Sprint("scalar", elem, v)
	return b.addConst(key, fmt.Sprintf("%g", v), floatTensor(elem, nil, []float64{v}))
}

// constTensor returns a float constant of the given type and shape.
func (b *builder) constTensor(base string, elem onnxpb.TensorProto_DataType, dims []int64, v []float64) string {
	t := floatTensor(elem, dims, v)
	key := fmt.Sprint("tensor", elem, dims, string(t.RawData))
	return b.addConst(key, base, t)
}

func floatTensor(elem onnxpb.TensorProto_DataType, dims []int64, v []float64) *onnxpb.TensorProto {
	var raw []byte
	switch elem {
	case onnxpb.TensorProto_DOUBLE:
		raw = make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(x))
		}
	case onnxpb.TensorProto_FLOAT16:
		raw = make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(raw[2*i:], f16(float32(x)))
		}
	case onnxpb.TensorProto_BFLOAT16:
		raw = make([]byte, 2*len(v))
		for i, x := range v {
			// The upper half of the float32, rounded to nearest even.
			bits := math.Float32bits(float32(x))
			binary.LittleEndian.PutUint16(raw[2*i:], uint16((bits+0x7fff+(bits>>16)&1)>>16))
		}
	default:
		elem = onnxpb.TensorProto_FLOAT
		raw = make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(x)))
		}
	}
	return &onnxpb.TensorProto{Dims: dims, DataType: proto.Int32(int32(elem)), RawData: raw}
}

// f16 converts to IEEE half precision (round to nearest, no subnormal care).
func f16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int((bits>>23)&0xff) - 127 + 15
	mant := bits & 0x7fffff
	switch {
	case exp <= 0:
		return sign
	case exp >= 31:
		return sign | 0x7c00
	}
	return sign | uint16(exp<<10) | uint16((mant+0x1000)>>13)
}

// zeros returns a tensor of zeros of the given shape.
func (b *builder) zeros(dims []int64, elem onnxpb.TensorProto_DataType) string {
	v := floatTensor(elem, []int64{1}, []float64{0})
	out := b.op("ConstantOfShape", "zeros", []string{b.constI64(dims...)}, build.AttrTensor("value", v))
	b.setShape(out, elem, dims)
	return out
}

// Elementwise and shape helpers. Each records the static shape of its output.

func (b *builder) bin(op, name, x, y string) string {
	out := b.op(op, name, []string{x, y})
	b.setShape(out, b.elem(x), broadcastDims(b.shapes[x].dims, b.shapes[y].dims))
	return out
}

func (b *builder) mul(name, x, y string) string { return b.bin("Mul", name, x, y) }
func (b *builder) add(name, x, y string) string { return b.bin("Add", name, x, y) }
func (b *builder) sub(name, x, y string) string { return b.bin("Sub", name, x, y) }
func (b *builder) div(name, x, y string) string { return b.bin("Div", name, x, y) }

func (b *builder) unary(op, name, x string, a ...*onnxpb.AttributeProto) string {
	out := b.op(op, name, []string{x}, a...)
	b.shapes[out] = b.shapes[x]
	return out
}

func (b *builder) scale(name, x string, s float64) string {
	if s == 1 {
		return x
	}
	return b.mul(name, x, b.constScalar(s, b.elem(x)))
}

func (b *builder) reshape(name, x string, dims []int64) string {
	if eqDims(b.shapes[x].dims, dims) {
		return x
	}
	var attrs []*onnxpb.AttributeProto
	if slices.Contains(dims, 0) {
		// A 0 in the shape means "copy the input's dim" unless allowzero.
		attrs = append(attrs, build.AttrInt("allowzero", 1))
	}
	out := b.op("Reshape", name, []string{x, b.constI64(dims...)}, attrs...)
	b.setShape(out, b.elem(x), append([]int64{}, dims...))
	return out
}

func (b *builder) transpose(name, x string, perm []int64) string {
	identity := true
	for i, p := range perm {
		if int64(i) != p {
			identity = false
		}
	}
	if identity {
		return x
	}
	in := b.shapes[x].dims
	var dims []int64
	if in != nil {
		dims = make([]int64, len(perm))
		for i, p := range perm {
			dims[i] = in[p]
		}
		// Moving only size-1 axes keeps the data order: a Reshape (which
		// runtimes alias) instead of a copy; e.g. batch-1 weight gradients.
		last, order := int64(-1), true
		for _, p := range perm {
			if in[p] != 1 {
				if p < last {
					order = false
				}
				last = p
			}
		}
		if order {
			return b.reshape(name, x, dims)
		}
	}
	out := b.op("Transpose", name, []string{x}, build.AttrInts("perm", perm...))
	b.setShape(out, b.elem(x), dims)
	return out
}

// reduceSum sums x over axes; keepdims keeps them as 1s.
func (b *builder) reduceSum(name, x string, axes []int64, keepdims bool) string {
	if len(axes) == 0 {
		return x
	}
	k := int64(0)
	if keepdims {
		k = 1
	}
	out := b.op("ReduceSum", name, []string{x, b.constI64(axes...)}, build.AttrInt("keepdims", k))
	in := b.shapes[x].dims
	red := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(len(in))
		}
		red[a] = true
	}
	var dims []int64
	for i, d := range in {
		switch {
		case !red[int64(i)]:
			dims = append(dims, d)
		case keepdims:
			dims = append(dims, 1)
		}
	}
	if dims == nil {
		dims = []int64{}
	}
	b.setShape(out, b.elem(x), dims)
	return out
}

// unbroadcast sums the gradient g (shape of the broadcast result) back to
// the shape target of an operand.
func (b *builder) unbroadcast(name, g string, target []int64) string {
	gd := b.shapes[g].dims
	if eqDims(gd, target) {
		return g
	}
	off := len(gd) - len(target)
	var axes []int64
	for i := range gd {
		if i < off || (target[i-off] == 1 && gd[i] != 1) {
			axes = append(axes, int64(i))
		}
	}
	r := b.reduceSum(name+"_sum", g, axes, true)
	return b.reshape(name, r, target)
}

func broadcastDims(a, c []int64) []int64 {
	if len(c) > len(a) {
		a, c = c, a
	}
	out := append([]int64{}, a...)
	off := len(a) - len(c)
	for i, d := range c {
		if out[off+i] == 1 {
			out[off+i] = d
		}
	}
	return out
}

func eqDims(a, c []int64) bool {
	if len(a) != len(c) || (a == nil) != (c == nil) {
		return len(a) == 0 && len(c) == 0 && a != nil && c != nil
	}
	for i := range a {
		if a[i] != c[i] {
			return false
		}
	}
	return true
}

func numel(d []int64) int64 {
	n := int64(1)
	for _, x := range d {
		n *= x
	}
	return n
}

func normAxis(a int64, rank int) int64 {
	if a < 0 {
		a += int64(rank)
	}
	return a
}

// floatsOf reads the values of a small float tensor.
func floatsOf(t *onnxpb.TensorProto) ([]float64, error) {
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		if len(t.RawData) > 0 {
			out := make([]float64, len(t.RawData)/4)
			for i := range out {
				out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:])))
			}
			return out, nil
		}
		return f64s(t.FloatData), nil
	case onnxpb.TensorProto_DOUBLE:
		if len(t.RawData) > 0 {
			out := make([]float64, len(t.RawData)/8)
			for i := range out {
				out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.RawData[8*i:]))
			}
			return out, nil
		}
		return append([]float64{}, t.DoubleData...), nil
	}
	return nil, fmt.Errorf("tensor %q: type %d is not float or double", t.GetName(), t.GetDataType())
}
