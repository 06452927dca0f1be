package planner

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
)

// The floor is a lower bound on every plan's replayed peak, on random
// graphs and every strategy.
func TestFloorBoundsEveryPlan(t *testing.T) {
	g := chain3()
	f := Floors(g)
	// bl reads g(loss) 1 and b 20 and writes g(b) 20: 41; outputs: loss 1.
	if f.StepBytes != 41 || f.OutputBytes != 1 || f.Bytes != 41 || g.Ops[f.StepOp].Name != "bl" {
		t.Errorf("floor %+v, want step 41 at bl, outputs 1", f)
	}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 30; i++ {
		g := randomGraph(rng, 12+rng.Intn(20), i%3 == 0)
		f := Floors(g)
		for _, s := range []string{"none", "chen", "approx"} {
			p, err := Make(g, Options{Strategy: s, Objective: "memory"})
			if err != nil {
				t.Fatalf("graph %d %s: %v", i, s, err)
			}
			if p.PeakBytes < f.Bytes {
				t.Fatalf("graph %d %s: peak %d below the floor %d", i, s, p.PeakBytes, f.Bytes)
			}
			if p.Floor != f {
				t.Errorf("graph %d: plan's floor %+v, want %+v", i, p.Floor, f)
			}
		}
	}
}

// When the outputs that live to the end make the none peak the floor (the
// weight gradients of a frozen-free fine-tune, a transformer's output
// floor), Make answers at once: none, a note naming the floor, and for a
// lower budget an InfeasibleError that says why.
func TestOnFloorAnswersAtOnce(t *testing.T) {
	g := chain3()
	// grad(a) lives to the end and dominates: the none peak is at bb,
	// g(b), a and g(a) (1030 bytes), bb's working set.
	g.Values[6].Output = true
	g.Values[6].Bytes = 1000
	g.Values[3].Bytes = 0 // the loss
	p, err := Make(g, Options{Strategy: "approx", Objective: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	if p.PeakBytes != p.NonePeakBytes || !strings.Contains(p.Note, "no plan can lower the peak") || !strings.Contains(p.Note, "outputs that live to the end") {
		t.Errorf("peak %d (none %d), note %q", p.PeakBytes, p.NonePeakBytes, p.Note)
	}
	_, err = Make(g, Options{Strategy: "approx", BudgetBytes: 50})
	var ie *InfeasibleError
	if !errors.As(err, &ie) || ie.MinBytes != p.NonePeakBytes || !strings.Contains(ie.Error(), "floor") {
		t.Errorf("budget below the floor: %v", err)
	}
}
