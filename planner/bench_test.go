package planner

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

func benchGraph(preds [][]int) (*Graph, *index, *dag) {
	g := cgStyleGraph(preds, func(i int) int64 { return int64(1000 + (i*7919)%5000) })
	ix, err := g.index()
	if err != nil {
		panic(err)
	}
	return g, ix, buildDAG(g, ix)
}

// BenchmarkApproxDP600 is one approximate DP (PAPER.md §5) on a 600-node
// residual graph with a non-binding budget.
// Target: s/op < 0.5
func BenchmarkApproxDP600(b *testing.B) {
	_, _, d := benchGraph(resnetLike(600))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := newDPModel(d, d.approxFamily())
		if _, ok := m.solve(1<<62, false); !ok {
			b.Fatal("infeasible")
		}
	}
	b.ReportMetric(float64(d.n), "nodes")
}

// BenchmarkExactDP30k is one exact DP (PAPER.md §4) over 28,562 lower sets
// (4 parallel chains of 12) with a non-binding budget; sys-GiB is the
// memory the Go runtime took from the OS by the end (an upper bound of the
// heap's peak).
// Target: s/op < 10, sys-GiB < 2
func BenchmarkExactDP30k(b *testing.B) {
	_, _, d := benchGraph(parallelChains(4, 12))
	b.ResetTimer()
	var sets int
	for i := 0; i < b.N; i++ {
		fam, err := d.exactFamily(1 << 20)
		if err != nil {
			b.Fatal(err)
		}
		sets = len(fam)
		m := newDPModel(d, fam)
		if _, ok := m.solve(1<<62, false); !ok {
			b.Fatal("infeasible")
		}
	}
	b.ReportMetric(float64(sets), "lower-sets")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<30), "sys-GiB")
}

// BenchmarkMakeApprox600 is a whole plan (budget search, schedules,
// replays) with strategy approx and objective memory.
func BenchmarkMakeApprox600(b *testing.B) {
	g, _, _ := benchGraph(resnetLike(600))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Make(g, Options{Strategy: "approx", Objective: "memory"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(p.PeakBytes)/float64(p.NonePeakBytes), "peak/none")
	}
}

// BenchmarkMakeExact30kTC is issue 14's exact-DP case: a whole time-centric
// plan at a 50% budget with strategy exact over 28,562 lower sets (4
// parallel chains of 12, the size of the paper's GoogLeNet graph): the
// budget search's DP runs, schedules, replays and the approx pass exact
// also runs.
// Target: s/plan < 20
func BenchmarkMakeExact30kTC(b *testing.B) {
	g, _, _ := benchGraph(parallelChains(4, 12))
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		p, err := Make(g, Options{Strategy: "exact", BudgetFrac: 0.5, MaxLowerSets: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/plan")
		b.ReportMetric(float64(p.PeakBytes)/float64(p.NonePeakBytes), "peak/none")
	}
}

// The uncached DP scans a large family's supersets on every CPU; its
// answers are the sequential scan's, for both objectives and at budgets
// from the tightest feasible one up.
func TestParallelScanMatchesSequential(t *testing.T) {
	_, _, d := benchGraph(parallelChains(4, 8))
	fam, err := d.exactFamily(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(fam)-1 < parallelScan || len(fam) <= maxCachedSets {
		t.Fatalf("%d lower sets: too few to take the parallel, uncached path", len(fam))
	}
	seq, par := newDPModel(d, fam), newDPModel(d, fam)
	seq.workers, par.workers = 1, 4
	hi := seq.predict([]int{len(fam) - 1})
	feasible := 0
	for _, frac := range []float64{0.55, 0.7, 1} {
		for _, mc := range []bool{false, true} {
			B := int64(frac * float64(hi))
			a, okA := seq.solve(B, mc)
			b, okB := par.solve(B, mc)
			if okA != okB || !slices.Equal(a.seq, b.seq) || a.overhead != b.overhead || a.predicted != b.predicted {
				t.Errorf("budget %.2f, memory-centric %v: sequential %v %+v, parallel %v %+v", frac, mc, okA, a, okB, b)
			}
			if okA {
				feasible++
			}
		}
	}
	if feasible < 4 {
		t.Errorf("only %d of 6 solves feasible: the budgets do not test the scan", feasible)
	}
}
