package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// TestRoundTrip loads and saves every corpus and libonnx-testdata model and
// requires the saved bytes to equal the file's, and the graph view to build.
func TestRoundTrip(t *testing.T) {
	corpus, testdata := modelFiles(t)
	out := filepath.Join(t.TempDir(), "out.onnx")
	n := 0
	for _, path := range append(corpus, testdata...) {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := m.Save(out); err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig) {
			t.Errorf("%s: saved %d bytes differ from the %d bytes loaded (first difference at %d)", path, len(got), len(orig), firstDiff(got, orig))
			continue
		}
		if _, err := NewView(m.Proto.Graph); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		for _, init := range m.Proto.Graph.Initializer {
			if IsExternal(init) || init.GetDataType() == int32(onnxpb.TensorProto_STRING) {
				continue
			}
			if _, err := m.TensorBytes(init); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		n++
	}
	t.Logf("%d corpus + %d testdata models: %d byte-identical", len(corpus), len(testdata), n)
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
