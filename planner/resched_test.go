package planner

import (
	"slices"
	"strings"
	"testing"
)

// uNet is a U-Net in miniature: encoder ops e0..e(k-1) (level i holds
// 4^(k-1-i) KB), each level's skip value cropped (c_i, a quarter of e_i,
// whose backward needs no activation) into the decoder d_i = F(d_(i+1),
// c_i), and a backward op per forward op that reads its output's gradient
// and its inputs. The encoder value e_i is read again only by its own
// backward: idle for most of the backward pass.
func uNet(k int) *Graph {
	g := &Graph{}
	val := func(name string, b int64) int {
		g.Values = append(g.Values, Value{Name: name, Bytes: b})
		return len(g.Values) - 1
	}
	x := val("x", 1)
	g.Values[x].Resident = true
	size := func(i int) int64 { return 1000 << (2 * (k - 1 - i)) }
	type fwd struct {
		out int
		ins []int
	}
	var ops []fwd
	add := func(name string, out int, ins ...int) {
		g.Ops = append(g.Ops, Op{Name: name, Type: "F", Inputs: ins, Outputs: []int{out}, Cost: 1, Recomputable: true})
		g.ForwardCost++
		ops = append(ops, fwd{out, ins})
	}
	e := make([]int, k)
	c := make([]int, k)
	for i := range k {
		e[i] = val("e"+itoa(i), size(i))
		if i == 0 {
			add("fe0", e[i], x)
		} else {
			add("fe"+itoa(i), e[i], e[i-1])
		}
	}
	for i := range k - 1 { // the bottom level has no skip
		c[i] = val("c"+itoa(i), size(i)/4)
		add("crop"+itoa(i), c[i], e[i])
	}
	d := val("d"+itoa(k-1), size(k-1))
	add("fd"+itoa(k-1), d, e[k-1])
	for i := k - 2; i >= 0; i-- {
		next := val("d"+itoa(i), size(i))
		add("fd"+itoa(i), next, d, c[i])
		d = next
	}
	g.Values[d].Output = true
	grad := map[int]int{}
	for _, f := range ops {
		grad[f.out] = val("grad("+g.Values[f.out].Name+")", g.Values[f.out].Bytes)
	}
	g.Ops[len(g.Ops)-1].Outputs = append(g.Ops[len(g.Ops)-1].Outputs, grad[d])
	for j := len(ops) - 1; j >= 0; j-- {
		f := ops[j]
		b := Op{Name: "b" + g.Ops[j].Name, Type: "B", Backward: true, Inputs: []int{grad[f.out]}}
		crop := strings.HasPrefix(g.Ops[j].Name, "crop")
		for _, in := range f.ins {
			if !crop {
				b.Inputs = append(b.Inputs, in)
			}
			if in != x {
				b.Outputs = append(b.Outputs, grad[in])
			}
		}
		g.Ops = append(g.Ops, b)
	}
	return g
}

// On a U-shaped graph the lower-set framework keeps every skip value through
// the whole backward pass; rescheduling frees idle ones at the peak, so
// approx (which reschedules) must beat the pure DP's minimum-memory plan,
// and every plan it returns must replay to the peak it reports.
func TestRescheduleBeatsDPOnSkipGraph(t *testing.T) {
	dpOnly := withDPOnly(t)
	for _, k := range []int{3, 4, 5} {
		g := uNet(k)
		dp, err := Make(g, Options{Strategy: dpOnly, Objective: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Make(g, Options{Strategy: "approx", Objective: "memory"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Replay(g, rs.Schedule)
		if err != nil {
			t.Fatalf("k=%d: rescheduled plan does not replay: %v", k, err)
		}
		if r.PeakBytes != rs.PeakBytes {
			t.Fatalf("k=%d: replay %d, plan says %d", k, r.PeakBytes, rs.PeakBytes)
		}
		t.Logf("k=%d: none %d, DP %d, rescheduled %d (%s)", k, dp.NonePeakBytes, dp.PeakBytes, rs.PeakBytes, rs.Note)
		if rs.PeakBytes >= dp.PeakBytes {
			t.Errorf("k=%d: rescheduled peak %d not below the DP's %d", k, rs.PeakBytes, dp.PeakBytes)
		}
	}
}

// With objective time and a budget no DP candidate meets, rescheduling runs
// until the peak fits, and then stops.
func TestRescheduleStopsAtBudget(t *testing.T) {
	g := uNet(4)
	least, err := Make(g, Options{Strategy: "approx", Objective: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Make(g, Options{Strategy: "approx", Objective: "time", BudgetBytes: least.PeakBytes})
	if err != nil {
		t.Fatalf("budget at approx's least memory %d: %v", least.PeakBytes, err)
	}
	if p.PeakBytes > least.PeakBytes {
		t.Fatalf("peak %d above the budget %d", p.PeakBytes, least.PeakBytes)
	}
}

// chainGraph: x (resident) → A → a → B → b, and the backward gB(b) → gb,
// gA(gb, a) → ga, gX(ga) → gx; every non-resident value 100 bytes but gx.
// Ops 0..4 are A, B, gB, gA, gX; value 2 is b.
func chainGraph() *Graph {
	g := &Graph{Values: []Value{
		{Name: "x", Bytes: 1, Resident: true},
		{Name: "a", Bytes: 100}, {Name: "b", Bytes: 100},
		{Name: "gb", Bytes: 100}, {Name: "ga", Bytes: 100}, {Name: "gx", Bytes: 1, Output: true},
	}}
	const x, a, b, gb, ga, gx = 0, 1, 2, 3, 4, 5
	g.Ops = []Op{
		{Name: "A", Inputs: []int{x}, Outputs: []int{a}, Cost: 1, Recomputable: true},
		{Name: "B", Inputs: []int{a}, Outputs: []int{b}, Cost: 1, Recomputable: true},
		{Name: "gB", Backward: true, Inputs: []int{b}, Outputs: []int{gb}},
		{Name: "gA", Backward: true, Inputs: []int{gb, a}, Outputs: []int{ga}},
		{Name: "gX", Backward: true, Inputs: []int{ga}, Outputs: []int{gx}},
	}
	return g
}

// A recompute move must not count a value as live at the insertion point
// when its next read belongs to a later recomputation (a new lifetime):
// that value is recomputed in the chain too, not kept from the forward pass.
func TestRecomputeMoveChain(t *testing.T) {
	g := chainGraph()
	ix, err := g.index()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		order []int // u = position of gB
		u     int
		want  []int
	}{
		// a is kept from the forward pass to gA: live at gB, only B reruns.
		{"a_live", []int{0, 1, 2, 3, 4}, 2, []int{0, 1, 1, 2, 3, 4}},
		// a is recomputed right before gA: not live at gB, A reruns as well.
		{"a_recomputed_later", []int{0, 1, 2, 0, 3, 4}, 2, []int{0, 1, 0, 1, 2, 0, 3, 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd, wr := positions(g, c.order)
			got := recomputeMove(g, ix, c.order, 2, c.u, rd, wr) // value b
			if !slices.Equal(got, c.want) {
				t.Errorf("recomputeMove(b before position %d) = %v, want %v", c.u, got, c.want)
			}
		})
	}
}

// prune drops a recomputation that the peak does not need: in the chain
// graph of TestRecomputeMoveChain, rerunning A before gA frees a at gB but
// the peak (at gA) is the same either way, so under that peak the rerun
// goes and the overhead with it; under a lower limit it stays.
func TestPruneDropsUnneededRecompute(t *testing.T) {
	g := chainGraph()
	order := []int{0, 1, 2, 0, 3, 4}
	s := Liveness(g, order)
	rep, err := Replay(g, s)
	if err != nil {
		t.Fatal(err)
	}
	x0 := &candidate{order: order, sched: s, rep: rep}
	c := &planCtx{g: g}
	got := c.prune(x0, rep.PeakBytes)
	if got.pruned != 1 || !slices.Equal(got.order, []int{0, 1, 2, 3, 4}) || got.rep.OverheadCost != 0 || got.rep.PeakBytes > rep.PeakBytes {
		t.Errorf("prune at the peak %d: order %v, pruned %d, overhead %v, peak %d; want the rerun of A gone", rep.PeakBytes, got.order, got.pruned, got.rep.OverheadCost, got.rep.PeakBytes)
	}
	if kept := c.prune(x0, rep.PeakBytes-1); kept != x0 {
		t.Errorf("prune under a limit below the peak changed the plan: %v", kept.order)
	}
}
