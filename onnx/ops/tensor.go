package ops

import (
	"fmt"
	"math"
	"strings"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Tensor is the inferred type of one value: element type and shape.
type Tensor struct {
	Elem onnxpb.TensorProto_DataType // 0 if unknown
	Dims []int64                     // -1 for an unknown dim; nil with Rank<0 if rank unknown
	Rank int                         // -1 unknown
}

// unknownTensor is a value about which nothing is known.
var unknownTensor = Tensor{Rank: -1}

// shaped returns a tensor of the given element type and dims (copied).
func shaped(elem onnxpb.TensorProto_DataType, dims []int64) Tensor {
	d := make([]int64, len(dims))
	copy(d, dims)
	return Tensor{Elem: elem, Dims: d, Rank: len(d)}
}

// ofRank returns a tensor of known rank whose dims are all unknown.
func ofRank(elem onnxpb.TensorProto_DataType, rank int) Tensor {
	if rank < 0 {
		return Tensor{Elem: elem, Rank: -1}
	}
	d := make([]int64, rank)
	for i := range d {
		d[i] = -1
	}
	return Tensor{Elem: elem, Dims: d, Rank: rank}
}

// withElem returns t with its element type replaced.
func (t Tensor) withElem(e onnxpb.TensorProto_DataType) Tensor {
	t.Dims = append([]int64(nil), t.Dims...)
	t.Elem = e
	return t
}

// Static reports whether the rank and every dim are known.
func (t Tensor) Static() bool {
	if t.Rank < 0 {
		return false
	}
	for _, d := range t.Dims {
		if d < 0 {
			return false
		}
	}
	return true
}

// Elements returns the element count; false if the shape is not static (or
// the count overflows int64: a malformed shape).
func (t Tensor) Elements() (int64, bool) {
	if !t.Static() {
		return 0, false
	}
	n := int64(1)
	for _, d := range t.Dims {
		if d != 0 && n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Bytes returns the tensor's size in bytes; false if any dim or the element
// type is unknown (or the type has no fixed size, like STRING).
func (t Tensor) Bytes() (int64, bool) {
	n, ok := t.Elements()
	if !ok {
		return 0, false
	}
	bits := ElemBits(t.Elem)
	if bits == 0 || n > math.MaxInt64/int64(bits) {
		return 0, false
	}
	return (n*int64(bits) + 7) / 8, true
}

// String renders the tensor as "float32[1,3,-1,224]".
func (t Tensor) String() string {
	name := ElemName(t.Elem)
	if t.Rank < 0 {
		return name + "[?]"
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('[')
	for i, d := range t.Dims {
		if i > 0 {
			b.WriteByte(',')
		}
		if d < 0 {
			b.WriteByte('?')
		} else {
			fmt.Fprint(&b, d)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// ElemBits is the storage size of one element in bits (0 if unknown or
// variable, like STRING).
func ElemBits(e onnxpb.TensorProto_DataType) int {
	switch e {
	case onnxpb.TensorProto_BOOL, onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8:
		return 8
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		return 16
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 32
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64, onnxpb.TensorProto_COMPLEX64:
		return 64
	case onnxpb.TensorProto_COMPLEX128:
		return 128
	case 17, 18, 19, 20: // FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ (IR 9)
		return 8
	case 21, 22: // UINT4, INT4 (IR 10)
		return 4
	}
	return 0
}

// ElemName is a short name of an element type ("float32", "int64", "?").
func ElemName(e onnxpb.TensorProto_DataType) string {
	switch e {
	case onnxpb.TensorProto_UNDEFINED:
		return "?"
	case onnxpb.TensorProto_FLOAT:
		return "float32"
	case onnxpb.TensorProto_DOUBLE:
		return "float64"
	case onnxpb.TensorProto_FLOAT16:
		return "float16"
	case onnxpb.TensorProto_BFLOAT16:
		return "bfloat16"
	}
	return strings.ToLower(e.String())
}

func isFloatElem(e onnxpb.TensorProto_DataType) bool {
	switch e {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		return true
	}
	return false
}

// broadcast applies ONNX multidirectional broadcasting to two tensors' dims.
func broadcast(a, b Tensor) (Tensor, error) {
	if a.Rank < 0 || b.Rank < 0 {
		r := -1
		// The result has at least the larger known rank, but we cannot know more.
		return ofRank(0, r), nil
	}
	n := max(a.Rank, b.Rank)
	out := make([]int64, n)
	for i := 0; i < n; i++ {
		da, db := int64(1), int64(1)
		if j := i - (n - a.Rank); j >= 0 {
			da = a.Dims[j]
		}
		if j := i - (n - b.Rank); j >= 0 {
			db = b.Dims[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		case da < 0 && db < 0:
			out[i] = -1
		case da < 0:
			out[i] = db // db > 1: da must be 1 or db
		case db < 0:
			out[i] = da
		default:
			return Tensor{}, fmt.Errorf("cannot broadcast %v with %v", a.Dims, b.Dims)
		}
	}
	return Tensor{Dims: out, Rank: n}, nil
}

// normAxis turns a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}
