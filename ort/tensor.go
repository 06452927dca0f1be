package ort

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unsafe"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// Tensor is a named dense tensor with raw little-endian data, the form ONNX
// TensorProto.raw_data uses. Bool is one byte per element.
type Tensor struct {
	Name string
	Elem onnxpb.TensorProto_DataType
	Dims []int64
	Data []byte
}

// ElemSize returns the byte size of one element of t, or 0 for types this
// bridge does not move (strings, 4-bit types).
func ElemSize(t onnxpb.TensorProto_DataType) int {
	switch t {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64, onnxpb.TensorProto_COMPLEX64:
		return 8
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		return 2
	case onnxpb.TensorProto_UINT8, onnxpb.TensorProto_INT8, onnxpb.TensorProto_BOOL:
		return 1
	case onnxpb.TensorProto_COMPLEX128:
		return 16
	}
	return 0
}

// NumElements is the product of t.Dims (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Check reports whether Data has the size Dims and Elem call for.
func (t *Tensor) Check() error {
	es := ElemSize(t.Elem)
	if es == 0 {
		return fmt.Errorf("tensor %s: element type %v is not supported", t.Name, t.Elem)
	}
	for _, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("tensor %s: negative dimension in %v", t.Name, t.Dims)
		}
	}
	if want := t.NumElements() * int64(es); int64(len(t.Data)) != want {
		return fmt.Errorf("tensor %s: %d data bytes, shape %v of %v needs %d", t.Name, len(t.Data), t.Dims, t.Elem, want)
	}
	return nil
}

// Float64At decodes element i as a float64 (integers and bools converted;
// NaN for types it cannot read).
func (t *Tensor) Float64At(i int64) float64 {
	es := int64(ElemSize(t.Elem))
	b := t.Data[i*es:]
	switch t.Elem {
	case onnxpb.TensorProto_FLOAT:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case onnxpb.TensorProto_DOUBLE:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case onnxpb.TensorProto_FLOAT16:
		return float64(halfToFloat32(binary.LittleEndian.Uint16(b)))
	case onnxpb.TensorProto_BFLOAT16:
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16))
	case onnxpb.TensorProto_INT64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case onnxpb.TensorProto_UINT64:
		return float64(binary.LittleEndian.Uint64(b))
	case onnxpb.TensorProto_INT32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case onnxpb.TensorProto_UINT32:
		return float64(binary.LittleEndian.Uint32(b))
	case onnxpb.TensorProto_INT16:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case onnxpb.TensorProto_UINT16:
		return float64(binary.LittleEndian.Uint16(b))
	case onnxpb.TensorProto_INT8:
		return float64(int8(b[0]))
	case onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
		return float64(b[0])
	}
	return math.NaN()
}

func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(frac) / 1024 / 16384 // 2^-14 subnormal scale
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
}

// Diff is the comparison of two tensors of the same name.
type Diff struct {
	Name      string
	Identical bool    // same type, shape and bytes
	Reason    string  // when not identical and not comparable element-wise ("shape [2] vs [3]")
	Differing int64   // elements whose bits differ
	MaxAbs    float64 // max |a-b| over differing elements
	MaxRel    float64 // max |a-b| / max(|a|,|b|) over differing elements
}

// Compare compares a and b bit for bit; when they differ it computes the
// largest absolute and relative element difference.
func Compare(a, b *Tensor) Diff {
	d := Diff{Name: a.Name}
	switch {
	case a.Elem != b.Elem:
		d.Reason = fmt.Sprintf("element type %v vs %v", a.Elem, b.Elem)
		return d
	case !slices.Equal(a.Dims, b.Dims):
		d.Reason = fmt.Sprintf("shape %v vs %v", a.Dims, b.Dims)
		return d
	case len(a.Data) != len(b.Data):
		d.Reason = fmt.Sprintf("%d vs %d data bytes", len(a.Data), len(b.Data))
		return d
	}
	if string(a.Data) == string(b.Data) {
		d.Identical = true
		return d
	}
	es := int64(ElemSize(a.Elem))
	if es == 0 {
		d.Reason = "data differ"
		return d
	}
	n := int64(len(a.Data)) / es
	for i := int64(0); i < n; i++ {
		if string(a.Data[i*es:(i+1)*es]) == string(b.Data[i*es:(i+1)*es]) {
			continue
		}
		d.Differing++
		x, y := a.Float64At(i), b.Float64At(i)
		abs := math.Abs(x - y)
		if math.IsNaN(abs) {
			abs = math.Inf(1)
		}
		rel := 0.0 // +0 vs -0
		if abs > 0 {
			rel = abs / math.Max(math.Abs(x), math.Abs(y))
		}
		if math.IsNaN(rel) {
			rel = math.Inf(1)
		}
		d.MaxAbs = math.Max(d.MaxAbs, abs)
		d.MaxRel = math.Max(d.MaxRel, rel)
	}
	return d
}

// toValue wraps t's bytes (not copied) as an ONNX Runtime tensor.
func toValue(t *Tensor) (ortgo.Value, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	data := t.Data
	if len(data) == 0 {
		// ORT needs a non-nil buffer even for an empty tensor.
		data = make([]byte, 1)
	}
	shape := ortgo.NewShape(t.Dims...)
	if len(t.Dims) == 0 {
		shape = ortgo.Shape{}
	}
	v, err := newCustomTensor(shape, data, ortgo.TensorElementDataType(t.Elem))
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	return v, nil
}

// newCustomTensor works around NewCustomDataTensor indexing &s[0] for
// scalars: a scalar is passed as shape [1] is wrong, so we build rank 0 by
// hand when needed.
func newCustomTensor(shape ortgo.Shape, data []byte, et ortgo.TensorElementDataType) (ortgo.Value, error) {
	return ortgo.NewCustomDataTensor(shape, data, et)
}

// fromValue copies an ONNX Runtime output into a Tensor.
func fromValue(name string, v ortgo.Value) (Tensor, error) {
	t := Tensor{Name: name}
	t.Dims = append([]int64{}, v.GetShape()...)
	switch x := v.(type) {
	case *ortgo.Tensor[float32]:
		t.Elem, t.Data = onnxpb.TensorProto_FLOAT, sliceBytes(x.GetData())
	case *ortgo.Tensor[float64]:
		t.Elem, t.Data = onnxpb.TensorProto_DOUBLE, sliceBytes(x.GetData())
	case *ortgo.Tensor[int64]:
		t.Elem, t.Data = onnxpb.TensorProto_INT64, sliceBytes(x.GetData())
	case *ortgo.Tensor[int32]:
		t.Elem, t.Data = onnxpb.TensorProto_INT32, sliceBytes(x.GetData())
	case *ortgo.Tensor[int16]:
		t.Elem, t.Data = onnxpb.TensorProto_INT16, sliceBytes(x.GetData())
	case *ortgo.Tensor[int8]:
		t.Elem, t.Data = onnxpb.TensorProto_INT8, sliceBytes(x.GetData())
	case *ortgo.Tensor[uint64]:
		t.Elem, t.Data = onnxpb.TensorProto_UINT64, sliceBytes(x.GetData())
	case *ortgo.Tensor[uint32]:
		t.Elem, t.Data = onnxpb.TensorProto_UINT32, sliceBytes(x.GetData())
	case *ortgo.Tensor[uint16]:
		t.Elem, t.Data = onnxpb.TensorProto_UINT16, sliceBytes(x.GetData())
	case *ortgo.Tensor[uint8]:
		t.Elem, t.Data = onnxpb.TensorProto_UINT8, sliceBytes(x.GetData())
	case *ortgo.Tensor[bool]:
		t.Elem, t.Data = onnxpb.TensorProto_BOOL, sliceBytes(x.GetData())
	case *ortgo.CustomDataTensor:
		t.Elem, t.Data = onnxpb.TensorProto_DataType(x.DataType()), append([]byte(nil), x.GetData()...)
	default:
		return t, fmt.Errorf("output %s: ONNX type %v is not a supported tensor", name, v.GetONNXType())
	}
	if len(t.Dims) == 0 {
		t.Dims = nil
	}
	return t, nil
}

// sliceBytes copies s into a fresh byte slice (little-endian host).
func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	var z T
	n := len(s) * int(unsafe.Sizeof(z))
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), n)...)
}
