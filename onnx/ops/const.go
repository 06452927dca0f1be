package ops

import (
	"encoding/binary"
	"math"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// maxConstElems bounds the constants Infer folds: shape arithmetic is small,
// weights are not worth holding twice.
const maxConstElems = 1 << 12

// Const is a small constant tensor known at inference time: an initializer,
// a Constant node, or the result of folding shape arithmetic (Shape, Gather,
// Concat, …). Integer and bool elements are in Ints, floating ones in Floats.
type Const struct {
	Elem   onnxpb.TensorProto_DataType
	Dims   []int64
	Ints   []int64   // integer and bool types
	Floats []float64 // floating types
}

// Len is the number of elements.
func (c *Const) Len() int {
	if c.Floats != nil {
		return len(c.Floats)
	}
	return len(c.Ints)
}

// IsFloat reports whether the elements are in Floats.
func (c *Const) IsFloat() bool { return c.Floats != nil || isFloatElem(c.Elem) }

// Int returns element i as an int64 (floats truncated).
func (c *Const) Int(i int) int64 {
	if c.IsFloat() {
		return int64(c.Floats[i])
	}
	return c.Ints[i]
}

// Float returns element i as a float64.
func (c *Const) Float(i int) float64 {
	if c.IsFloat() {
		return c.Floats[i]
	}
	return float64(c.Ints[i])
}

// IntSlice returns all elements as int64s.
func (c *Const) IntSlice() []int64 {
	out := make([]int64, c.Len())
	for i := range out {
		out[i] = c.Int(i)
	}
	return out
}

// FloatSlice returns all elements as float64s.
func (c *Const) FloatSlice() []float64 {
	out := make([]float64, c.Len())
	for i := range out {
		out[i] = c.Float(i)
	}
	return out
}

// tensor is the Const's type.
func (c *Const) tensor() Tensor { return shaped(c.Elem, c.Dims) }

// newIntConst builds an integer constant of the given type (int64 if 0).
func newIntConst(elem onnxpb.TensorProto_DataType, dims []int64, v []int64) *Const {
	if elem == 0 {
		elem = onnxpb.TensorProto_INT64
	}
	if v == nil {
		v = []int64{}
	}
	return &Const{Elem: elem, Dims: append([]int64{}, dims...), Ints: v}
}

// newConst builds a constant of type elem from float64 values, rounding to
// integers for integer types.
func newConst(elem onnxpb.TensorProto_DataType, dims []int64, v []float64) *Const {
	c := &Const{Elem: elem, Dims: append([]int64{}, dims...)}
	if isFloatElem(elem) {
		c.Floats = v
		if c.Floats == nil {
			c.Floats = []float64{}
		}
		return c
	}
	c.Ints = make([]int64, len(v))
	for i, x := range v {
		c.Ints[i] = castInt(elem, x)
	}
	return c
}

// castInt converts a float to an integer element type the way a C cast
// (and ONNX Cast) does, wrapping to the type's width.
func castInt(elem onnxpb.TensorProto_DataType, x float64) int64 {
	if elem == onnxpb.TensorProto_BOOL {
		if x != 0 {
			return 1
		}
		return 0
	}
	return wrapInt(elem, int64(x))
}

// wrapInt truncates v to the width of an integer element type.
func wrapInt(elem onnxpb.TensorProto_DataType, v int64) int64 {
	switch elem {
	case onnxpb.TensorProto_INT8:
		return int64(int8(v))
	case onnxpb.TensorProto_UINT8:
		return int64(uint8(v))
	case onnxpb.TensorProto_INT16:
		return int64(int16(v))
	case onnxpb.TensorProto_UINT16:
		return int64(uint16(v))
	case onnxpb.TensorProto_INT32:
		return int64(int32(v))
	case onnxpb.TensorProto_UINT32:
		return int64(uint32(v))
	case onnxpb.TensorProto_BOOL:
		if v != 0 {
			return 1
		}
		return 0
	}
	return v
}

// constFromProto decodes a small tensor held inside the model file. It
// returns nil for tensors that are large, external, or of a type it does
// not fold (strings, complex, 16-bit floats).
func constFromProto(t *onnxpb.TensorProto) *Const {
	if t == nil || t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil
	}
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 || d > maxConstElems {
			return nil
		}
		if n *= d; n > maxConstElems {
			return nil // checked per dim: the product must not overflow
		}
	}
	elem := onnxpb.TensorProto_DataType(t.GetDataType())
	raw := t.GetRawData()
	c := &Const{Elem: elem, Dims: append([]int64{}, t.GetDims()...)}
	le := binary.LittleEndian
	u64 := func(b []byte) int64 { return int64(le.Uint64(b)) }
	ok := true
	switch elem {
	case onnxpb.TensorProto_FLOAT:
		c.Floats, ok = decodeAs(raw, n, 4, func(b []byte) float64 { return float64(math.Float32frombits(le.Uint32(b))) },
			t.GetFloatData(), func(v float32) float64 { return float64(v) })
	case onnxpb.TensorProto_DOUBLE:
		c.Floats, ok = decodeAs(raw, n, 8, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) },
			t.GetDoubleData(), func(v float64) float64 { return v })
	case onnxpb.TensorProto_INT64:
		c.Ints, ok = decodeAs(raw, n, 8, u64, t.GetInt64Data(), func(v int64) int64 { return v })
	case onnxpb.TensorProto_UINT64:
		c.Ints, ok = decodeAs(raw, n, 8, u64, t.GetUint64Data(), func(v uint64) int64 { return int64(v) })
	case onnxpb.TensorProto_UINT32:
		// Typed uint32 values are stored in uint64_data.
		c.Ints, ok = decodeAs(raw, n, 4, func(b []byte) int64 { return int64(le.Uint32(b)) },
			t.GetUint64Data(), func(v uint64) int64 { return int64(v) })
	case onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16,
		onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
		size := ElemBits(elem) / 8
		c.Ints, ok = decodeAs(raw, n, size, func(b []byte) int64 {
			var v int64
			switch size {
			case 1:
				v = int64(b[0])
			case 2:
				v = int64(le.Uint16(b))
			case 4:
				v = int64(le.Uint32(b))
			}
			return wrapInt(elem, v)
		}, t.GetInt32Data(), func(v int32) int64 { return wrapInt(elem, int64(v)) })
	default:
		return nil
	}
	if !ok {
		return nil
	}
	return c
}

// decodeAs reads n elements of size bytes each from raw (little-endian,
// through fromRaw) or, when raw is nil, from the typed field (through conv);
// false if the count does not match.
func decodeAs[T, V any](raw []byte, n int64, size int, fromRaw func([]byte) V, typed []T, conv func(T) V) ([]V, bool) {
	if raw != nil {
		if int64(len(raw)) != int64(size)*n {
			return nil, false
		}
		out := make([]V, n)
		for i := range out {
			out[i] = fromRaw(raw[size*i:])
		}
		return out, true
	}
	if int64(len(typed)) != n {
		return nil, false
	}
	out := make([]V, n)
	for i, v := range typed {
		out[i] = conv(v)
	}
	return out, true
}
