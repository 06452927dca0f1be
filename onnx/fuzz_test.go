package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic; the
// no-copy decode and chunked encode behind Load and Save must agree with it;
// a model it accepts must encode, decode again and re-encode to the same
// bytes; and its graph view must either build or fail with an error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("not an onnx model at all"))
	f.Add([]byte{0x08, 0x07, 0x3a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0x78}) // ir_version 7, a node with one output
	f.Add([]byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f})                   // graph with an absurd length
	// Seeds stay small (a few KB): the fuzzer minimises every new
	// interesting input, which is slow for large ones.
	if data, err := tinyModel().Encode(); err == nil {
		f.Add(data)
		f.Add(data[:len(data)/2]) // truncated
	}
	if dir, ok := findCorpus(); ok {
		for _, rel := range []string{"train/mlp_training_model.onnx", "train/lenet_eval_model.onnx", "zoo/light_bvlc_alexnet.onnx"} {
			if data, err := os.ReadFile(filepath.Join(dir, rel)); err == nil {
				f.Add(data)
			}
		}
	}
	// Every raw_data goes through the no-copy path (bigdata.go), which must
	// agree with plain proto.Unmarshal/Marshal on whatever it is given.
	withBigRawBytes(f, 1)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		owned, oerr := decodeOwned(append([]byte(nil), data...))
		if (err == nil) != (oerr == nil) {
			t.Fatalf("Decode error %v, no-copy decode error %v", err, oerr)
		}
		if err != nil {
			return
		}
		if !proto.Equal(m.Proto, owned.Proto) {
			t.Fatalf("no-copy decode differs from Decode")
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		chunks, err := owned.encodeChunks()
		if err != nil {
			t.Fatalf("chunked encode: %v", err)
		}
		if !bytes.Equal(bytes.Join(chunks, nil), enc) {
			t.Fatalf("chunked encode differs from Encode")
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("encoded model does not decode: %v", err)
		}
		enc2, err := m2.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encoding changed the bytes")
		}
		_, _ = NewView(m.Proto.Graph) // must not panic
		for _, init := range m.Proto.Graph.Initializer {
			if !IsExternal(init) {
				_, _ = m.TensorBytes(init)
			}
		}
	})
}

// tinyModel is a 4-node model with a small initializer, an external-data
// tensor and a subgraph, to seed the fuzzer with every structure we index.
func tinyModel() *Model {
	g := build.New("tiny")
	g.Input("x", onnxpb.TensorProto_FLOAT, []int64{-1, 4}, "batch")
	g.Initializer(build.Float32s("w", []int64{4, 4}, make([]float32, 16)))
	g.Initializer(&onnxpb.TensorProto{
		Name: proto.String("ext"), DataType: proto.Int32(1), Dims: []int64{2},
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
		ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}},
	})
	a := g.Op("MatMul", "a", []string{"x", "w"})
	b := g.Op("Relu", "b", []string{a})
	then := build.New("then")
	then.Node("Identity", "t", []string{b}, []string{"t_out"})
	then.Output("t_out", onnxpb.TensorProto_FLOAT, nil)
	g.Node("If", "if", []string{"cond"}, []string{"c"},
		&onnxpb.AttributeProto{Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: then.G},
		&onnxpb.AttributeProto{Name: proto.String("else_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: then.G})
	g.Input("cond", onnxpb.TensorProto_BOOL, nil)
	g.Output("c", onnxpb.TensorProto_FLOAT, nil)
	return &Model{Proto: build.Model(g.G, 17)}
}
