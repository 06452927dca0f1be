package ops

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestConstFromProto decodes every folded element type from raw_data and
// from its typed field, and refuses a count that does not match the dims.
func TestConstFromProto(t *testing.T) {
	type dt = onnxpb.TensorProto_DataType
	tensor := func(elem dt, dims []int64, raw []byte, set func(*onnxpb.TensorProto)) *onnxpb.TensorProto {
		p := &onnxpb.TensorProto{DataType: proto.Int32(int32(elem)), Dims: dims, RawData: raw}
		if set != nil {
			set(p)
		}
		return p
	}
	for _, c := range []struct {
		name   string
		t      *onnxpb.TensorProto
		ints   []int64
		floats []float64
		bad    bool
	}{
		{"float_raw", tensor(onnxpb.TensorProto_FLOAT, []int64{2}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, nil), nil, []float64{1, -2}, false},
		{"float_typed", tensor(onnxpb.TensorProto_FLOAT, []int64{2}, nil, func(p *onnxpb.TensorProto) { p.FloatData = []float32{1.5, -3} }), nil, []float64{1.5, -3}, false},
		{"double_raw", tensor(onnxpb.TensorProto_DOUBLE, []int64{1}, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, nil), nil, []float64{1}, false},
		{"double_typed", tensor(onnxpb.TensorProto_DOUBLE, []int64{1}, nil, func(p *onnxpb.TensorProto) { p.DoubleData = []float64{0.25} }), nil, []float64{0.25}, false},
		{"int64_raw", tensor(onnxpb.TensorProto_INT64, []int64{2}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0, 0, 0, 0}, nil), []int64{-1, 7}, nil, false},
		{"int64_typed", tensor(onnxpb.TensorProto_INT64, []int64{2}, nil, func(p *onnxpb.TensorProto) { p.Int64Data = []int64{3, -4} }), []int64{3, -4}, nil, false},
		{"uint64_typed", tensor(onnxpb.TensorProto_UINT64, []int64{1}, nil, func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{9} }), []int64{9}, nil, false},
		{"uint32_raw", tensor(onnxpb.TensorProto_UINT32, []int64{1}, []byte{0xff, 0xff, 0xff, 0xff}, nil), []int64{4294967295}, nil, false},
		{"uint32_typed", tensor(onnxpb.TensorProto_UINT32, []int64{1}, nil, func(p *onnxpb.TensorProto) { p.Uint64Data = []uint64{5} }), []int64{5}, nil, false},
		{"int32_raw", tensor(onnxpb.TensorProto_INT32, []int64{1}, []byte{0xfe, 0xff, 0xff, 0xff}, nil), []int64{-2}, nil, false},
		{"int16_raw", tensor(onnxpb.TensorProto_INT16, []int64{2}, []byte{0xff, 0xff, 2, 0}, nil), []int64{-1, 2}, nil, false},
		{"uint16_raw", tensor(onnxpb.TensorProto_UINT16, []int64{1}, []byte{0xff, 0xff}, nil), []int64{65535}, nil, false},
		{"int8_typed", tensor(onnxpb.TensorProto_INT8, []int64{2}, nil, func(p *onnxpb.TensorProto) { p.Int32Data = []int32{-3, 200} }), []int64{-3, -56}, nil, false},
		{"uint8_raw", tensor(onnxpb.TensorProto_UINT8, []int64{2}, []byte{255, 1}, nil), []int64{255, 1}, nil, false},
		{"bool_raw", tensor(onnxpb.TensorProto_BOOL, []int64{3}, []byte{0, 1, 2}, nil), []int64{0, 1, 1}, nil, false},
		{"scalar", tensor(onnxpb.TensorProto_INT64, nil, nil, func(p *onnxpb.TensorProto) { p.Int64Data = []int64{42} }), []int64{42}, nil, false},
		{"float_raw_short", tensor(onnxpb.TensorProto_FLOAT, []int64{2}, []byte{0, 0, 0x80, 0x3f}, nil), nil, nil, true},
		{"int64_typed_long", tensor(onnxpb.TensorProto_INT64, []int64{1}, nil, func(p *onnxpb.TensorProto) { p.Int64Data = []int64{1, 2} }), nil, nil, true},
		{"uint32_in_int32_data", tensor(onnxpb.TensorProto_UINT32, []int64{1}, nil, func(p *onnxpb.TensorProto) { p.Int32Data = []int32{1} }), nil, nil, true},
		{"string", tensor(onnxpb.TensorProto_STRING, []int64{1}, nil, func(p *onnxpb.TensorProto) { p.StringData = [][]byte{[]byte("a")} }), nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := constFromProto(c.t)
			if c.bad {
				if got != nil {
					t.Fatalf("decoded %+v, want nil", got)
				}
				return
			}
			if got == nil {
				t.Fatal("not decoded")
			}
			if !slices.Equal(got.Ints, c.ints) || !slices.Equal(got.Floats, c.floats) {
				t.Errorf("ints %v floats %v, want %v %v", got.Ints, got.Floats, c.ints, c.floats)
			}
		})
	}
}
