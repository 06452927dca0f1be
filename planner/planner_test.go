package planner

import (
	"bytes"
	"errors"
	"math/rand"
	"strings"
	"testing"
)

// chain3 is x -> a -> b -> loss with backward ops reading what a ReLU/conv
// chain would: bytes a=10, b=20, loss=1.
func chain3() *Graph {
	g := &Graph{Values: []Value{
		{Name: "x", Bytes: 100, Resident: true}, // 0
		{Name: "a", Bytes: 10},                  // 1
		{Name: "b", Bytes: 20},                  // 2
		{Name: "loss", Bytes: 1, Output: true},  // 3
		{Name: "grad(loss)", Bytes: 1},          // 4
		{Name: "grad(b)", Bytes: 20},            // 5
		{Name: "grad(a)", Bytes: 10},            // 6
	}}
	g.Ops = []Op{
		{Name: "fa", Inputs: []int{0}, Outputs: []int{1}, Cost: 1, Recomputable: true},
		{Name: "fb", Inputs: []int{1}, Outputs: []int{2}, Cost: 1, Recomputable: true},
		{Name: "fl", Inputs: []int{2}, Outputs: []int{3, 4}, Cost: 1, Recomputable: true},
		{Name: "bl", Backward: true, Inputs: []int{4, 2}, Outputs: []int{5}},
		{Name: "bb", Backward: true, Inputs: []int{5, 1}, Outputs: []int{6}},
		{Name: "ba", Backward: true, Inputs: []int{6}, Outputs: nil},
	}
	g.ForwardCost = 3
	return g
}

func TestReplayLiveness(t *testing.T) {
	g := chain3()
	s := Liveness(g, []int{0, 1, 2, 3, 4, 5})
	r, err := Replay(g, s)
	if err != nil {
		t.Fatal(err)
	}
	// Step "bl": a(10) b(20) loss(1) g(loss)(1) + g(b)(20) = 52, the peak.
	if r.PeakBytes != 52 {
		t.Errorf("peak = %d, want 52; schedule %v timeline %v", r.PeakBytes, s, r.Timeline)
	}
	if last := r.Timeline[len(r.Timeline)-1]; last != 1 {
		t.Errorf("live at end = %d, want 1 (the loss, an output)", last)
	}
	// Recompute a before bb: a is freed after fb, then computed again.
	s = Liveness(g, []int{0, 1, 2, 3, 0, 4, 5})
	r, err = Replay(g, s)
	if err != nil {
		t.Fatal(err)
	}
	if r.OverheadCost != 1 || len(r.Recomputed) != 1 || r.Recomputed[0] != 0 {
		t.Errorf("overhead %g recomputed %v, want 1 [0]", r.OverheadCost, r.Recomputed)
	}
	if r.PeakBytes != 42 { // bl: b loss g(loss) g(b) = 20+1+1+20
		t.Errorf("peak with recompute = %d, want 42 (%v)", r.PeakBytes, s)
	}
}

func TestReplayErrors(t *testing.T) {
	g := chain3()
	cases := []struct {
		name string
		s    Schedule
		want string
	}{
		{"not live", Schedule{Compute(1)}, "reads a, which is not live"},
		{"backward twice", Liveness(g, []int{0, 1, 2, 3, 3, 4, 5}), "runs a second time"},
		{"backward missing", Liveness(g, []int{0, 1, 2, 3, 4}), "never runs"},
		{"free dead", Schedule{FreeStep(1)}, "not live"},
		{"free resident", Schedule{FreeStep(0)}, "resident"},
		{"bad op", Schedule{Compute(99)}, "out of range"},
		{"freed too early", Schedule{Compute(0), FreeStep(1), Compute(1)}, "not live"},
	}
	for _, c := range cases {
		_, err := Replay(g, c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

// bruteForce returns the least (or, memoryCentric, the greatest) DP
// overhead over every chain of lower sets ∅ ⊊ L1 ⊊ … ⊊ V whose DP peak fits
// B, by depth-first search over the whole family.
func bruteForce(m *dpModel, B int64, memoryCentric bool) (int64, bool) {
	best, found := int64(0), false
	last := len(m.fam) - 1
	var dfs func(i int, mem, t int64)
	dfs = func(i int, mem, t int64) {
		if i == last {
			if !found || (!memoryCentric && t < best) || (memoryCentric && t > best) {
				best, found = t, true
			}
			return
		}
		for j := i + 1; j < len(m.fam); j++ {
			if m.fam[j].size <= m.fam[i].size || !m.fam[i].bits.subsetOf(m.fam[j].bits) {
				continue
			}
			e := m.pair(i, j)
			if mem+e.peak > B {
				continue
			}
			dfs(j, mem+e.dm, t+int64(e.dt))
		}
	}
	dfs(0, 0, 0)
	return best, found
}

// exactDAG is g's DAG and its exact lower-set family.
func exactDAG(t *testing.T, g *Graph) (*dag, []lowerSet) {
	t.Helper()
	ix, err := g.index()
	if err != nil {
		t.Fatal(err)
	}
	d := buildDAG(g, ix)
	fam, err := d.exactFamily(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return d, fam
}

// replayText writes s in the paper's text format, reads it back and
// replays it.
func replayText(t *testing.T, g *Graph, s Schedule) (*Replayed, error) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSchedule(&buf, g, s); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadSchedule(strings.NewReader(buf.String()), g)
	if err != nil {
		t.Fatal(err)
	}
	return Replay(g, rs)
}

func TestExactDPMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 60; trial++ {
		g := randomGraph(rng, 2+rng.Intn(6), trial%2 == 1)
		d, fam := exactDAG(t, g)
		m := newDPModel(d, fam)
		am := newDPModel(d, d.approxFamily())
		hi := m.predict([]int{len(fam) - 1})
		for _, frac := range []float64{0.3, 0.5, 0.7, 0.85, 1} {
			B := int64(frac * float64(hi))
			for _, mc := range []bool{false, true} {
				want, wok := bruteForce(m, B, mc)
				got, ok := m.solve(B, mc)
				if ok != wok || (ok && got.overhead != want) {
					t.Fatalf("trial %d B=%d mc=%v: DP (%v, %d), brute force (%v, %d)", trial, B, mc, ok, got.overhead, wok, want)
				}
				if ok {
					if p := m.predict(got.seq); p > B {
						t.Fatalf("trial %d: DP sequence predicts %d > budget %d", trial, p, B)
					}
					if o := m.overheadOf(got.seq); o != got.overhead {
						t.Fatalf("trial %d: DP overhead %d, sequence evaluates to %d", trial, got.overhead, o)
					}
				}
				// exact is never worse than approx (its family is a superset).
				if a, aok := am.solve(B, mc); aok {
					if !ok {
						t.Fatalf("trial %d B=%d: approx feasible, exact not", trial, B)
					}
					if (!mc && got.overhead > a.overhead) || (mc && got.overhead < a.overhead) {
						t.Fatalf("trial %d B=%d mc=%v: exact overhead %d worse than approx %d", trial, B, mc, got.overhead, a.overhead)
					}
				}
			}
		}
	}
}

// Every plan of every strategy replays, is never worse than none, fits its
// budget or says why not, and exact is never worse than approx.
func TestPlansReplay(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for trial := 0; trial < 40; trial++ {
		g := randomGraph(rng, 3+rng.Intn(12), trial%3 == 2)
		peaks := map[string]int64{}
		for _, strat := range []string{"none", "chen", "approx", "exact"} {
			for _, opt := range []Options{
				{Strategy: strat, Objective: "memory"},
				{Strategy: strat, Objective: "time"},
				{Strategy: strat, Objective: "time", BudgetFrac: 0.8},
				{Strategy: strat, Objective: "memory", BudgetFrac: 0.9},
			} {
				p, err := Make(g, opt)
				var ie *InfeasibleError
				if errors.As(err, &ie) {
					if ie.MinBytes <= ie.BudgetBytes {
						t.Fatalf("trial %d %+v: infeasible with min %d <= budget %d", trial, opt, ie.MinBytes, ie.BudgetBytes)
					}
					continue
				}
				if err != nil {
					t.Fatalf("trial %d %+v: %v", trial, opt, err)
				}
				r, err := Replay(g, p.Schedule)
				if err != nil {
					t.Fatalf("trial %d %+v: schedule does not replay: %v", trial, opt, err)
				}
				if r.PeakBytes != p.PeakBytes || r.OverheadCost != p.OverheadCost {
					t.Fatalf("trial %d %+v: replay %d/%g, plan says %d/%g", trial, opt, r.PeakBytes, r.OverheadCost, p.PeakBytes, p.OverheadCost)
				}
				if p.PeakBytes > p.NonePeakBytes {
					t.Fatalf("trial %d %+v: peak %d above none %d", trial, opt, p.PeakBytes, p.NonePeakBytes)
				}
				if p.BudgetBytes > 0 && p.PeakBytes > p.BudgetBytes {
					t.Fatalf("trial %d %+v: peak %d above budget %d", trial, opt, p.PeakBytes, p.BudgetBytes)
				}
				if opt.Objective == "memory" && opt.BudgetFrac == 0 {
					peaks[strat] = p.PeakBytes
				}
			}
		}
		if peaks["exact"] > peaks["approx"] {
			t.Fatalf("trial %d: exact memory peak %d above approx %d", trial, peaks["exact"], peaks["approx"])
		}
	}
}

func TestTooManyLowerSets(t *testing.T) {
	// A wide graph: 12 independent branches into the loss: 2^12 lower sets.
	g := &Graph{Values: []Value{{Name: "x", Bytes: 1, Resident: true}}}
	var ins []int
	for i := 0; i < 12; i++ {
		g.Values = append(g.Values, Value{Name: "a", Bytes: 1})
		v := len(g.Values) - 1
		ins = append(ins, v)
		g.Ops = append(g.Ops, Op{Name: "f", Inputs: []int{0}, Outputs: []int{v}, Cost: 1, Recomputable: true})
	}
	g.Values = append(g.Values, Value{Name: "loss", Bytes: 1, Output: true})
	g.Ops = append(g.Ops, Op{Name: "loss", Inputs: ins, Outputs: []int{len(g.Values) - 1}, Cost: 1, Recomputable: true})
	// b writes a gradient larger than the rest, so that the none peak (b's
	// inputs, the loss and its output) lies above the floor (b's working
	// set) and the strategy has to search.
	g.Values = append(g.Values, Value{Name: "gx", Bytes: 100})
	g.Ops = append(g.Ops, Op{Name: "b", Backward: true, Inputs: ins, Outputs: []int{len(g.Values) - 1}})
	_, err := Make(g, Options{Strategy: "exact", MaxLowerSets: 1000})
	var te *TooManyLowerSetsError
	if !errors.As(err, &te) || te.Count != 4097 || !strings.Contains(err.Error(), "approx") {
		t.Fatalf("err = %v, want TooManyLowerSetsError counting 4097 and suggesting approx", err)
	}
	if _, err := Make(g, Options{Strategy: "approx"}); err != nil {
		t.Fatal(err)
	}
}

// Without a budget, a plan must lower the none peak by at least 0.1% to
// be worth its recomputation; with a budget any plan within it counts.
func TestMinimumGainOverNone(t *testing.T) {
	// The chain graph with a of 1 byte and b, gb of 100,000: keeping a to gA
	// peaks at gB with a, b and gb (200,001 bytes); rerunning A before gA
	// frees a there (200,000): one byte less for a rerun.
	g := chainGraph()
	g.Values[1].Bytes = 1
	g.Values[2].Bytes = 100_000
	g.Values[3].Bytes = 100_000
	p, err := Make(g, Options{Strategy: "approx", Objective: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	if p.NonePeakBytes != 200_001 || p.OverheadCost != 0 || p.PeakBytes != p.NonePeakBytes {
		t.Errorf("peak %d (none %d) at overhead %v: want none (200001) kept", p.PeakBytes, p.NonePeakBytes, p.OverheadCost)
	}
	p, err = Make(g, Options{Strategy: "approx", Objective: "memory", BudgetBytes: 200_000})
	if err != nil {
		t.Fatalf("budget 200000: %v", err)
	}
	if p.PeakBytes != 200_000 || p.OverheadCost == 0 {
		t.Errorf("budget 200000: peak %d at overhead %v; want the rerun", p.PeakBytes, p.OverheadCost)
	}
}
