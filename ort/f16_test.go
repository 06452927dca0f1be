package ort

import (
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"testing"
)

// TestFloat16Output: a model whose output is float16 either runs and returns
// the raw half-precision bytes or fails with an error; it used to panic while
// releasing the output (onnxruntime_go v1.27 cannot size float16 outputs).
func TestFloat16Output(t *testing.T) {
	lib, err := LibraryPath("")
	if err != nil {
		testenv.Missing(t, "ONNX Runtime library not found: %v", err)
	}
	if err := Init(lib); err != nil {
		t.Fatal(err)
	}
	path := "/usr/share/libonnx-testdata/data/node/test_cast_FLOAT_to_FLOAT16/model.onnx"
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, "%s", "needs libonnx-testdata (apt-get install libonnx-testdata)")
	}
	in := seededInputs(t, path)
	out, _, err := Run(path, in, nil, DefaultCheckOptions())
	if err != nil {
		t.Logf("float16 output refused with an error: %v", err)
		return
	}
	if len(out) != 1 || len(out[0].Data) != 2*len(in[0].Data)/4 {
		t.Fatalf("got %d outputs, %d bytes for %d float32 inputs", len(out), len(out[0].Data), len(in[0].Data)/4)
	}
}
