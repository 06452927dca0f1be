package models

import (
	"encoding/binary"
	"errors"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort"
)

// initORT loads ONNX Runtime or skips the test.
func initORT(t *testing.T) {
	t.Helper()
	lib, err := ort.LibraryPath("")
	if errors.Is(err, ort.ErrNoLibrary) {
		testenv.Missing(t, "skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ort.Init(lib); err != nil {
		t.Fatal(err)
	}
}

// runForward saves m and runs it in ONNX Runtime (one session) on each
// input in turn, returning the logits of each run.
func runForward(t *testing.T, m *onnx.Model, inputs ...ort.Tensor) [][]float32 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(path, nil, []string{"logits"}, ort.DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var res [][]float32
	for _, in := range inputs {
		outs, err := s.Run([]ort.Tensor{in})
		if err != nil {
			t.Fatal(err)
		}
		if want := outputDims(m); !slices.Equal(outs[0].Dims, want) {
			t.Fatalf("ORT output dims %v, model declares %v", outs[0].Dims, want)
		}
		v := make([]float32, len(outs[0].Data)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(outs[0].Data[4*i:]))
		}
		res = append(res, v)
	}
	return res
}

// imageInput is a deterministic uniform [-1, 1) NCHW input for m.
func imageInput(m *onnx.Model, seed uint64) ort.Tensor {
	var d []int64
	for _, x := range m.Proto.Graph.Input[0].GetType().GetTensorType().GetShape().GetDim() {
		d = append(d, x.GetDimValue())
	}
	raw := make([]byte, 4*numel(d))
	fillRange(fillJob{raw: raw, seed: seed, limit: 1}, 0, len(raw)/4)
	return ort.Tensor{Name: "input", Elem: onnxpb.TensorProto_FLOAT, Dims: d, Data: raw}
}

// TestForwardORT runs every image network (small sizes, seeded weights) in
// ONNX Runtime: the output has the declared shape, is finite, and differs
// between the two samples of the batch.
func TestForwardORT(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping ONNX Runtime forward passes in -short mode")
	}
	initORT(t)
	for _, r := range references {
		if r.name == "gpt2" || r.name == "llama" || r.name == "vgg19" { // gpt2, llama: TestCausal; vgg19: 575 MB of weights, adds nothing
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			m, err := Build(r.name, r.opt)
			if err != nil {
				t.Fatal(err)
			}
			v := runForward(t, m, imageInput(m, 7))[0]
			var maxAbs float64
			for _, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("non-finite output %v", x)
				}
				maxAbs = max(maxAbs, math.Abs(float64(x)))
			}
			half := len(v) / 2
			if slices.Equal(v[:half], v[half:]) {
				t.Error("both samples of the batch give the same output")
			}
			t.Logf("max |logit| %.3g", maxAbs)
		})
	}
}

// TestCausal checks the causal mask of gpt2 and llama in ONNX Runtime:
// changing the last token changes the logits of the last position only.
func TestCausal(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping ONNX Runtime forward passes in -short mode")
	}
	initORT(t)
	const T = 6
	for _, c := range []struct {
		name  string
		vocab int
	}{{"gpt2", gptVocab}, {"llama", LLMPresets["tiny"].Vocab}} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Build(c.name, Options{Batch: 1, Seq: T})
			if err != nil {
				t.Fatal(err)
			}
			ids := func(last int64) ort.Tensor {
				raw := make([]byte, 8*T)
				for i := range int64(T) {
					tok := (1000*i + 17) % int64(c.vocab)
					if i == T-1 {
						tok = last
					}
					binary.LittleEndian.PutUint64(raw[8*i:], uint64(tok))
				}
				return ort.Tensor{Name: "input_ids", Elem: onnxpb.TensorProto_INT64, Dims: []int64{1, T}, Data: raw}
			}
			res := runForward(t, m, ids(42), ids(201))
			a, b := res[0], res[1]
			row := c.vocab
			if !slices.Equal(a[:(T-1)*row], b[:(T-1)*row]) {
				t.Error("changing the last token changed logits of earlier positions: mask is not causal")
			}
			if slices.Equal(a[(T-1)*row:], b[(T-1)*row:]) {
				t.Error("changing the last token did not change its own logits")
			}
			for _, x := range a {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("non-finite logit %v", x)
				}
			}
		})
	}
}
