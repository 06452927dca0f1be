package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// ElemBits returns the storage size in bits of one element of the ONNX data
// type dt (4 for the packed 4-bit types), and false for STRING, UNDEFINED and
// types this package does not know. dt is the raw enum value so that types
// newer than the generated onnx.proto (float8, int4, float4) are covered too.
func ElemBits(dt int32) (int, bool) {
	switch dt {
	case 1, 6, 12: // FLOAT, INT32, UINT32
		return 32, true
	case 2, 3, 9: // UINT8, INT8, BOOL
		return 8, true
	case 4, 5, 10, 16: // UINT16, INT16, FLOAT16, BFLOAT16
		return 16, true
	case 7, 11, 13, 14: // INT64, DOUBLE, UINT64, COMPLEX64
		return 64, true
	case 15: // COMPLEX128
		return 128, true
	case 17, 18, 19, 20: // FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ
		return 8, true
	case 21, 22, 23: // UINT4, INT4, FLOAT4E2M1
		return 4, true
	}
	return 0, false
}

// DataBytes returns the bytes that count elements of type dt occupy (packed
// 4-bit types round up to whole bytes), and false if dt has no fixed size.
func DataBytes(dt int32, count int64) (int64, bool) {
	bits, ok := ElemBits(dt)
	if !ok || count < 0 || count > (math.MaxInt64-7)/int64(bits) {
		return 0, false
	}
	return (count*int64(bits) + 7) / 8, true
}

// NumElements is the product of dims (1 for a scalar), and false if a dim is
// negative or the product overflows.
func NumElements(dims []int64) (int64, bool) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// IsExternal reports whether t keeps its data in an external file.
func IsExternal(t *onnxpb.TensorProto) bool {
	return t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL
}

// ExternalRef is where an external tensor's bytes live, as written in the
// model; Location is relative to the model's directory.
type ExternalRef struct {
	Location string
	Offset   int64
	Length   int64 // -1: to the end of the file
}

// External parses the external_data entries of t.
func External(t *onnxpb.TensorProto) (ExternalRef, error) {
	ref := ExternalRef{Length: -1}
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			ref.Location = kv.GetValue()
		case "offset", "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return ref, fmt.Errorf("external data %s %q is not a non-negative integer", kv.GetKey(), kv.GetValue())
			}
			if kv.GetKey() == "offset" {
				ref.Offset = v
			} else {
				ref.Length = v
			}
		}
	}
	if ref.Location == "" {
		return ref, errors.New("external data has no location")
	}
	return ref, nil
}

// TensorBytes returns the data of t as raw little-endian bytes, whatever way
// the model stores it: raw_data is returned as is (not copied; do not modify
// it), the typed fields (float_data, int32_data, int64_data, …) are converted,
// and external data is read now from the file named in t, relative to the
// model's directory. A missing external file is an error only here, never at
// Load. STRING tensors have no raw form and are an error.
func (m *Model) TensorBytes(t *onnxpb.TensorProto) ([]byte, error) {
	b, err := m.tensorBytes(t)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	return b, nil
}

func (m *Model) tensorBytes(t *onnxpb.TensorProto) ([]byte, error) {
	dt := t.GetDataType()
	if dt == int32(onnxpb.TensorProto_STRING) {
		return nil, errors.New("STRING tensors have no raw byte form")
	}
	n, ok := NumElements(t.GetDims())
	if !ok {
		return nil, fmt.Errorf("bad dims %v", t.GetDims())
	}
	want, ok := DataBytes(dt, n)
	if !ok {
		if _, known := ElemBits(dt); known {
			return nil, fmt.Errorf("byte size of %v %s overflows", t.GetDims(), describeDT(dt))
		}
		return nil, fmt.Errorf("unsupported data type %s", describeDT(dt))
	}
	if IsExternal(t) {
		return m.readExternal(t, want)
	}
	if t.RawData != nil {
		if int64(len(t.RawData)) != want {
			return nil, fmt.Errorf("raw_data has %d bytes, %v %s needs %d", len(t.RawData), t.GetDims(), describeDT(dt), want)
		}
		return t.RawData, nil
	}
	// Check the typed data's size before allocating: dims come from the
	// file and may claim far more than it holds.
	if have := typedBytes(t, dt); have != want {
		return nil, fmt.Errorf("typed data has %d bytes, %v %s needs %d", have, t.GetDims(), describeDT(dt), want)
	}
	out := make([]byte, 0, want)
	switch dt {
	case 1, 14: // FLOAT, COMPLEX64
		for _, v := range t.FloatData {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	case 11, 15: // DOUBLE, COMPLEX128
		for _, v := range t.DoubleData {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
	case 7: // INT64
		for _, v := range t.Int64Data {
			out = binary.LittleEndian.AppendUint64(out, uint64(v))
		}
	case 12: // UINT32
		for _, v := range t.Uint64Data {
			out = binary.LittleEndian.AppendUint32(out, uint32(v))
		}
	case 13: // UINT64
		for _, v := range t.Uint64Data {
			out = binary.LittleEndian.AppendUint64(out, v)
		}
	case 6: // INT32
		for _, v := range t.Int32Data {
			out = binary.LittleEndian.AppendUint32(out, uint32(v))
		}
	case 4, 5, 10, 16: // UINT16, INT16, FLOAT16, BFLOAT16: one value (bit pattern) per int32
		for _, v := range t.Int32Data {
			out = binary.LittleEndian.AppendUint16(out, uint16(v))
		}
	case 2, 3, 9, 17, 18, 19, 20: // 8-bit types: one value per int32
		for _, v := range t.Int32Data {
			out = append(out, byte(v))
		}
	case 21, 22, 23: // 4-bit types: two values packed in each int32 element's low byte
		for _, v := range t.Int32Data {
			out = append(out, byte(v))
		}
	default:
		return nil, fmt.Errorf("unsupported data type %s", describeDT(dt))
	}
	if int64(len(out)) != want {
		return nil, fmt.Errorf("typed data has %d bytes, %v %s needs %d", len(out), t.GetDims(), describeDT(dt), want)
	}
	return out, nil
}

// typedBytes is the size of t's data once the typed field that holds type
// dt is converted to raw bytes.
func typedBytes(t *onnxpb.TensorProto, dt int32) int64 {
	switch dt {
	case 1, 14:
		return 4 * int64(len(t.FloatData))
	case 11, 15:
		return 8 * int64(len(t.DoubleData))
	case 7:
		return 8 * int64(len(t.Int64Data))
	case 12:
		return 4 * int64(len(t.Uint64Data))
	case 13:
		return 8 * int64(len(t.Uint64Data))
	case 6:
		return 4 * int64(len(t.Int32Data))
	case 4, 5, 10, 16:
		return 2 * int64(len(t.Int32Data))
	case 2, 3, 9, 17, 18, 19, 20, 21, 22, 23:
		return int64(len(t.Int32Data))
	}
	return -1
}

// readExternal reads want bytes of t's external data.
func (m *Model) readExternal(t *onnxpb.TensorProto, want int64) ([]byte, error) {
	ref, err := External(t)
	if err != nil {
		return nil, err
	}
	// The ONNX checker forbids locations outside the model's directory; so do
	// we, so that a model file cannot make us read arbitrary files.
	loc := filepath.FromSlash(ref.Location)
	if filepath.IsAbs(loc) || !filepath.IsLocal(loc) {
		return nil, fmt.Errorf("external data location %q must be a relative path inside the model's directory", ref.Location)
	}
	dir := "."
	if m.Path != "" {
		dir = filepath.Dir(m.Path)
	}
	path := filepath.Join(dir, loc)
	if ref.Length >= 0 && ref.Length != want {
		return nil, fmt.Errorf("external data %s: length %d, %v %s needs %d", path, ref.Length, t.GetDims(), describeDT(t.GetDataType()), want)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if ref.Offset > st.Size() || want > st.Size()-ref.Offset {
		return nil, fmt.Errorf("external data %s: file too short for %d bytes at offset %d", path, want, ref.Offset)
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, ref.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("external data %s: file too short for %d bytes at offset %d", path, want, ref.Offset)
		}
		return nil, fmt.Errorf("external data: %w", err)
	}
	return buf, nil
}

// TensorInt64s decodes an integer tensor (INT64, INT32, INT16, INT8, UINT8,
// UINT16, UINT32, BOOL) to int64 values. It is meant for small tensors such as
// shapes and axes.
func (m *Model) TensorInt64s(t *onnxpb.TensorProto) ([]int64, error) {
	dt := t.GetDataType()
	if !IsExternal(t) && t.RawData == nil {
		// Fast paths: the typed fields already hold the values.
		switch dt {
		case 7:
			return append([]int64(nil), t.Int64Data...), nil
		case 6:
			out := make([]int64, len(t.Int32Data))
			for i, v := range t.Int32Data {
				out[i] = int64(v)
			}
			return out, nil
		}
	}
	b, err := m.TensorBytes(t)
	if err != nil {
		return nil, err
	}
	var out []int64
	le := binary.LittleEndian
	switch dt {
	case 7:
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, int64(le.Uint64(b[i:])))
		}
	case 6:
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, int64(int32(le.Uint32(b[i:]))))
		}
	case 12:
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, int64(le.Uint32(b[i:])))
		}
	case 5:
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, int64(int16(le.Uint16(b[i:]))))
		}
	case 4:
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, int64(le.Uint16(b[i:])))
		}
	case 3:
		for _, v := range b {
			out = append(out, int64(int8(v)))
		}
	case 2, 9:
		for _, v := range b {
			out = append(out, int64(v))
		}
	default:
		return nil, fmt.Errorf("tensor %q: data type %s is not an integer type", t.GetName(), describeDT(dt))
	}
	if out == nil {
		out = []int64{}
	}
	return out, nil
}

// TensorFloat64s decodes a FLOAT, DOUBLE or FLOAT16 tensor, or any integer
// tensor TensorInt64s accepts, to float64 values. It is meant for small
// tensors (scalars, constants folded during inference).
func (m *Model) TensorFloat64s(t *onnxpb.TensorProto) ([]float64, error) {
	dt := t.GetDataType()
	switch dt {
	case 1, 11, 10:
	default:
		ints, err := m.TensorInt64s(t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(ints))
		for i, v := range ints {
			out[i] = float64(v)
		}
		return out, nil
	}
	b, err := m.TensorBytes(t)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	out := []float64{}
	switch dt {
	case 1:
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(math.Float32frombits(le.Uint32(b[i:]))))
		}
	case 11:
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, math.Float64frombits(le.Uint64(b[i:])))
		}
	case 10:
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, halfToFloat(le.Uint16(b[i:])))
		}
	}
	return out, nil
}

// halfToFloat converts an IEEE 754 binary16 bit pattern.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// ExternalFiles lists the distinct external data files the model's graph
// initializers refer to (relative locations as written), in first-use order.
func (m *Model) ExternalFiles() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if !IsExternal(t) {
			continue
		}
		ref, err := External(t)
		if err != nil || seen[ref.Location] {
			continue
		}
		seen[ref.Location] = true
		out = append(out, ref.Location)
	}
	return out
}

// describeDT names a data type for messages.
func describeDT(dt int32) string {
	if s, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return s
	}
	return "type " + strconv.Itoa(int(dt))
}
