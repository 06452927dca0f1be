package ops

import (
	"os"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
)

// FuzzInfer: any decodable model, however malformed its nodes (wrong input
// counts, odd attributes, cycles), must infer and split without a panic.
// Run it with a short -fuzzminimizetime (e.g. 2s): minimizing a new
// interesting input of a few KB otherwise stalls the run for a minute.
func FuzzInfer(f *testing.F) {
	// Small seeds only: the fuzzer minimizes every new interesting input,
	// which for a 10 KB model takes longer than a CI fuzz run.
	for _, p := range []string{
		"../../../shared/corpus/train/mlp_training_model.onnx",
	} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, m := range []*onnx.Model{pytorchReshape(13), autodiffLike(), loopModel()} {
		if data, err := m.Encode(); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Decode(data)
		if err != nil {
			return
		}
		// Infer and SplitTraining recover from panics (and a rule's panic
		// becomes a warning); here any of them is a bug to report.
		r, err := Infer(m, Options{Batch: 2})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		for _, w := range r.Warnings {
			if strings.Contains(w, "shape rule failed") {
				t.Fatal(w)
			}
		}
		for _, n := range m.Proto.GetGraph().GetNode() {
			_ = FLOPs(n, r)
			_ = Recomputable(n)
		}
		if _, err := SplitTraining(m, nil, ""); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatal(err)
		}
	})
}
