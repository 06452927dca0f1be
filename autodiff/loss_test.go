package autodiff_test

import (
	"testing"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
)

// TestCrossEntropyClassAxis: gpt2's logits are [batch, seq, vocab], so its
// labels must be [batch, seq] (classes last, read from the model's
// metadata), while an explicit ClassAxis overrides it and a bad one fails.
func TestCrossEntropyClassAxis(t *testing.T) {
	fwd, err := models.Build("gpt2", models.Options{Batch: 2, Seq: 8, NoWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		axis    int
		want    []int64
		wantErr bool
	}{
		{0, []int64{2, 8}, false},     // metadata: -1
		{-1, []int64{2, 8}, false},    // explicit last axis
		{1, []int64{2, 50257}, false}, // explicit axis 1: the ONNX layout
		{3, nil, true},                // out of range
	} {
		tm, err := autodiff.Build(fwd, autodiff.Options{ClassAxis: tc.axis})
		if tc.wantErr {
			if err == nil {
				t.Errorf("ClassAxis %d: no error", tc.axis)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ClassAxis %d: %v", tc.axis, err)
		}
		var got []int64
		for _, in := range tm.Proto.Graph.Input {
			if in.GetName() == "labels" {
				for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
					got = append(got, d.GetDimValue())
				}
			}
		}
		if len(got) != len(tc.want) || got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Errorf("ClassAxis %d: labels shape %v, want %v", tc.axis, got, tc.want)
		}
	}
}
