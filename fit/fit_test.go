package fit

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/onnx-recompute/recompute/planner"
)

// largest finds the largest fitting batch of any monotone fit, with and
// without interpolation, and only tries batches within its bounds.
func TestLargest(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 300; trial++ {
		// total(b) = base + slope·b + a small wobble (not exactly affine).
		base := rng.Int63n(1000)
		slope := 1 + rng.Int63n(500)
		wobble := rng.Int63n(slope)
		mem := base + slope*(1+rng.Int63n(2000))
		total := func(b int64) int64 { return base + slope*b + (b*7919)%(wobble+1) }
		want := int64(0)
		for b := int64(1); b < 100000 && total(b) <= mem; b++ {
			want = b
		}
		for _, secant := range []bool{true, false} {
			fits := func(b int64) (*Point, bool, error) {
				if b < 1 || b >= 1<<20 {
					return nil, false, fmt.Errorf("batch %d out of bounds", b)
				}
				pt := &Point{Batch: b, TotalBytes: total(b)}
				return pt, pt.TotalBytes <= mem, nil
			}
			a, err := largest(fits, 1+rng.Int63n(3), 1<<20, mem, secant)
			if err != nil {
				t.Fatal(err)
			}
			got := a.maxBatch()
			if got != want {
				t.Fatalf("trial %d secant %v: largest %d, want %d (base %d slope %d wobble %d mem %d)", trial, secant, got, want, base, slope, wobble, mem)
			}
			if secant && wobble == 0 && a.Tried > 8 {
				t.Errorf("trial %d: %d batches tried on an affine total", trial, a.Tried)
			}
		}
	}
}

// chainAt is a training graph whose activations grow with the batch: n
// forward ops each writing act·batch bytes, a backward op per forward op,
// params bytes resident and a weight gradient as output.
func chainAt(n int, act, params int64) Build {
	return func(b int64) (*planner.Graph, error) {
		g := &planner.Graph{Values: []planner.Value{{Name: "x", Bytes: act * b, Resident: true}, {Name: "w", Bytes: params, Resident: true}}}
		prev := 0
		var fwd []int
		for i := 0; i < n; i++ {
			g.Values = append(g.Values, planner.Value{Name: fmt.Sprint("a", i), Bytes: act * b})
			v := len(g.Values) - 1
			g.Ops = append(g.Ops, planner.Op{Name: fmt.Sprint("f", i), Inputs: []int{prev, 1}, Outputs: []int{v}, Cost: float64(b), Recomputable: true})
			fwd = append(fwd, v)
			prev = v
		}
		g.ForwardCost = float64(n) * float64(b)
		g.Values = append(g.Values, planner.Value{Name: "loss", Bytes: 4, Output: true})
		g.Ops = append(g.Ops, planner.Op{Name: "loss", Inputs: []int{prev}, Outputs: []int{len(g.Values) - 1}, Cost: 1, Recomputable: true})
		grad := len(g.Values) - 1
		for i := n - 1; i >= 0; i-- {
			g.Values = append(g.Values, planner.Value{Name: fmt.Sprint("g", i), Bytes: act * b})
			v := len(g.Values) - 1
			g.Ops = append(g.Ops, planner.Op{Name: fmt.Sprint("b", i), Backward: true, Inputs: []int{grad, fwd[i]}, Outputs: []int{v}})
			grad = v
		}
		g.Values = append(g.Values, planner.Value{Name: "w_grad", Bytes: params, Output: true})
		g.Ops = append(g.Ops, planner.Op{Name: "bw", Backward: true, Inputs: []int{grad}, Outputs: []int{len(g.Values) - 1}})
		return g, g.Validate()
	}
}

// Search: every answer fits and the next batch does not; recomputation
// fits more than none; the graph is scaled, not rebuilt; a memory below
// batch 1's least need is a TooSmallError stating that need.
func TestSearch(t *testing.T) {
	build := chainAt(16, 1000, 5000)
	r, err := Search(build, Options{MemoryBytes: 400_000, TimeOverhead: 0.5, CurvePoints: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Affine {
		t.Error("an affine graph was not scaled")
	}
	if len(r.Answers) != 3 || len(r.Curve) == 0 {
		t.Fatalf("answers %+v, curve %d points", r.Answers, len(r.Curve))
	}
	opts := []planner.Options{{Strategy: "none"}, {Strategy: "approx", Objective: "memory"}}
	for i, a := range r.Answers[:2] {
		if a.Point == nil {
			t.Fatalf("%s: nothing fits", a.Plan)
		}
		for _, b := range []int64{a.Point.Batch, a.Point.Batch + 1} {
			g, _ := build(b)
			p, err := planner.Make(g, opts[i])
			if err != nil {
				t.Fatal(err)
			}
			total := residentBytes(g) + p.PeakBytes
			if fits := total <= 400_000; fits != (b == a.Point.Batch) {
				t.Errorf("%s: batch %d total %d, fits %v", a.Plan, b, total, fits)
			}
		}
	}
	n, l, w := r.Answers[0].Point.Batch, r.Answers[1].Point.Batch, r.Answers[2].Point
	if l < 2*n {
		t.Errorf("recomputation fits batch %d, none %d: want at least twice", l, n)
	}
	if w == nil || w.Batch < n || w.Batch > l || w.Overhead > 0.5 {
		t.Errorf("within 50%% overhead: %+v (none %d, least memory %d)", w, n, l)
	}

	_, err = Search(build, Options{MemoryBytes: 10_000})
	var ts *TooSmallError
	if !errors.As(err, &ts) || ts.NeedBytes <= 10_000 || ts.ResidentBytes != 6000 {
		t.Errorf("too small: %v", err)
	}
}
