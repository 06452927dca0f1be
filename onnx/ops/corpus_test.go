package ops

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestCorpusEveryValue: on every corpus model (real files made by other
// tools, including ORT training artifacts) our rules alone, without the
// file's value_info, give every value a known size, and no op lacks a rule.
//
// One thing no rule can know is the contents of a tensor fed at run time:
// the cct artifacts take their Reshape shapes and Squeeze axes as graph
// inputs (their values live in the checkpoint, not in the file). The rules
// pass may leave exactly the outputs of such nodes unsized (a node whose
// other inputs are all sized and that reads an integer graph input with no
// value); a second pass takes the declared type of those outputs only, and
// then every value must be sized by the rules, downstream of them included.
// Wherever the file declares a static shape, the rules must agree with it.
func TestCorpusEveryValue(t *testing.T) {
	for _, p := range corpusFiles(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			m, err := onnx.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			g := m.Proto.GetGraph()
			var names []string
			for _, vi := range g.GetInput() {
				names = append(names, vi.GetName())
			}
			for _, init := range g.GetInitializer() {
				names = append(names, init.GetName())
			}
			for _, n := range g.GetNode() {
				for _, o := range n.GetOutput() {
					if o != "" {
						names = append(names, o)
					}
				}
			}
			if len(names) == 0 {
				t.Fatal("no values checked")
			}
			rules, err := infer(m, Options{Batch: 1}, false)
			if err != nil {
				t.Fatal(err)
			}
			// Seed until no more fed-data node becomes inferable (each seed
			// can size the other inputs of the next one).
			seeds := map[string]bool{}
			for {
				more := fedDataOutputs(m, rules)
				for k := range seeds {
					delete(more, k)
				}
				if len(more) == 0 {
					break
				}
				for k := range more {
					seeds[k] = true
				}
				if rules, err = infer(seededModel(m, seeds), Options{Batch: 1}, true); err != nil {
					t.Fatal(err)
				}
			}
			if len(seeds) > 0 {
				t.Logf("%d node outputs depend on the contents of inputs fed at run time; their declared types seed the rules: %v", len(seeds), slices.Sorted(maps.Keys(seeds)))
			}
			declared, err := infer(m, Options{Batch: 1}, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, pass := range []struct {
				what string
				r    *Result
			}{{"rules", rules}, {"rules and value_info", declared}} {
				if len(pass.r.Unknown) > 0 {
					t.Errorf("%s: ops without rules: %v", pass.what, pass.r.Unknown)
				}
				if len(pass.r.Warnings) > 0 {
					t.Errorf("%s: warnings: %s", pass.what, strings.Join(pass.r.Warnings, "; "))
				}
				for _, name := range names {
					tt, ok := pass.r.Values[name]
					if !ok {
						t.Errorf("%s: value %q missing from Result", pass.what, name)
					} else if _, ok := tt.Bytes(); !ok {
						t.Errorf("%s: value %q: size unknown (%v)", pass.what, name, tt)
					}
				}
			}
			// The rules agree with every static shape the file declares.
			for _, vi := range append(append([]*onnxpb.ValueInfoProto(nil), g.GetValueInfo()...), g.GetOutput()...) {
				d := typeOfDeclared(vi)
				got, ok := rules.Values[vi.GetName()]
				if d.Rank < 0 || !ok || !d.Static() || seeds[vi.GetName()] {
					continue
				}
				if !slices.Equal(got.Dims, d.Dims) || got.Elem != d.Elem {
					t.Errorf("value %q: rules give %v, the file declares %v", vi.GetName(), got, d)
				}
			}
		})
	}
}

// fedDataOutputs lists the outputs the rules left unsized of nodes that read
// the contents of an integer graph input with no value (a tensor fed at
// run time) while every other input is sized.
func fedDataOutputs(m *onnx.Model, r *Result) map[string]bool {
	g := m.Proto.GetGraph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	fed := map[string]bool{}
	for _, vi := range g.GetInput() {
		e := onnxpb.TensorProto_DataType(vi.GetType().GetTensorType().GetElemType())
		if !inits[vi.GetName()] && (e == onnxpb.TensorProto_INT64 || e == onnxpb.TensorProto_INT32) {
			fed[vi.GetName()] = true
		}
	}
	out := map[string]bool{}
	for _, n := range g.GetNode() {
		readsFed, sized := false, true
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if fed[in] {
				readsFed = true
			} else if _, ok := r.Values[in].Bytes(); !ok {
				sized = false
			}
		}
		if !readsFed || !sized {
			continue
		}
		for _, o := range n.GetOutput() {
			if _, ok := r.Values[o].Bytes(); o != "" && !ok {
				out[o] = true
			}
		}
	}
	return out
}

// seededModel is m with value_info for the seed values only and untyped
// graph outputs, so that infer's declared types are the seeds' alone.
func seededModel(m *onnx.Model, seeds map[string]bool) *onnx.Model {
	mp := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	g := mp.GetGraph()
	var vis []*onnxpb.ValueInfoProto
	for _, vi := range append(g.GetValueInfo(), g.GetOutput()...) {
		if seeds[vi.GetName()] {
			vis = append(vis, vi)
		}
	}
	g.ValueInfo = vis
	for _, o := range g.GetOutput() {
		o.Type = nil
	}
	return &onnx.Model{Proto: mp}
}

// typeOfDeclared is a value_info's type as infer reads it (no bindings).
func typeOfDeclared(vi *onnxpb.ValueInfoProto) Tensor {
	inf := &inferrer{bind: map[string]int64{}}
	return inf.typeOf(vi.GetType(), false, 0)
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
