package ort

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/ort/ortorder"
)

// TestPredictOrder checks the emulation of ORT's order against ORT's own
// profile on the experiment graphs.
func TestPredictOrder(t *testing.T) {
	needLib(t)
	for _, v := range []chainVariant{chainPlain, chainCloneLate, chainCloneEarly, chainGuarded, chainGuardedLate, chainDataGuarded} {
		for _, final := range []string{"add", "dot"} {
			path := chainModel(t, v, 4, 4, "Sin", final)
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			in, _ := RandomInputs(m, InputOptions{Seed: 1})
			_, st, err := Run(path, in, nil, Options{Threads: 1, DisableAllOptimizations: true, Profile: true})
			if err != nil {
				t.Fatal(err)
			}
			names := NodeNames(m.Proto.Graph)
			var predicted []string
			for _, i := range ortorder.PredictOrder(m.Proto.Graph) {
				predicted = append(predicted, names[i])
			}
			executed := slices.DeleteFunc(slices.Clone(st.NodeOrder), func(s string) bool { return s == "__ort_out_y" })
			if !slices.Equal(predicted, executed) {
				t.Errorf("%s/%s:\npredicted %v\nexecuted  %v", v, final, predicted, executed)
			}
		}
	}
}
