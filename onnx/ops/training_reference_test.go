package ops_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

// TestTrainingGraphsAgainstReference builds the training graph (autodiff) of
// every built-in network, checks that every value gets a size and no op
// lacks a rule, and compares our rules (without value_info) with
// onnx.shape_inference on them: backward graphs exercise the shape-arithmetic
// ops (Shape, Expand, ReduceSum with axes inputs, Where, Scatter…).
func TestTrainingGraphsAgainstReference(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the built-in networks")
	}
	ops.RequireOnnxPython(t)
	dir := t.TempDir()
	var paths []string
	byPath := map[string]*onnx.Model{}
	for _, name := range models.Names() {
		m, err := models.Build(name, models.Options{Batch: 1, NoWeights: true}) // default sizes
		if err != nil {
			t.Errorf("models.Build(%s): %v", name, err)
			continue
		}
		tm, err := autodiff.Build(m, autodiff.Options{Batch: 1})
		if err != nil {
			t.Errorf("autodiff.Build(%s): %v", name, err)
			continue
		}
		p := filepath.Join(dir, name+"_train.onnx")
		if err := tm.Save(p); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		byPath[p] = tm
	}
	ref := ops.ReferenceShapesForTest(t, paths, "1")
	for _, p := range paths {
		name := filepath.Base(p)
		r, err := ops.InferRulesOnly(byPath[p], ops.Options{Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Unknown) > 0 || len(r.Warnings) > 0 {
			t.Errorf("%s: ops without rules %v, warnings %v", name, r.Unknown, r.Warnings)
		}
		for v, tt := range r.Values {
			if _, ok := tt.Bytes(); !ok {
				t.Errorf("%s: %s has no size (%v)", name, v, tt)
			}
		}
		if _, err := ops.SplitTraining(byPath[p], nil, ""); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		rm := ref[p]
		if rm.Error != "" {
			t.Errorf("%s: onnx.shape_inference: %s", name, rm.Error)
			continue
		}
		compared, bad := 0, 0
		for v, e := range rm.Values {
			var elem int32
			var dims []int64
			if json.Unmarshal(e[0], &elem) != nil || json.Unmarshal(e[1], &dims) != nil {
				t.Fatalf("bad reference entry %s", v)
			}
			got := r.Values[v]
			if !got.Static() {
				continue
			}
			compared++
			if got.Elem != onnxpb.TensorProto_DataType(elem) || !ops.EqualDims(got.Dims, dims) {
				bad++
				if bad <= 5 {
					t.Errorf("%s: %s: ours %v, onnx %s", name, v, got, fmt.Sprint(onnxpb.TensorProto_DataType(elem), dims))
				}
			}
		}
		t.Logf("%s: %d values, %d compared with onnx, %d disagree", name, len(r.Values), compared, bad)
		if compared == 0 {
			t.Errorf("%s: nothing compared", name)
		}
	}
}
