package planner

import (
	"runtime"
	"testing"
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
