package bench

import (
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/ort/ortorder"
)

// The rewrite bench measures is the one `recompute rewrite` writes: every
// value it adds outside the guards (the clones' outputs) is declared with
// its element type from shape inference. Without the inferred types the
// clones were untyped, ORT's shape-checking fusions fused the rewrite
// differently from the original, and under ORT's defaults the measured
// gpt2 outputs differed.
func TestMeasureRewriteTypesClones(t *testing.T) {
	for _, nw := range []MeasureNet{{Name: "llama", Batch: 2, Seq: 64}, {Name: "gpt2", Batch: 1, Seq: 128}} {
		t.Run(nw.Name, func(t *testing.T) {
			train, rw, rep, _, _, err := measureRewrite(nw, "test")
			if err != nil {
				t.Fatal(err)
			}
			if rep.Clones == 0 {
				t.Fatalf("no clones: the case must exercise recomputation")
			}
			had := map[string]bool{}
			for _, n := range train.Proto.GetGraph().GetNode() {
				for _, o := range n.GetOutput() {
					had[o] = true
				}
			}
			typed := map[string]bool{}
			for _, vi := range rw.Proto.GetGraph().GetValueInfo() {
				if vi.GetType().GetTensorType().GetElemType() != 0 {
					typed[vi.GetName()] = true
				}
			}
			added, untyped := 0, []string{}
			for _, n := range rw.Proto.GetGraph().GetNode() {
				if strings.HasPrefix(n.GetName(), ortorder.GuardPrefix) {
					continue
				}
				for _, o := range n.GetOutput() {
					if o == "" || had[o] {
						continue
					}
					added++
					if !typed[o] {
						untyped = append(untyped, o)
					}
				}
			}
			t.Logf("%d clones, %d values added outside guards", rep.Clones, added)
			if len(untyped) > 0 {
				t.Errorf("%d of %d added values have no typed value_info, first %q", len(untyped), added, untyped[0])
			}
		})
	}
}
