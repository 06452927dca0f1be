package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute"
)

type fitJSON struct {
	Answers []struct {
		Plan  string
		Point *struct {
			Batch         int64   `json:"batch"`
			TotalBytes    int64   `json:"total_bytes"`
			ResidentBytes int64   `json:"resident_bytes"`
			Overhead      float64 `json:"overhead"`
		}
	}
	Plots     []string
	Rewritten *recompute.RewriteResult
}

func fitRun(t *testing.T, args ...string) fitJSON {
	t.Helper()
	code, stdout, stderr := rwRun(t, append(append([]string{"fit"}, args...), "--json")...)
	if code != 0 {
		t.Fatalf("fit %v: exit %d: %s", args, code, stderr)
	}
	var r fitJSON
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("fit --json: %v\n%s", err, stdout)
	}
	for _, a := range r.Answers {
		if a.Point == nil {
			t.Fatalf("fit %v: %s: nothing fits", args, a.Plan)
		}
	}
	return r
}

// Issue 16's cases: resnet50 in 4 GiB (recomputation fits at least 2.5×
// none's batch), gpt2 with a time-overhead bound, the figure and the
// rewritten model at the fitted batch, and the errors.
func TestFitBatch(t *testing.T) {
	r := fitRun(t, "resnet50", "--memory", "4GiB")
	none, least := r.Answers[0].Point, r.Answers[1].Point
	t.Logf("resnet50 in 4 GiB: none batch %d, approx %d", none.Batch, least.Batch)
	if float64(least.Batch) < 2.5*float64(none.Batch) || least.TotalBytes > 4<<30 || none.TotalBytes > 4<<30 {
		t.Errorf("none batch %d (%d B), approx %d (%d B): want approx ≥ 2.5× none within 4 GiB", none.Batch, none.TotalBytes, least.Batch, least.TotalBytes)
	}

	dir := t.TempDir()
	r = fitRun(t, "gpt2", "--seq", "256", "--memory", "3GiB", "--time-overhead", "25%", "--plot", dir)
	if len(r.Answers) != 3 {
		t.Fatalf("%d answers, want none, least memory and within 25%%", len(r.Answers))
	}
	w := r.Answers[2].Point
	if w.Overhead > 0.25 || w.Batch < r.Answers[0].Point.Batch || w.Batch > r.Answers[1].Point.Batch {
		t.Errorf("within 25%%: batch %d overhead %.3f (none %d, least memory %d)", w.Batch, w.Overhead, r.Answers[0].Point.Batch, r.Answers[1].Point.Batch)
	}
	for _, f := range []string{"gpt2-fit.svg", "gpt2-fit.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Errorf("figure %s: %v", f, err)
		}
	}

	out := filepath.Join(t.TempDir(), "fit.onnx")
	r = fitRun(t, "resnet50", "--size", "64", "--memory", "250MiB", "-o", out)
	if r.Rewritten == nil || r.Rewritten.Status != "ok" {
		t.Fatalf("no rewrite reported: %+v", r.Rewritten)
	}
	g := rwLoadGraph(t, out)
	if d := g.GetInput()[0].GetType().GetTensorType().GetShape().GetDim()[0].GetDimValue(); d != r.Answers[1].Point.Batch {
		t.Errorf("rewritten model's batch %d, fitted %d", d, r.Answers[1].Point.Batch)
	}

	code, _, stderr := rwRun(t, "fit", "resnet50", "--memory", "100MiB")
	if code != 1 || !strings.Contains(stderr, "less than batch 1 needs even with recomputation") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("too little memory: exit %d, %q", code, stderr)
	}
	for _, args := range [][]string{{"fit", "resnet50"}, {"fit", "resnet50", "--memory", "lots"}, {"fit", "resnet50", "--memory", "1GiB", "--time-overhead", "-5%"}} {
		if code, _, stderr := rwRun(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, stderr)
		}
	}
}

// TestFitVerifyUnderLimit is issue 16's check on a real runtime: resnet50
// at 64×64 fitted into 250 MiB (a batch of a few dozen images) and
// rewritten for the least memory; in ONNX Runtime the measured transient
// peak plus the resident parameters and inputs stays within the limit, in
// the controlled session (memory follows what ORT allocates; the kernel
// workspace is in the model and the hidden shapes are not declared, so the
// measurement matches the model to well under 1%: 249.6 MiB here) and
// under ORT's defaults with only the arena off, which fit's report names
// (249.6 MiB here too). The 1 MiB
// allowed above the limit is the RSS measurement's noise floor (pages,
// the process's own small allocations; single-op runs: up to 0.2 MiB).
func TestFitVerifyUnderLimit(t *testing.T) {
	vtNeedORT(t)
	dir := t.TempDir()
	out, orig := filepath.Join(dir, "fit.onnx"), filepath.Join(dir, "orig.onnx")
	const limit = 250 << 20
	r := fitRun(t, "resnet50", "--size", "64", "--memory", "250MiB", "-o", out)
	p := r.Answers[1].Point
	if code, _, stderr := rwRun(t, "rewrite", "resnet50", "--size", "64", "--batch", strconv.FormatInt(p.Batch, 10), "--strategy", "none", "-o", orig); code != 0 {
		t.Fatalf("rewrite --strategy none: %s", stderr)
	}
	measure := func(session ...string) (peak, sim int64) {
		t.Helper()
		code, stdout, stderr := rwRun(t, append([]string{"verify", orig, out, "--runs", "1", "--time-rounds", "0", "--json"}, session...)...)
		if code != 0 {
			t.Fatalf("verify %v: exit %d: %s", session, code, stderr)
		}
		var v struct {
			Identical int   `json:"identical_outputs"`
			Sim       int64 `json:"ort_alloc_rewritten_peak_bytes"`
			Run       struct {
				Peak int64 `json:"peak_bytes"`
			} `json:"rewritten_run"`
		}
		if err := json.Unmarshal([]byte(stdout), &v); err != nil {
			t.Fatal(err)
		}
		total := v.Run.Peak + p.ResidentBytes
		t.Logf("%v: batch %d: measured transient %d B + resident %d B = %.2f MiB (limit 250 MiB); modelled transient %d B", session, p.Batch, v.Run.Peak, p.ResidentBytes, float64(total)/(1<<20), v.Sim)
		if total > limit+1<<20 {
			t.Errorf("%v: measured peak %d B + resident %d B = %d B, above the limit %d B", session, v.Run.Peak, p.ResidentBytes, total, limit)
		}
		return v.Run.Peak, v.Sim
	}
	// The memory model: the controlled session follows liveness.
	if peak, sim := measure("--session", "controlled"); peak-sim > sim/50 || sim-peak > sim/50 {
		t.Errorf("measured transient %d B, modelled %d B: more than 2%% apart", peak, sim)
	}
	// What fit's report promises: ORT's defaults with only the arena off.
	measure("--session", "default", "--arena", "off")
}
