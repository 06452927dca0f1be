package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort/ortorder"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// vtPair builds a built-in network's training graph and its rewrite (plan
// strategy, budget as a fraction of the none peak, ORT guards), makes ORT run
// the file order (ortorder.EnforceOrder, unless the rewrite already does),
// and saves both.
func vtPair(t *testing.T, dir, name string, mopt models.Options, strategy string, budget float64) (string, string) {
	t.Helper()
	fwd, err := models.Build(name, mopt)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := autodiff.Build(fwd, autodiff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ops.Infer(tm, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ops.SplitTraining(tm, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	g, err := planner.FromModel(tm, r, s, "flops")
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Make(g, planner.Options{Strategy: strategy, BudgetFrac: budget})
	if err != nil {
		t.Fatal(err)
	}
	out, rep, err := rewrite.Apply(tm, g, p, rewrite.Options{ORTGuard: true})
	if err != nil {
		t.Fatal(err)
	}
	og := out.Proto.GetGraph()
	if order := ortorder.PredictOrder(og); !slices.IsSorted(order) {
		var opset int64
		for _, o := range out.Proto.GetOpsetImport() {
			if o.GetDomain() == "" {
				opset = o.GetVersion()
			}
		}
		st, err := ortorder.EnforceOrder(og, opset, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: EnforceOrder added %d guards (%d nodes)", name, st.Guards, st.GuardNodes)
	}
	t.Logf("%s: simulated transient peak %d -> %d bytes, %d clones", name, rep.BeforePeakBytes, rep.PeakBytes, rep.Clones)
	orig := filepath.Join(dir, name+".onnx")
	rw := filepath.Join(dir, name+"_rc.onnx")
	if err := tm.Save(orig); err != nil {
		t.Fatal(err)
	}
	if err := out.Save(rw); err != nil {
		t.Fatal(err)
	}
	return orig, rw
}

// TestVerifyBuiltins: rewritten built-in training graphs give bit-identical
// loss and gradients in ORT, and the measured peak follows the simulated
// one. Small sizes, so the weight gradients (outputs, live to the end) bound
// the saving; RECOMPUTE_VERIFY_FULL=1 runs ResNet-50 at batch 8, 224×224
// and requires the 40% measured reduction.
func TestVerifyBuiltins(t *testing.T) {
	vtNeedORT(t)
	type tc struct {
		name     string
		opt      models.Options
		strategy string
		maxRatio float64 // measured rewritten/original peak must not exceed this
	}
	tests := []tc{{"resnet50", models.Options{Batch: 1, Size: 32}, "chen", 1.05}}
	if os.Getenv("RECOMPUTE_VERIFY_FULL") != "" {
		tests = []tc{{"resnet50", models.Options{Batch: 8, Size: 224}, "chen", 0.6}}
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			orig, rw := vtPair(t, t.TempDir(), c.name, c.opt, c.strategy, 0)
			code, out, errOut := mtRun("verify", orig, rw, "--runs", "1", "--json")
			if code != 0 {
				t.Fatalf("verify: exit %d: %s", code, errOut)
			}
			var rep verifyReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: measured %d -> %d bytes (%.3f), simulated %d -> %d, ORT order %d -> %d; clones %d, %d late; %.0fs",
				c.name, rep.Orig.PeakBytes, rep.Rewr.PeakBytes, rep.PeakRatio, rep.SimOrigBytes, rep.SimRewrBytes,
				rep.OrderOrigBytes, rep.OrderRewrBytes, rep.Clones.Clones, rep.Clones.AfterReaders, time.Since(start).Seconds())
			if rep.Identical != len(rep.Outputs) || len(rep.Outputs) == 0 {
				t.Errorf("%d of %d outputs identical", rep.Identical, len(rep.Outputs))
			}
			if rep.OrderRewrBytes != rep.SimRewrBytes {
				t.Errorf("ORT did not run the file order: its order replays to %d bytes, the file order to %d", rep.OrderRewrBytes, rep.SimRewrBytes)
			}
			if rep.Clones.Ran != rep.Clones.Clones || rep.Clones.AfterReaders != rep.Clones.Clones {
				t.Errorf("clones %+v: want all run after their originals' readers", rep.Clones)
			}
			if rep.PeakRatio > c.maxRatio {
				t.Errorf("measured peak ratio %.3f > %.2f", rep.PeakRatio, c.maxRatio)
			}
		})
	}
}
