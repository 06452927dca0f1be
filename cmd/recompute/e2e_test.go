package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/internal/testenv"

	"github.com/onnx-recompute/recompute/ort"
)

// e2eCase rewrites a built-in network with the CLI and verifies it against
// the unmodified training graph in ONNX Runtime.
type e2eCase struct {
	name string
	args []string // model flags (the same for building the original) and planner flags
	full bool     // only with RECOMPUTE_E2E=full (minutes of ORT time)
	// Upper bounds of rewritten/original: simulated (file order) and
	// measured peak, in the controlled setting (one thread, optimisations,
	// arena and memory pattern off: memory follows liveness) and under ONNX
	// Runtime's default session options (all optimisations, CPU arena and
	// memory pattern on, default threads: what users run). 0 = only require a
	// reduction (simulated) / log (measured).
	simRatio, measuredRatio, defaultsRatio float64
}

var e2eCases = []e2eCase{
	// Small sizes (RECOMPUTE_E2E=small): the rewrite must recompute (a
	// plan that fell back to none fails), run in ORT and give bit-identical
	// loss and gradients, and the measured peak must drop. Least-memory
	// plans at batch 8, 112x112. Bounds: measured in this test (ORT 1.30,
	// the 2-core CI machine) plus about 0.05: controlled / defaults
	// ResNet-50 0.822-0.824 / 0.737-0.744, GoogLeNet 0.755-0.785 / 0.549-0.553
	// here, but 0.844 / 0.549 in a fresh-clone CI run (GoogLeNet's
	// controlled peak varies most between machines; cause not yet known).
	// At these sizes the weight gradients (outputs, live to the end) bound
	// the saving.
	{name: "resnet50", args: []string{"--batch", "8", "--size", "112"}, measuredRatio: 0.87, defaultsRatio: 0.80},
	{name: "googlenet", args: []string{"--batch", "8", "--size", "112"}, measuredRatio: 0.90, defaultsRatio: 0.62},
	// The sizes of issue 5's "Done when", budgets as users give them (for
	// ORT's modelled peak: rewrite's --budget-model ort). Bounds: measured
	// in this test plus about 0.05: controlled / defaults ResNet-50 0.559 /
	// 0.503 (the budget fitted in ORT's model: 7 plans), GPT-2 0.43 / 0.64
	// (identical under the defaults since the guards leave ORT's fusions
	// alone; the CPU arena then held more: 0.49 before, docs/ORT.md),
	// U-Net 0.533 / 0.615 (no plan meets the budget in ORT's model; the
	// first is kept). Under the defaults ORT's CPU arena holds more than the
	// live tensors; in both settings its allocation planner keeps dead
	// buffers for later tensors of their size (docs/ORT.md).
	{name: "resnet50", args: []string{"--batch", "8", "--size", "224", "--budget", "50%"}, full: true, simRatio: 0.5, measuredRatio: 0.61, defaultsRatio: 0.56},
	{name: "gpt2", args: []string{"--batch", "2", "--seq", "512", "--budget", "50%"}, full: true, simRatio: 0.5, measuredRatio: 0.55, defaultsRatio: 0.72},
	// U-Net at the paper's input size, batch 2 (the paper's is 8). With
	// ConvTranspose's column buffer in the model (743 MB in the first
	// layer's input gradient) the floor is 62% of the none peak, so the
	// budget is 70%; measured 0.414 controlled, 0.518 under the defaults
	// (simulated in file order 0.543).
	{name: "unet", args: []string{"--size", "572", "--batch", "2", "--budget", "70%"}, full: true, simRatio: 0.7, measuredRatio: 0.47, defaultsRatio: 0.57},
}

// e2eVerify is the part of `recompute verify --json` the test reads.
type e2eVerify struct {
	Outputs   []json.RawMessage         `json:"outputs"`
	Identical int                       `json:"identical_outputs"`
	PeakRatio float64                   `json:"peak_ratio"`
	TimeRatio float64                   `json:"time_ratio"`
	Session   string                    `json:"session"`
	Cause     string                    `json:"difference_cause"`
	SimOrig   int64                     `json:"simulated_original_peak_bytes"`
	SimRewr   int64                     `json:"simulated_rewritten_peak_bytes"`
	Clones    struct{ Clones, Ran int } `json:"clones"`
}

// TestE2E: `recompute rewrite NAME` then `recompute verify` against the
// training graph built the same way. Needs ONNX Runtime (scripts/fetch-ort.sh
// or ONNXRUNTIME_LIB) and RECOMPUTE_E2E=small (the small cases) or
// RECOMPUTE_E2E=full (all cases), so that the package's tests stay fast.
func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end ORT runs")
	}
	if _, err := ort.LibraryPath(""); err != nil {
		testenv.Missing(t, "needs ONNX Runtime: %v", err)
	}
	mode := os.Getenv("RECOMPUTE_E2E")
	if mode == "" {
		testenv.Missing(t, "set RECOMPUTE_E2E=small (about 1 minute of ONNX Runtime) or RECOMPUTE_E2E=full (several minutes, the full-size cases); .ci/run sets full")
	}
	full := mode == "full"
	for _, tc := range e2eCases {
		if tc.full && !full {
			continue
		}
		t.Run(tc.name+"_"+filepath.Base(tc.args[len(tc.args)-1]), func(t *testing.T) {
			dir := t.TempDir()
			orig, rw := filepath.Join(dir, "orig.onnx"), filepath.Join(dir, "rewritten.onnx")

			fs := newFlagSet("e2e", "", os.Stderr)
			f := addRewriteFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			tm, err := recompute.TrainingGraph(tc.name, *f.options())
			if err != nil {
				t.Fatal(err)
			}
			if err := tm.Save(orig); err != nil {
				t.Fatal(err)
			}
			tm = nil

			code, stdout, stderr := rwRun(t, append([]string{"rewrite", tc.name, "-o", rw}, tc.args...)...)
			if code != 0 {
				t.Fatalf("rewrite: exit %d: %s", code, stderr)
			}
			t.Log(stdout)
			for _, session := range []string{"controlled", "default"} {
				bound := tc.measuredRatio
				if session == "default" {
					bound = tc.defaultsRatio
				}
				code, stdout, stderr = rwRun(t, "verify", orig, rw, "--json", "--runs", "1", "--time-rounds", "0", "--session", session)
				var v e2eVerify
				if err := json.Unmarshal([]byte(stdout), &v); err != nil {
					t.Fatalf("verify --session %s: exit %d: %v\n%s%s", session, code, err, stderr, stdout)
				}
				if code != 0 || v.Identical == 0 || v.Identical != len(v.Outputs) {
					t.Errorf("--session %s: exit %d, %d of %d outputs bit-identical; cause: %s", session, code, v.Identical, len(v.Outputs), v.Cause)
				}
				sim := float64(v.SimRewr) / float64(v.SimOrig)
				t.Logf("--session %s (%s): simulated peak ratio %.3f, measured %.3f, time ratio %.3f", session, v.Session, sim, v.PeakRatio, v.TimeRatio)
				if v.SimOrig == 0 || sim >= 1 || (tc.simRatio > 0 && sim > tc.simRatio) {
					t.Errorf("simulated peak ratio %.3f (%d -> %d bytes), want below %v", sim, v.SimOrig, v.SimRewr, max(tc.simRatio, 1))
				}
				// Under the defaults ORT fuses some clones into nodes of
				// other names, so only the controlled setting counts them.
				if v.Clones.Clones == 0 || session == "controlled" && v.Clones.Ran != v.Clones.Clones {
					t.Errorf("--session %s: %d clones, %d ran: want a plan that recomputes, every clone run", session, v.Clones.Clones, v.Clones.Ran)
				}
				if bound > 0 && (v.PeakRatio <= 0 || v.PeakRatio > bound) {
					t.Errorf("--session %s: measured peak ratio %.3f, want at most %.2f", session, v.PeakRatio, bound)
				}
			}
		})
	}
}
