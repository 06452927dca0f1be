// Package fit finds the largest batch that trains in a given amount of
// memory, without recomputation and with it: the question "what batch fits
// in 16 GiB, and what does it cost?".
//
// A training graph's structure does not depend on the batch, and its
// sizes and costs are affine in it (bytes(B) = a + b·B). Search builds the
// graph at batches 1, 2 and 3 only, checks that every size and cost is
// affine, and scales the planner graph for every other batch it tries; a
// graph that is not affine (a batch that changes the structure) is built
// at every batch instead. Each batch is planned with package planner in
// file order.
//
// Promise: a reported batch fits: its resident bytes (parameters, inputs)
// plus the plan's replayed transient peak (activations and gradients) are
// at most the memory given, and the next batch does not fit (sizes grow
// with the batch). Overheads are the planner's cost model (FLOPs).
package fit

import (
	"errors"
	"fmt"
	"time"

	"github.com/onnx-recompute/recompute/planner"
)

// Build returns the planner graph of the training graph at a batch.
type Build func(batch int64) (*planner.Graph, error)

// Options say what to fit.
type Options struct {
	MemoryBytes  int64   // the limit: resident + transient peak
	TimeOverhead float64 // > 0: also the largest batch whose time-centric plan stays within this overhead (0.25 = 25% of the forward cost)
	Strategy     string  // recomputing strategy (default approx)
	MaxBatch     int64   // search bound (default 1<<20)
	// Progress, if set, hears about each batch tried.
	Progress func(string)
	// Curve: batches to plan none, chen and Strategy at for the figure
	// (0: none).
	CurvePoints int
}

// Point is one plan at one batch.
type Point struct {
	Batch          int64   `json:"batch"`
	ResidentBytes  int64   `json:"resident_bytes"`
	TransientBytes int64   `json:"transient_peak_bytes"`
	TotalBytes     int64   `json:"total_bytes"`
	Overhead       float64 `json:"overhead"` // recomputed cost / forward cost
	Seconds        float64 `json:"planning_seconds"`
}

// Answer is the largest fitting batch for one kind of plan.
type Answer struct {
	Plan  string `json:"plan"` // "none", "STRATEGY (least memory)", "STRATEGY (overhead ≤ P%)"
	Point *Point `json:"point,omitempty"`
	Tried int    `json:"batches_tried"`
}

// CurvePoint is a batch's total peak under none, chen and Strategy's
// least-memory plan (0 where a plan failed).
type CurvePoint struct {
	Batch                 int64 `json:"batch"`
	None, Chen, Recompute int64 `json:"-"`
}

// Result is what Search found.
type Result struct {
	MemoryBytes int64        `json:"memory_bytes"`
	Strategy    string       `json:"strategy"`
	Affine      bool         `json:"affine"` // sizes scaled from batches 1-3 (else built per batch)
	Answers     []Answer     `json:"answers"`
	Curve       []CurvePoint `json:"curve,omitempty"`
	Seconds     float64      `json:"seconds"`
}

// TooSmallError says that batch 1 does not fit even with recomputation.
type TooSmallError struct {
	MemoryBytes, NeedBytes, ResidentBytes, TransientBytes int64
}

func (e *TooSmallError) Error() string {
	return fmt.Sprintf("%s is less than batch 1 needs even with recomputation: %s (resident %s + least transient peak %s)",
		planner.HumanBytes(e.MemoryBytes), planner.HumanBytes(e.NeedBytes), planner.HumanBytes(e.ResidentBytes), planner.HumanBytes(e.TransientBytes))
}

// Search finds, for none, Strategy's least-memory plan and (with
// TimeOverhead) Strategy's time-centric plan within the overhead, the
// largest batch whose total peak fits opt.MemoryBytes.
func Search(build Build, opt Options) (*Result, error) {
	start := time.Now()
	if opt.MemoryBytes <= 0 {
		return nil, fmt.Errorf("fit: the memory must be positive")
	}
	if opt.Strategy == "" {
		opt.Strategy = "approx"
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 1 << 20
	}
	s, err := newScaler(build)
	if err != nil {
		return nil, err
	}
	res := &Result{MemoryBytes: opt.MemoryBytes, Strategy: opt.Strategy, Affine: s.affine}
	say := func(format string, a ...any) {
		if opt.Progress != nil {
			opt.Progress(fmt.Sprintf(format, a...))
		}
	}

	// Each kind of plan: its point at a batch (nil: infeasible) and
	// whether it fits.
	type kind struct {
		name   string
		eval   func(b int64) (*Point, error)
		secant bool // the total grows about linearly with the batch: interpolate
	}
	plan := func(b int64, po planner.Options) (*Point, error) {
		g, err := s.graph(b)
		if err != nil {
			return nil, err
		}
		resident := residentBytes(g)
		if po.Objective == "time" {
			po.BudgetBytes = opt.MemoryBytes - resident
			if po.BudgetBytes <= 0 {
				return nil, nil
			}
		}
		t0 := time.Now()
		p, err := planner.Make(g, po)
		var ie *planner.InfeasibleError
		if errors.As(err, &ie) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fit: batch %d: %w", b, err)
		}
		pt := &Point{Batch: b, ResidentBytes: resident, TransientBytes: p.PeakBytes, TotalBytes: resident + p.PeakBytes, Seconds: time.Since(t0).Seconds()}
		if p.ForwardCost > 0 {
			pt.Overhead = p.OverheadCost / p.ForwardCost
		}
		return pt, nil
	}
	kinds := []kind{
		{"none", func(b int64) (*Point, error) { return plan(b, planner.Options{Strategy: "none"}) }, true},
		{opt.Strategy + " (least memory)", func(b int64) (*Point, error) {
			return plan(b, planner.Options{Strategy: opt.Strategy, Objective: "memory"})
		}, true},
	}
	if opt.TimeOverhead > 0 {
		kinds = append(kinds, kind{fmt.Sprintf("%s (overhead ≤ %g%%)", opt.Strategy, 100*opt.TimeOverhead), func(b int64) (*Point, error) {
			pt, err := plan(b, planner.Options{Strategy: opt.Strategy, Objective: "time"})
			if pt == nil || err != nil || pt.Overhead > opt.TimeOverhead+1e-12 {
				return nil, err
			}
			return pt, nil
		}, false})
	}
	var lower int64 = 1 // every later kind fits at least what none fits
	for i, k := range kinds {
		fits := func(b int64) (*Point, bool, error) {
			pt, err := k.eval(b)
			if err != nil {
				return nil, false, err
			}
			ok := pt != nil && pt.TotalBytes <= opt.MemoryBytes
			if ok {
				say("%s: batch %d fits (%s)", k.name, b, planner.HumanBytes(pt.TotalBytes))
			} else {
				say("%s: batch %d does not fit", k.name, b)
			}
			return pt, ok, nil
		}
		hi := opt.MaxBatch
		if i == 2 {
			hi = min(hi, res.Answers[1].maxBatch()+1) // within the overhead never beats the least memory
		}
		a, err := largest(fits, lower, hi, opt.MemoryBytes, k.secant)
		if err != nil {
			return nil, err
		}
		a.Plan = k.name
		res.Answers = append(res.Answers, a)
		if i == 1 && a.Point == nil {
			// Batch 1 does not fit even with recomputation: say what it needs.
			pt, err := plan(1, planner.Options{Strategy: opt.Strategy, Objective: "memory"})
			if err != nil {
				return nil, err
			}
			if pt != nil {
				return nil, &TooSmallError{MemoryBytes: opt.MemoryBytes, NeedBytes: pt.TotalBytes, ResidentBytes: pt.ResidentBytes, TransientBytes: pt.TransientBytes}
			}
		}
		if i == 0 && a.Point != nil {
			lower = a.Point.Batch
		}
	}
	if opt.CurvePoints > 0 {
		top := max(res.Answers[1].maxBatch(), res.Answers[0].maxBatch(), 1)
		top += max(top/5, 1)
		for _, b := range curveBatches(top, opt.CurvePoints) {
			cp := CurvePoint{Batch: b}
			for _, c := range []struct {
				dst *int64
				po  planner.Options
			}{{&cp.None, planner.Options{Strategy: "none"}}, {&cp.Chen, planner.Options{Strategy: "chen", Objective: "memory"}}, {&cp.Recompute, planner.Options{Strategy: opt.Strategy, Objective: "memory"}}} {
				pt, err := plan(b, c.po)
				if err != nil {
					return nil, err
				}
				if pt != nil {
					*c.dst = pt.TotalBytes
				}
			}
			say("curve: batch %d", b)
			res.Curve = append(res.Curve, cp)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func (a Answer) maxBatch() int64 {
	if a.Point == nil {
		return 0
	}
	return a.Point.Batch
}

// largest finds the largest batch in [lo, hi) that fits, assuming that
// fitting is monotone in the batch. lo is tried first; if it does not fit,
// smaller batches down to 1 are. With secant, the next batch tried is where
// the line through the last two totals meets mem (a total close to affine
// in the batch takes a handful of plans); otherwise doubling, then
// bisection.
func largest(fits func(int64) (*Point, bool, error), lo, hi, mem int64, secant bool) (Answer, error) {
	var a Answer
	type obs struct {
		b     int64
		total int64 // 0 if infeasible
	}
	var seen []obs
	var best *Point
	try := func(b int64) (bool, error) {
		a.Tried++
		pt, ok, err := fits(b)
		if err != nil {
			return false, err
		}
		o := obs{b: b}
		if pt != nil {
			o.total = pt.TotalBytes
		}
		seen = append(seen, o)
		if ok && (best == nil || b > best.Batch) {
			best = pt
		}
		return ok, nil
	}
	lo = max(lo, 1)
	if hi <= lo {
		hi = lo + 1
	}
	ok, err := try(lo)
	if err != nil {
		return a, err
	}
	if !ok {
		if lo == 1 {
			return a, nil
		}
		hi, lo = lo, 1
		if ok, err = try(1); err != nil || !ok {
			return a, err
		}
	}
	// lo fits; find hi that does not (or the bound).
	guess := func() int64 {
		if !secant || len(seen) < 2 {
			return 0
		}
		p, q := seen[len(seen)-2], seen[len(seen)-1]
		if p.total <= 0 || q.total <= 0 || p.b == q.b || q.total == p.total {
			return 0
		}
		slope := float64(q.total-p.total) / float64(q.b-p.b)
		if slope <= 0 {
			return 0
		}
		return q.b + int64((float64(mem)-float64(q.total))/slope)
	}
	slow := false    // the last step shrank a bounded interval by less than half
	bounded := false // hi did not fit (rather than being the search bound)
	for hi-lo > 1 {
		var next int64
		switch g := guess(); {
		case secant && g > 0 && !slow:
			next = min(max(g, lo+1), hi-1)
		case hi-lo > 2*lo:
			next = 2 * lo // no upper bound yet: double
		default:
			next = lo + (hi-lo)/2
		}
		width := hi - lo
		ok, err := try(next)
		if err != nil {
			return a, err
		}
		if ok {
			lo = next
		} else {
			hi, bounded = next, true
		}
		slow = bounded && 2*(hi-lo) > width && !slow // at most every other step
	}
	a.Point = best
	return a, nil
}

// curveBatches spreads n batches over [1, top].
func curveBatches(top int64, n int) []int64 {
	var out []int64
	for i := 1; i <= n; i++ {
		b := max(int64(1), top*int64(i)/int64(n))
		if len(out) == 0 || b > out[len(out)-1] {
			out = append(out, b)
		}
	}
	return out
}

// residentBytes sums the resident values (parameters, inputs, constants).
func residentBytes(g *planner.Graph) int64 {
	var n int64
	for _, v := range g.Values {
		if v.Resident {
			n += v.Bytes
		}
	}
	return n
}
