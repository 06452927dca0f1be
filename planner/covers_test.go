package planner

import (
	"slices"
	"testing"
)

// On every lower set of a DAG too large to cache its transitions, the DP
// finds supersets through the upper covers (one-word and multi-word
// bitsets), keeps its answers, bounds the overhead from them and settles
// feasibility in batches: every answer equals the one of a fresh model
// that scans every later set, with no memo, on one CPU.
func TestCoversMatchScan(t *testing.T) {
	for _, shape := range [][2]int{{4, 8}, {2, 52}} {
		_, _, d := benchGraph(parallelChains(shape[0], shape[1]))
		fam, err := d.exactFamily(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		m := newDPModel(d, fam)
		if m.cache != nil || m.up == nil {
			t.Fatalf("%v: %d lower sets: the covers path is not taken", shape, len(fam))
		}
		fresh := func() *dpModel {
			s := newDPModel(d, fam)
			s.up, s.workers = nil, 1
			return s
		}
		hi := m.predict([]int{len(fam) - 1})
		// Ascending, then descending and repeated budgets: the memo and
		// the bounds it gives are used both ways.
		fracs := []float64{0.04, 0.1, 0.2, 0.3, 0.45, 0.7, 1, 0.25, 0.15, 0.7}
		var bs []int64
		for _, f := range fracs {
			bs = append(bs, int64(f*float64(hi)))
		}
		m.feasibleAt(bs[:4])
		feasible := 0
		for _, B := range bs {
			for _, mc := range []bool{false, true} {
				want, wok := fresh().solve(B, mc)
				got, ok := m.solve(B, mc)
				if ok != wok || !slices.Equal(got.seq, want.seq) || got.overhead != want.overhead || got.predicted != want.predicted {
					t.Errorf("%v budget %d memory-centric %v: covers %v %+v, scan %v %+v", shape, B, mc, ok, got, wok, want)
				}
				if f := fresh().feasible(B); f != wok {
					t.Errorf("%v budget %d: feasible %v, solve %v", shape, B, f, wok)
				}
				if wok {
					feasible++
				}
			}
		}
		if feasible < 6 || feasible == 2*len(bs) {
			t.Errorf("%v: %d of %d solves feasible: the budgets do not test the DP", shape, feasible, 2*len(bs))
		}
	}
}

// pair on DAGs of more than 64 nodes (multi-word bitsets) matches its
// definition.
func TestPairMultiWord(t *testing.T) {
	_, _, d := benchGraph(parallelChains(2, 34))
	fam, err := d.exactFamily(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	m := newDPModel(d, fam)
	if m.nw < 2 || m.one != nil {
		t.Fatalf("%d nodes: not multi-word", d.n)
	}
	checked := 0
	for i := 0; i < len(fam); i += 5 {
		for j := i + 1; j < len(fam); j += 3 {
			if fam[j].size <= fam[i].size || !fam[i].bits.subsetOf(fam[j].bits) {
				continue
			}
			e := m.pair(i, j)
			dt, dm, peak := slowPair(d, fam[i].bits, fam[j].bits)
			if int64(e.dt) != dt || e.dm != dm || e.peak != peak {
				t.Fatalf("pair %d->%d: got (%d %d %d), want (%d %d %d)", i, j, e.dt, e.dm, e.peak, dt, dm, peak)
			}
			checked++
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d pairs checked", checked)
	}
}
