package onnx

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

func le32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func le64(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func tensor(dt onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String("t"), DataType: proto.Int32(int32(dt)), Dims: dims}
}

func TestTensorBytesTyped(t *testing.T) {
	m := &Model{}
	with := func(t *onnxpb.TensorProto, f func(*onnxpb.TensorProto)) *onnxpb.TensorProto { f(t); return t }
	tests := []struct {
		name string
		t    *onnxpb.TensorProto
		want []byte
	}{
		{"float_data", with(tensor(onnxpb.TensorProto_FLOAT, 2), func(t *onnxpb.TensorProto) { t.FloatData = []float32{1, -2} }),
			le32(math.Float32bits(1), math.Float32bits(-2))},
		{"raw_data", with(tensor(onnxpb.TensorProto_FLOAT, 1), func(t *onnxpb.TensorProto) { t.RawData = le32(7) }), le32(7)},
		{"int64_data", with(tensor(onnxpb.TensorProto_INT64, 2), func(t *onnxpb.TensorProto) { t.Int64Data = []int64{-1, 3} }),
			le64(math.MaxUint64, 3)},
		{"int32_data", with(tensor(onnxpb.TensorProto_INT32, 1), func(t *onnxpb.TensorProto) { t.Int32Data = []int32{-2} }),
			le32(math.MaxUint32 - 1)},
		{"float16 in int32_data", with(tensor(onnxpb.TensorProto_FLOAT16, 2), func(t *onnxpb.TensorProto) { t.Int32Data = []int32{0x3c00, 0xc000} }),
			[]byte{0x00, 0x3c, 0x00, 0xc0}},
		{"bool in int32_data", with(tensor(onnxpb.TensorProto_BOOL, 3), func(t *onnxpb.TensorProto) { t.Int32Data = []int32{1, 0, 1} }),
			[]byte{1, 0, 1}},
		{"double_data", with(tensor(onnxpb.TensorProto_DOUBLE), func(t *onnxpb.TensorProto) { t.DoubleData = []float64{0.5} }),
			le64(math.Float64bits(0.5))},
		{"uint32 in uint64_data", with(tensor(onnxpb.TensorProto_UINT32, 1), func(t *onnxpb.TensorProto) { t.Uint64Data = []uint64{9} }), le32(9)},
		{"empty tensor", tensor(onnxpb.TensorProto_FLOAT, 0, 3), []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.TensorBytes(tt.t)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got % x, want % x", got, tt.want)
			}
		})
	}
}

func TestTensorBytesErrors(t *testing.T) {
	m := &Model{}
	short := tensor(onnxpb.TensorProto_FLOAT, 2)
	short.RawData = le32(1)
	missingTyped := tensor(onnxpb.TensorProto_INT64, 3)
	missingTyped.Int64Data = []int64{1}
	str := tensor(onnxpb.TensorProto_STRING, 1)
	str.StringData = [][]byte{[]byte("a")}
	escape := tensor(onnxpb.TensorProto_FLOAT, 1)
	escape.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	escape.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("../../etc/passwd")}}
	huge := tensor(onnxpb.TensorProto_FLOAT, 1<<40) // claims 4 TiB, holds 4 bytes
	huge.FloatData = []float32{1}
	overflow := tensor(onnxpb.TensorProto_DOUBLE, 1<<62)
	for _, tt := range []struct {
		name, want string
		t          *onnxpb.TensorProto
	}{
		{"dims claim more than the data", "typed data has 4 bytes", huge},
		{"byte size overflows", "overflows", overflow},
		{"raw too short", "raw_data has 4 bytes", short},
		{"typed too short", "typed data has 8 bytes", missingTyped},
		{"string", "STRING", str},
		{"escaping location", "inside the model's directory", escape},
	} {
		if _, err := m.TensorBytes(tt.t); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestTensorBytesExternal(t *testing.T) {
	dir := t.TempDir()
	data := append([]byte("0123"), le32(math.Float32bits(1.5), math.Float32bits(2.5))...)
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ext := func(loc string, kv ...string) *onnxpb.TensorProto {
		x := tensor(onnxpb.TensorProto_FLOAT, 2)
		x.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		x.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(loc)}}
		for i := 0; i+1 < len(kv); i += 2 {
			x.ExternalData = append(x.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		return x
	}
	m := &Model{Proto: &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{}}, Path: filepath.Join(dir, "model.onnx")}
	got, err := m.TensorFloat64s(ext("w.bin", "offset", "4", "length", "8"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1.5, 2.5}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, tt := range []struct {
		t    *onnxpb.TensorProto
		want string
	}{
		{ext("absent.bin"), "absent.bin: no such file"},
		{ext("w.bin", "offset", "8"), "file too short"},
		{ext("w.bin", "length", "4"), "length 4"},
		{ext("w.bin", "offset", "x"), `offset "x"`},
	} {
		if _, err := m.TensorBytes(tt.t); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want it to contain %q", err, tt.want)
		}
	}
	m.Proto.Graph.Initializer = []*onnxpb.TensorProto{ext("w.bin"), ext("absent.bin"), ext("w.bin")}
	if got, want := m.ExternalFiles(), []string{"w.bin", "absent.bin"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ExternalFiles = %v, want %v", got, want)
	}
}

func TestTensorInt64s(t *testing.T) {
	m := &Model{}
	raw := tensor(onnxpb.TensorProto_INT64, 2)
	raw.RawData = le64(5, math.MaxUint64)
	i32 := tensor(onnxpb.TensorProto_INT32, 2)
	i32.Int32Data = []int32{-3, 4}
	u8 := tensor(onnxpb.TensorProto_UINT8, 2)
	u8.RawData = []byte{200, 1}
	for _, tt := range []struct {
		t    *onnxpb.TensorProto
		want []int64
	}{{raw, []int64{5, -1}}, {i32, []int64{-3, 4}}, {u8, []int64{200, 1}}} {
		got, err := m.TensorInt64s(tt.t)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("got %v, want %v", got, tt.want)
		}
	}
	if _, err := m.TensorInt64s(tensor(onnxpb.TensorProto_FLOAT)); err == nil {
		t.Error("float tensor decoded as int64s without error")
	}
	h := tensor(onnxpb.TensorProto_FLOAT16, 3)
	h.RawData = []byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c}
	got, err := m.TensorFloat64s(h)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 1 || got[1] != -2 || !math.IsInf(got[2], 1) {
		t.Errorf("float16 decoded to %v", got)
	}
}

// The corpus ResNet-18 keeps its weights in an absent file: Load and the
// view must work; asking for a weight's bytes names the missing file.
func TestExternalWeightsAbsent(t *testing.T) {
	path := corpusFile(t, "zoo/resnet18_external_data.onnx")
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewView(m.Proto.Graph); err != nil {
		t.Fatal(err)
	}
	if got := m.ExternalFiles(); !reflect.DeepEqual(got, []string{"resnet18.onnx.data"}) {
		t.Errorf("ExternalFiles = %v", got)
	}
	var ext *onnxpb.TensorProto
	for _, init := range m.Proto.Graph.Initializer {
		if IsExternal(init) {
			ext = init
			break
		}
	}
	if ext == nil {
		t.Fatal("no external initializer in resnet18_external_data.onnx")
	}
	_, err = m.TensorBytes(ext)
	if err == nil || !strings.Contains(err.Error(), "resnet18.onnx.data") {
		t.Errorf("TensorBytes of an absent external file: err = %v", err)
	}
}

func TestNumElementsAndDataBytes(t *testing.T) {
	if n, ok := NumElements([]int64{2, 3, 4}); !ok || n != 24 {
		t.Errorf("NumElements = %d %v", n, ok)
	}
	if n, ok := NumElements(nil); !ok || n != 1 {
		t.Errorf("scalar NumElements = %d %v", n, ok)
	}
	if _, ok := NumElements([]int64{-1, 3}); ok {
		t.Error("negative dim accepted")
	}
	if _, ok := NumElements([]int64{math.MaxInt64, 2}); ok {
		t.Error("overflow accepted")
	}
	if b, ok := DataBytes(22, 3); !ok || b != 2 { // INT4: 3 nibbles -> 2 bytes
		t.Errorf("int4 DataBytes = %d %v", b, ok)
	}
	if _, ok := DataBytes(int32(onnxpb.TensorProto_STRING), 1); ok {
		t.Error("string has a fixed size")
	}
}
