package ortartifact

import (
	"context"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort"
	"github.com/onnx-recompute/recompute/ort/trainort"
)

// The artifact is a training graph our tools read: every value sized, the
// loss found, gradient ops only in the backward part.
func TestResNetShapes(t *testing.T) {
	m := &onnx.Model{Proto: ResNet(ResNet18(2, 64))}
	r, err := ops.Infer(m, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Unknown) > 0 || len(r.Warnings) > 0 {
		t.Fatalf("unknown ops %v, warnings %v", r.Unknown, r.Warnings)
	}
	for _, n := range m.Proto.GetGraph().GetNode() {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, ok := r.Values[o].Bytes(); !ok {
				t.Errorf("%s: size unknown", o)
			}
		}
	}
	s, err := ops.SplitTraining(m, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Loss[0] != "loss" || s.NumForward == 0 || s.NumBackward <= s.NumForward {
		t.Errorf("loss %v, %d forward, %d backward", s.Loss, s.NumForward, s.NumBackward)
	}
	if p := os.Getenv("ORTARTIFACT_OUT"); p != "" {
		// Write a full-size artifact for experiments: ORTARTIFACT_OUT=f.onnx.
		if err := (&onnx.Model{Proto: ResNet(ResNet18(8, 224))}).Save(p); err != nil {
			t.Fatal(err)
		}
	}
}

// It runs on ORT's training kernels, reproducibly.
func TestResNetRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node.js")
	}
	if err := trainort.Available(); err != nil {
		testenv.Missing(t, "%s", err.Error())
	}
	m := &onnx.Model{Proto: ResNet(ResNet18(2, 64))}
	path := filepath.Join(t.TempDir(), "resnet18.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	p := trainort.Prepare(m.Proto)
	pp := filepath.Join(t.TempDir(), "prepared.onnx")
	if err := (&onnx.Model{Proto: p.Model}).Save(pp); err != nil {
		t.Fatal(err)
	}
	in, err := ort.RandomInputs(m, ort.InputOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := trainort.Run(context.Background(), pp, in, nil, trainort.Options{Runs: 1, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Deterministic || len(p.Gradients) != 62 {
		t.Errorf("deterministic %v, %d gradients exposed (want 62: 20 convs, 20 BNs x2, fc x2)", res.Deterministic, len(p.Gradients))
	}
	t.Logf("loss %.4f, peak %.1f MiB, %.2fs", res.Outputs[0].Float64At(0), float64(res.PeakBytes)/(1<<20), res.Seconds[0])
}
