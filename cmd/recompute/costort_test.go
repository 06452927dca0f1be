package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute"
)

// TestCostORTUsage: --cost takes a file only as ort:FILE.
func TestCostORTUsage(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "resnet50", "--cost", "flops:x.json"},
		{"plan", "resnet50", "--cost", "ort:"},
		{"plan", "resnet50", "--cost", "seconds"},
	} {
		if code, _, stderr := rwRun(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, stderr)
		}
	}
}

// TestCostORT is issue "Plans that hold on the real runtime", item 2:
// --cost ort profiles the training graph in ONNX Runtime once, caches the
// kernel times beside the model and plans with them; a second plan reads
// the cache; ort:FILE reads given times; times of another model are an
// error, not a plan priced by nothing.
func TestCostORT(t *testing.T) {
	vtNeedORT(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "r.onnx")
	if code, _, stderr := rwRun(t, "rewrite", "resnet50", "--size", "32", "--batch", "2", "--strategy", "none", "-o", model); code != 0 {
		t.Fatalf("rewrite --strategy none: %s", stderr)
	}
	cache := model + ".ort-times.json"
	plan := func(args ...string) recompute.PlanReport {
		t.Helper()
		code, stdout, stderr := rwRun(t, append([]string{"plan", model, "--objective", "memory", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("plan %v: exit %d: %s", args, code, stderr)
		}
		var r recompute.PlanReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := plan("--cost", "ort")
	if !strings.Contains(first.CostModel, "cached in "+cache) || !strings.Contains(first.CostModel, "graph optimisations off") {
		t.Errorf("cost model %q: want the cache and the profiling session named", first.CostModel)
	}
	st, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no cache beside the model: %v", err)
	}
	second := plan("--cost", "ort")
	if st2, err := os.Stat(cache); err != nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("second plan profiled again instead of reading the cache")
	}
	if second.OverheadCost != first.OverheadCost || second.PeakBytes != first.PeakBytes {
		t.Errorf("plans from the cache differ: %v/%d vs %v/%d", second.OverheadCost, second.PeakBytes, first.OverheadCost, first.PeakBytes)
	}
	if given := plan("--cost", "ort:"+cache); given.OverheadCost != first.OverheadCost {
		t.Errorf("ort:FILE planned %v, the cache %v", given.OverheadCost, first.OverheadCost)
	}
	flops := plan()
	if flops.CostModel != "" || flops.ForwardCost == first.ForwardCost {
		t.Errorf("--cost flops: cost model %q, forward cost %v (ort: %v)", flops.CostModel, flops.ForwardCost, first.ForwardCost)
	}
	// The recomputed FLOPs are reported whatever the costs: with FLOPs
	// costs they are the overhead itself.
	if flops.RecomputedFLOPs != flops.OverheadCost || (first.OverheadCost > 0 && first.RecomputedFLOPs <= 0) {
		t.Errorf("recomputed FLOPs %v (flops plan's overhead %v), ort plan's %v", flops.RecomputedFLOPs, flops.OverheadCost, first.RecomputedFLOPs)
	}
	// Kernel times of another model name none of this one's nodes.
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"model":"x","node_micros":{"no such node":5}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := rwRun(t, "plan", model, "--cost", "ort:"+other); code != 1 || !strings.Contains(stderr, "times none of the model's") {
		t.Errorf("times of another model: exit %d: %s", code, stderr)
	}
	// rewrite reports the unit and the source of its costs.
	code, stdout, stderr := rwRun(t, "rewrite", model, "--cost", "ort", "-o", filepath.Join(dir, "rc.onnx"))
	if code != 0 {
		t.Fatalf("rewrite --cost ort: %s", stderr)
	}
	if !strings.Contains(stdout, "µs of kernel time recomputed") || !strings.Contains(stdout, "cost model      ONNX Runtime kernel time in µs") {
		t.Errorf("rewrite report does not name the unit and the source of its costs:\n%s", stdout)
	}
}
