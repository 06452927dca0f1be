package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and a
// model it accepts must encode, decode again and re-encode to the same bytes,
// and its graph view must either build or fail with an error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("not an onnx model at all"))
	f.Add([]byte{0x08, 0x07, 0x3a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0x78}) // ir_version 7, a node with one output
	f.Add([]byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f})                   // graph with an absurd length
	small := generatedModel(20, 0)
	if data, err := small.Encode(); err == nil {
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
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
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
