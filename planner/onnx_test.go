package planner

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

func loadTraining(t *testing.T, rel, cost string) (*onnx.Model, *Graph) {
	t.Helper()
	m, err := onnx.Load(corpusPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ops.Infer(m, ops.Options{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ops.SplitTraining(m, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	g, err := FromModel(m, r, s, cost)
	if err != nil {
		t.Fatal(err)
	}
	return m, g
}

// FromModel: Ops[i] is node i; inputs, initializers and Constant outputs
// are resident; graph outputs are outputs; only forward ops recompute.
func TestFromModelLenet(t *testing.T) {
	m, g := loadTraining(t, "train/lenet_training_model.onnx", "flops")
	gp := m.Proto.GetGraph()
	if len(g.Ops) != len(gp.GetNode()) {
		t.Fatalf("%d ops for %d nodes", len(g.Ops), len(gp.GetNode()))
	}
	name := map[int]string{}
	for i, v := range g.Values {
		name[i] = v.Name
	}
	for i, n := range gp.GetNode() {
		op := g.Ops[i]
		if op.Type != n.GetOpType() {
			t.Fatalf("op %d is %s, node %d is %s", i, op.Type, i, n.GetOpType())
		}
		k := 0
		for _, in := range n.GetInput() {
			if in == "" {
				continue
			}
			if name[op.Inputs[k]] != in {
				t.Fatalf("op %d input %d is %s, want %s", i, k, name[op.Inputs[k]], in)
			}
			k++
		}
		if op.Backward && op.Recomputable {
			t.Errorf("backward op %d (%s) marked recomputable", i, op.Type)
		}
		if op.Cost <= 0 {
			t.Errorf("op %d (%s) cost %g", i, op.Type, op.Cost)
		}
	}
	resident := map[string]bool{}
	for _, in := range gp.GetInput() {
		resident[in.GetName()] = true
	}
	for _, in := range gp.GetInitializer() {
		resident[in.GetName()] = true
	}
	outputs := map[string]bool{}
	for _, o := range gp.GetOutput() {
		outputs[o.GetName()] = true
	}
	for _, v := range g.Values {
		if resident[v.Name] && !v.Resident {
			t.Errorf("%s should be resident", v.Name)
		}
		if outputs[v.Name] != v.Output {
			t.Errorf("%s: output = %v, want %v", v.Name, v.Output, outputs[v.Name])
		}
	}
	fwd := 0
	for _, op := range g.Ops {
		if !op.Backward {
			fwd++
		}
	}
	if fwd != 13 {
		t.Errorf("%d forward ops, want 13 (Conv…SoftmaxCrossEntropyLoss)", fwd)
	}
	// Every strategy replays and beats or equals none.
	for _, s := range Strategies() {
		p, err := Make(g, Options{Strategy: s, Objective: "memory"})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if _, err := Replay(g, p.Schedule); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		t.Logf("%-6s peak %d of none %d (%.1f%%), overhead %.1f%% of forward FLOPs", s, p.PeakBytes, p.NonePeakBytes,
			100*float64(p.PeakBytes)/float64(p.NonePeakBytes), 100*p.OverheadCost/p.ForwardCost)
	}
}

func TestFromModelCosts(t *testing.T) {
	for _, cost := range []string{"paper", "uniform"} {
		_, g := loadTraining(t, "train/mlp_training_model.onnx", cost)
		for i, op := range g.Ops {
			if op.Cost != 1 && !(cost == "paper" && op.Cost == 10) {
				t.Errorf("%s: op %d (%s) cost %g", cost, i, op.Type, op.Cost)
			}
		}
	}
	m, err := onnx.Load(corpusPath(t, "train/mlp_training_model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := ops.Infer(m, ops.Options{})
	s, _ := ops.SplitTraining(m, nil, "")
	if _, err := FromModel(m, r, s, "guess"); err == nil {
		t.Error("unknown cost model accepted")
	}
	// Symbolic batch without --batch: sizes unknown, warned, still planned.
	g, err := FromModel(m, r, s, "flops")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Warnings) == 0 {
		t.Error("no warning for values of unknown size")
	}
}
