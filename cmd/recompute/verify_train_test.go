package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/models/ortartifact"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort/trainort"
)

// vtNeedTraining skips when Node.js or ORT's training build is absent
// (.ci/run installs both).
func vtNeedTraining(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs ORT's training build")
	}
	if err := trainort.Available(); err != nil {
		testenv.Missing(t, "%s", err.Error())
	}
}

// Every ORT training artifact of the corpus, rewritten, verifies on ORT's
// training kernels: loss and every gradient bit-identical, measured peaks
// reported, in the controlled setting and under the runtime's defaults.
func TestVerifyTrainingArtifacts(t *testing.T) {
	vtNeedTraining(t)
	dir := rwCorpus(t, "train")
	files, _ := filepath.Glob(filepath.Join(dir, "*_training_model.onnx"))
	if len(files) < 4 {
		t.Fatalf("found %d training artifacts, want lenet, mlp, mobilenetv2_head and cct", len(files))
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rc.onnx")
			if code, _, stderr := rwRun(t, "rewrite", in, "-o", out, "--batch", "8"); code != 0 {
				t.Fatalf("rewrite: exit %d: %s", code, stderr)
			}
			for _, session := range []string{"controlled", "default"} {
				code, stdout, stderr := rwRun(t, "verify", in, out, "--batch", "8", "--runs", "1", "--time-rounds", "0", "--session", session, "--json")
				var v struct {
					Runtime   string            `json:"runtime"`
					Outputs   []json.RawMessage `json:"outputs"`
					Identical int               `json:"identical_outputs"`
					PeakRatio float64           `json:"peak_ratio"`
					Orig      struct {
						Peak int64 `json:"peak_bytes"`
					} `json:"original_run"`
					Rewr struct {
						Peak int64 `json:"peak_bytes"`
					} `json:"rewritten_run"`
					Session string `json:"session"`
				}
				if err := json.Unmarshal([]byte(stdout), &v); err != nil {
					t.Fatalf("--session %s: exit %d: %v\n%s%s", session, code, err, stderr, stdout)
				}
				if code != 0 || v.Runtime != "training" || v.Identical == 0 || v.Identical != len(v.Outputs) {
					t.Errorf("--session %s: exit %d, runtime %q, %d of %d outputs identical: %s", session, code, v.Runtime, v.Identical, len(v.Outputs), stderr)
				}
				if v.Orig.Peak <= 0 || v.Rewr.Peak <= 0 {
					t.Errorf("--session %s: peaks %d, %d bytes: want both measured", session, v.Orig.Peak, v.Rewr.Peak)
				}
				t.Logf("%s: %d outputs identical, measured peak %.1f -> %.1f MiB (ratio %.3f)", v.Session, v.Identical, float64(v.Orig.Peak)/(1<<20), float64(v.Rewr.Peak)/(1<<20), v.PeakRatio)
			}
		})
	}
}

// A model with an op the training runtime lacks: one line naming it.
func TestVerifyTrainingMissingOp(t *testing.T) {
	vtNeedTraining(t)
	dir := t.TempDir()
	m := vtChain(t, dir, "orig", false, false)
	code, _, stderr := rwRun(t, "verify", m, m, "--runtime", "training", "--runs", "1")
	// Einsum runs, so the chain verifies; now an op nobody has.
	if code != 0 {
		t.Fatalf("a standard-op model on the training runtime: exit %d: %s", code, stderr)
	}
	bad := vtUnknownOp(t, dir)
	code, _, stderr = rwRun(t, "verify", bad, bad, "--runtime", "training", "--runs", "1")
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "NoSuchOp") {
		t.Errorf("exit %d, stderr %q: want exit 1 and one line naming NoSuchOp", code, stderr)
	}
}

// vtUnknownOp writes a model whose only node is com.example:NoSuchOp.
func vtUnknownOp(t *testing.T, dir string) string {
	t.Helper()
	f32 := onnxpb.TensorProto_FLOAT
	b := build.New("unknown")
	b.Input("x", f32, []int64{4})
	n := b.Node("NoSuchOp", "weird", []string{"x"}, []string{"y"})
	n.Domain = proto.String("com.example")
	b.Output("y", f32, []int64{4})
	path := filepath.Join(dir, "unknown.onnx")
	m := build.Model(b.G, 17, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
	if err := (&onnx.Model{Proto: m}).Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A ResNet-18 training artifact in ORT's own form (ConvGrad,
// BatchNormalizationGrad, MaxPoolGrad, InPlaceAccumulatorV2; built by
// models/ortartifact), batch 8 at 224×224, rewritten at a 50% budget:
// identical loss and gradients on ORT's training kernels, and the measured
// saving follows the simulated one (issue 13: within 0.15, below 0.6).
// Measured on the 2-core machine (controlled setting): 259.9 -> 136.3 MiB
// (0.524) against 0.497 simulated; before the rewrite hid the input shapes
// from ORT's planner, 0.684.
func TestVerifyTrainingResNetArtifact(t *testing.T) {
	vtNeedTraining(t)
	if os.Getenv("RECOMPUTE_E2E") != "full" {
		testenv.Missing(t, "set RECOMPUTE_E2E=full (about a minute of ORT's training build); .ci/run sets it")
	}
	dir := t.TempDir()
	art := filepath.Join(dir, "resnet18_training_model.onnx")
	if err := (&onnx.Model{Proto: ortartifact.ResNet(ortartifact.ResNet18(8, 224))}).Save(art); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rc.onnx")
	code, stdout, stderr := rwRun(t, "rewrite", art, "-o", out, "--budget", "50%")
	if code != 0 {
		t.Fatalf("rewrite: exit %d: %s", code, stderr)
	}
	t.Log(stdout)
	code, stdout, stderr = rwRun(t, "verify", art, out, "--session", "controlled", "--runs", "1", "--json")
	var v e2eVerify
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("verify: exit %d: %v\n%s%s", code, err, stderr, stdout)
	}
	if code != 0 || v.Identical == 0 || v.Identical != len(v.Outputs) {
		t.Errorf("exit %d, %d of %d outputs identical: %s", code, v.Identical, len(v.Outputs), stderr)
	}
	sim := float64(v.SimRewr) / float64(v.SimOrig)
	t.Logf("%s: measured peak ratio %.3f, simulated %.3f, time ratio %.3f", v.Session, v.PeakRatio, sim, v.TimeRatio)
	if sim > 0.5 || v.PeakRatio <= 0 || v.PeakRatio >= 0.6 || math.Abs(v.PeakRatio-sim) > 0.15 {
		t.Errorf("simulated ratio %.3f (want at most 0.5), measured %.3f (want below 0.6 and within 0.15 of the simulated)", sim, v.PeakRatio)
	}
}
