package ops

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
)

// TestCorpusEveryValue: on every corpus model (real files made by other
// tools, including ORT training artifacts) our rules alone, without the
// file's value_info, give every value a known size, and no op lacks a rule.
func TestCorpusEveryValue(t *testing.T) {
	for _, p := range corpusFiles(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			m, err := onnx.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, useDeclared := range []bool{false, true} {
				r, err := infer(m, Options{Batch: 1}, useDeclared)
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Unknown) > 0 {
					t.Errorf("ops without rules: %v", r.Unknown)
				}
				if len(r.Warnings) > 0 {
					t.Errorf("warnings: %s", strings.Join(r.Warnings, "; "))
				}
				g := m.Proto.GetGraph()
				names := 0
				check := func(name string) {
					if name == "" {
						return
					}
					names++
					tt, ok := r.Values[name]
					if !ok {
						t.Errorf("value %q missing from Result", name)
						return
					}
					if _, ok := tt.Bytes(); !ok {
						t.Errorf("value %q: size unknown (%v), value_info used: %v", name, tt, useDeclared)
					}
				}
				for _, vi := range g.GetInput() {
					check(vi.GetName())
				}
				for _, init := range g.GetInitializer() {
					check(init.GetName())
				}
				for _, n := range g.GetNode() {
					for _, o := range n.GetOutput() {
						check(o)
					}
				}
				if names == 0 {
					t.Fatal("no values checked")
				}
			}
		})
	}
}

// TestCorpusTrainingSplit: the ORT training artifacts split at their loss.
func TestCorpusTrainingSplit(t *testing.T) {
	files := corpusFiles(t)
	want := map[string]struct {
		loss      string
		fwd, bwd  int
		forwardOp []string // op types that must all be forward
	}{
		"lenet_training_model.onnx": {"onnx::loss::2", 13, 32, []string{"Conv", "MaxPool", "SoftmaxCrossEntropyLoss"}},
		"mlp_training_model.onnx":   {"onnx::loss::6", 4, 13, []string{"SoftmaxCrossEntropyLoss"}},
	}
	seen := 0
	for _, p := range files {
		w, ok := want[filepath.Base(p)]
		if !ok {
			continue
		}
		seen++
		m, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, loss := range []string{"", w.loss} {
			s, err := SplitTraining(m, nil, loss)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if len(s.Loss) != 1 || s.Loss[0] != w.loss || s.NumForward != w.fwd || s.NumBackward != w.bwd {
				t.Errorf("%s (loss %q): got loss %v fwd %d bwd %d, want %s %d %d", filepath.Base(p), loss, s.Loss, s.NumForward, s.NumBackward, w.loss, w.fwd, w.bwd)
			}
			for i, n := range m.Proto.GetGraph().GetNode() {
				if IsGradientOp(n) && s.Forward[i] {
					t.Errorf("gradient op %s in forward part", nodeLabel(n))
				}
				for _, op := range w.forwardOp {
					if n.GetOpType() == op && !s.Forward[i] {
						t.Errorf("%s in backward part", nodeLabel(n))
					}
				}
			}
		}
	}
	// The loss need not be a graph output: it is found as the first output
	// of SoftmaxCrossEntropyLoss.
	for _, p := range files {
		if filepath.Base(p) != "lenet_training_model.onnx" {
			continue
		}
		m, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		g := m.Proto.GetGraph()
		g.Output = g.Output[1:]
		s, err := SplitTraining(m, nil, "")
		if err != nil || s.Loss[0] != "onnx::loss::2" || s.NumForward != 13 {
			t.Errorf("loss not a graph output: %+v %v", s, err)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of %d training artifacts in the corpus", seen, len(want))
	}
	// Forward-only and eval models have no backward part: a clear error.
	for _, p := range files {
		b := filepath.Base(p)
		if !strings.Contains(b, "forward") && !strings.Contains(b, "eval") {
			continue
		}
		m, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SplitTraining(m, nil, ""); err == nil || !strings.Contains(err.Error(), "loss") {
			t.Errorf("%s: want a no-loss/no-backward error, got %v", b, err)
		}
	}
}
