package planner

import (
	"fmt"
	"math/rand"
	"testing"
)

// blockChain is a chain of forward ops whose costs and output sizes repeat
// pattern (one entry per op: cost, bytes), like conv → BN → ReLU blocks.
// Backward op i reads the gradient of op i's output, op i's input and its
// output, and writes the gradient of its input.
func blockChain(blocks int, pattern [][2]float64) *Graph {
	g := &Graph{}
	add := func(v Value) int { g.Values = append(g.Values, v); return len(g.Values) - 1 }
	x := add(Value{Name: "x", Bytes: 100, Resident: true})
	var acts, grads []int
	prev := x
	n := blocks * len(pattern)
	for i := 0; i < n; i++ {
		cb := pattern[i%len(pattern)]
		a := add(Value{Name: fmt.Sprintf("a%d", i), Bytes: int64(cb[1])})
		gr := add(Value{Name: fmt.Sprintf("grad(a%d)", i), Bytes: int64(cb[1])})
		g.Ops = append(g.Ops, Op{Name: fmt.Sprintf("f%d", i), Type: "F", Inputs: []int{prev}, Outputs: []int{a}, Cost: cb[0], Recomputable: true})
		g.ForwardCost += cb[0]
		acts, grads = append(acts, a), append(grads, gr)
		prev = a
	}
	loss := add(Value{Name: "loss", Bytes: 1, Output: true})
	gl := add(Value{Name: "grad(loss)", Bytes: 1})
	g.Ops = append(g.Ops, Op{Name: "loss", Type: "L", Inputs: []int{prev}, Outputs: []int{loss, gl}, Cost: 1, Recomputable: true})
	g.ForwardCost++
	g.Ops = append(g.Ops, Op{Name: "bloss", Type: "B", Backward: true, Inputs: []int{gl, prev}, Outputs: []int{grads[n-1]}})
	for i := n - 1; i >= 0; i-- {
		in := x
		if i > 0 {
			in = acts[i-1]
		}
		op := Op{Name: fmt.Sprintf("b%d", i), Type: "B", Backward: true, Inputs: []int{grads[i], in, acts[i]}}
		if i > 0 {
			op.Outputs = []int{grads[i-1]}
		}
		g.Ops = append(g.Ops, op)
	}
	return g
}

// inception is a series of modules, each of branches parallel branches
// expensive op → cheap op (cost, bytes of each from branch) joined by a
// cheap concatenation, like GoogLeNet. Backward ops read each op's inputs
// and output. The approx family's lower sets are ancestor sets, so a cut
// inside a module takes whole branches: the DP recomputes the expensive
// ops of the other branches with the cheap ones.
func inception(modules, branches int, exp, cheap [2]float64) *Graph {
	g := &Graph{}
	add := func(v Value) int { g.Values = append(g.Values, v); return len(g.Values) - 1 }
	grad := map[int]int{}
	actv := func(name string, bytes int64) int {
		a := add(Value{Name: name, Bytes: bytes})
		grad[a] = add(Value{Name: "grad(" + name + ")", Bytes: bytes})
		return a
	}
	x := add(Value{Name: "x", Bytes: 100, Resident: true})
	type fwd struct {
		ins []int
		out int
	}
	var fw []fwd
	op := func(name string, cost float64, ins []int, out int) {
		g.Ops = append(g.Ops, Op{Name: name, Type: "F", Inputs: ins, Outputs: []int{out}, Cost: cost, Recomputable: true})
		g.ForwardCost += cost
		fw = append(fw, fwd{ins, out})
	}
	in := x
	for m := 0; m < modules; m++ {
		var cat []int
		var bytes int64
		for b := 0; b < branches; b++ {
			e := actv(fmt.Sprintf("e%d_%d", m, b), int64(exp[1]))
			op(fmt.Sprintf("exp%d_%d", m, b), exp[0], []int{in}, e)
			c := actv(fmt.Sprintf("c%d_%d", m, b), int64(cheap[1]))
			op(fmt.Sprintf("cheap%d_%d", m, b), cheap[0], []int{e}, c)
			cat = append(cat, c)
			bytes += int64(cheap[1])
		}
		out := actv(fmt.Sprintf("cat%d", m), bytes)
		op(fmt.Sprintf("concat%d", m), 1, cat, out)
		in = out
	}
	loss := add(Value{Name: "loss", Bytes: 1, Output: true})
	gl := add(Value{Name: "grad(loss)", Bytes: 1})
	g.Ops = append(g.Ops, Op{Name: "loss", Type: "L", Inputs: []int{in}, Outputs: []int{loss, gl}, Cost: 1, Recomputable: true})
	g.ForwardCost++
	g.Ops = append(g.Ops, Op{Name: "bloss", Type: "B", Backward: true, Inputs: []int{gl, in}, Outputs: []int{grad[in]}})
	// Backward in reverse; a gradient read by several ops accumulates in
	// place (the cg convention: several writers).
	for i := len(fw) - 1; i >= 0; i-- {
		f := fw[i]
		o := Op{Name: fmt.Sprintf("b%d", i), Type: "B", Backward: true, Inputs: append([]int{grad[f.out], f.out}, f.ins...)}
		for _, v := range f.ins {
			if v != x {
				o.Outputs = append(o.Outputs, grad[v])
			}
		}
		g.Ops = append(g.Ops, o)
	}
	return g
}

// withDPOnly registers, for the test, a strategy that is approx without
// the cost-aware candidates: the pure DP (with refine) to compare against.
func withDPOnly(t *testing.T) string {
	t.Helper()
	const name = "test-dp-only"
	strategies[name] = func(c *planCtx) error { return c.searchDP(newDPModel(c.d, c.d.approxFamily())) }
	t.Cleanup(func() { delete(strategies, name) })
	return name
}

// On inception-like graphs the cost-aware candidates keep the expensive
// outputs inside segments: less recomputation than the pure DP at the same
// budget, both replayed within it; elsewhere never more.
func TestHybridBeatsDP(t *testing.T) {
	dpOnly := withDPOnly(t)
	for _, tc := range []struct {
		name  string
		g     *Graph
		frac  float64
		lower bool // strictly less overhead (else: not more)
	}{
		{"inception 3 branches 70%", inception(6, 3, [2]float64{100, 10}, [2]float64{1, 10}), 0.7, true},
		{"inception 2 branches 60%", inception(8, 2, [2]float64{50, 8}, [2]float64{1, 16}), 0.6, true},
		// A cut after each expensive op is a lower set: the DP needs no help.
		{"inception 3 branches 50%", inception(6, 3, [2]float64{100, 10}, [2]float64{1, 10}), 0.5, false},
		{"conv-bn-relu chain 50%", blockChain(8, [][2]float64{{100, 10}, {1, 10}, {1, 10}}), 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g
			opt := Options{Strategy: "approx", Objective: "time", BudgetFrac: tc.frac}
			p, err := Make(g, opt)
			if err != nil {
				t.Fatal(err)
			}
			opt.Strategy = dpOnly
			q, err := Make(g, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []*Plan{p, q} {
				r, err := Replay(g, x.Schedule)
				if err != nil {
					t.Fatalf("%s: %v", x.Strategy, err)
				}
				if r.PeakBytes > x.BudgetBytes || r.OverheadCost != x.OverheadCost {
					t.Fatalf("%s: replay peak %d (budget %d), overhead %g (plan %g)", x.Strategy, r.PeakBytes, x.BudgetBytes, r.OverheadCost, x.OverheadCost)
				}
			}
			if p.OverheadCost > q.OverheadCost || tc.lower && p.OverheadCost == q.OverheadCost {
				t.Fatalf("approx overhead %g (peak %d) not below the pure DP's %g (peak %d) at budget %d", p.OverheadCost, p.PeakBytes, q.OverheadCost, q.PeakBytes, p.BudgetBytes)
			}
			t.Logf("budget %d: approx overhead %g peak %d (%s); pure DP overhead %g peak %d", p.BudgetBytes, p.OverheadCost, p.PeakBytes, p.Note, q.OverheadCost, q.PeakBytes)
		})
	}
}

// Every cost-aware candidate is a replayable schedule whose recorded peak
// and overhead are its replay's; the plan picked among them fits the budget
// and is never worse than the pure DP's or, for exact, than approx's.
func TestHybridCandidatesReplay(t *testing.T) {
	dpOnly := withDPOnly(t)
	rng := rand.New(rand.NewSource(7))
	hybrids := 0
	for trial := 0; trial < 40; trial++ {
		g := randomGraph(rng, 4+rng.Intn(14), trial%4 == 3)
		frac := 0.4 + 0.5*rng.Float64()
		// The candidates themselves, through a planCtx like Make's.
		ix, err := g.index()
		if err != nil {
			t.Fatal(err)
		}
		c := &planCtx{g: g, ix: ix, opt: Options{Objective: "time"}}
		c.d = buildDAG(g, ix)
		order, err := noneOrder(g)
		if err != nil {
			t.Fatal(err)
		}
		nrep, err := Replay(g, Liveness(g, order))
		if err != nil {
			t.Fatal(err)
		}
		c.budget = int64(frac * float64(nrep.PeakBytes))
		if c.d.n == 0 || c.budget == 0 {
			continue
		}
		if err := planApprox(c); err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		for _, x := range c.cands {
			if x.keep == nil {
				continue
			}
			hybrids++
			r, err := Replay(g, x.sched)
			if err != nil {
				t.Fatalf("trial %d: hybrid candidate does not replay: %v", trial, err)
			}
			if r.PeakBytes != x.rep.PeakBytes || r.OverheadCost != x.rep.OverheadCost {
				t.Fatalf("trial %d: candidate records %d/%g, replay %d/%g", trial, x.rep.PeakBytes, x.rep.OverheadCost, r.PeakBytes, r.OverheadCost)
			}
		}
		// The plans.
		plans := map[string]*Plan{}
		for _, s := range []string{"approx", "exact", dpOnly} {
			p, err := Make(g, Options{Strategy: s, Objective: "time", BudgetFrac: frac})
			if err != nil {
				plans[s] = nil
				continue
			}
			if r, err := Replay(g, p.Schedule); err != nil || r.PeakBytes > p.BudgetBytes {
				t.Fatalf("trial %d %s: plan does not replay within budget %d: %v", trial, s, p.BudgetBytes, err)
			}
			plans[s] = p
		}
		a, e, d := plans["approx"], plans["exact"], plans[dpOnly]
		if d != nil && (a == nil || a.OverheadCost > d.OverheadCost) {
			t.Fatalf("trial %d: approx %+v worse than the pure DP (overhead %g)", trial, a, d.OverheadCost)
		}
		if a != nil && e != nil && e.OverheadCost > a.OverheadCost {
			t.Fatalf("trial %d: exact overhead %g above approx %g", trial, e.OverheadCost, a.OverheadCost)
		}
	}
	if hybrids == 0 {
		t.Fatal("no cost-aware candidate was built")
	}
	t.Logf("%d cost-aware candidates replayed", hybrids)
}

// BenchmarkMakeTimeBudget is a whole approx plan with objective time at 50%
// of the none peak on a 40-module inception-like graph: its overhead (as a
// fraction of the forward cost) with and without the cost-aware candidates.
func BenchmarkMakeTimeBudget(b *testing.B) {
	g := inception(40, 3, [2]float64{100, 10}, [2]float64{1, 10})
	const name = "bench-dp-only"
	strategies[name] = func(c *planCtx) error { return c.searchDP(newDPModel(c.d, c.d.approxFamily())) }
	defer delete(strategies, name)
	for _, s := range []string{"approx", name} {
		b.Run(s, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := Make(g, Options{Strategy: s, Objective: "time", BudgetFrac: 0.5})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(p.OverheadCost/p.ForwardCost, "overhead/forward")
				b.ReportMetric(float64(p.PeakBytes)/float64(p.NonePeakBytes), "peak/none")
			}
		})
	}
}
