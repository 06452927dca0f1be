package recompute

import (
	"errors"
	"fmt"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// A budget with --target ort is a budget for the peak ONNX Runtime will
// have, not for the liveness of the graph's tensors. ORT's allocation
// planner keeps a dead buffer for a later tensor of its size (ort/ortalloc),
// so a plan that meets a liveness budget B peaks higher under ORT: ResNet-50
// batch 8 at 50% of its liveness peak is at 61% of ORT's modelled original
// peak, and measures 0.69 under ORT's default session options (docs/ORT.md).
// fitBudget plans again with lower liveness budgets until the rewritten
// graph's modelled ORT peak meets the budget, then searches between the
// last budget that missed and the first that met it for the plan with the
// least recomputation that still meets it.

// maxFitPlans bounds the plans fitBudget makes after the first: each is a
// full plan and rewrite (ResNet-50: about 1.5 s).
const maxFitPlans = 8

// fitAttempt is one plan and rewrite at a liveness budget.
type fitAttempt struct {
	pm     *onnx.Model
	g      *planner.Graph
	p      *planner.Plan
	bc     rewrite.BaseChoice
	rm     *onnx.Model
	rep    *rewrite.Report
	budget int64 // the liveness budget it was planned with
}

// reuse is the attempt's peak under the model of ORT's allocation planner.
func (a *fitAttempt) reuse() int64 { return a.rep.ReusePeakBytes }

// BudgetFit says how the budget was fitted, for the report.
type BudgetFit struct {
	Model        string `json:"model"`                       // "ort" or "liveness"
	TargetBytes  int64  `json:"target_bytes,omitempty"`      // the budget in ORT's model
	PlannerBytes int64  `json:"planner_budget_bytes"`        // the liveness budget of the plan kept
	Plans        int    `json:"plans"`                       // plans made (1: the first met the budget)
	Met          bool   `json:"met"`                         // the kept plan's modelled ORT peak is within TargetBytes
	Note         string `json:"note,omitempty"`              // why the search stopped early, if it did
	FirstReuse   int64  `json:"first_reuse_bytes,omitempty"` // the first plan's modelled ORT peak
}

// planAndApply plans t at opt on the chosen base order and rewrites it.
func planAndApply(t *rwTraining, inf *ops.Result, f *RewriteOptions, opt planner.Options) (*fitAttempt, error) {
	pm, g, p, bc, err := planOnBase(t.model, inf, t.split, &f.Plan, opt)
	a := &fitAttempt{pm: pm, g: g, p: p, bc: bc}
	if err != nil || g == nil {
		return a, err
	}
	a.budget = p.BudgetBytes
	a.rm, a.rep, err = rewrite.Apply(pm, g, p, rewrite.Options{ORTGuard: !f.NoORTGuard && f.target() == "ort", Version: Version, Inferred: inf, BaseOrder: bc.Perm, HideShapes: f.hideMode()})
	return a, err
}

// hideMode is --hide-shapes as rewrite takes it.
func (f *RewriteOptions) hideMode() rewrite.HideMode {
	switch f.HideShapes {
	case "on":
		return rewrite.HideOn
	case "off":
		return rewrite.HideOff
	}
	return rewrite.HideAuto
}

// fitBudget returns first, or a plan at a lower liveness budget whose
// rewrite meets opt's budget under ORT's modelled allocation (a fraction of
// the original's modelled peak, or the bytes given). Among the plans that
// meet it, it keeps the one with the least recomputation; if none does
// within maxFitPlans, first (the result says so).
func fitBudget(first *fitAttempt, t *rwTraining, inf *ops.Result, f *RewriteOptions, opt planner.Options) (*fitAttempt, BudgetFit) {
	fr := BudgetFit{Model: "ort", PlannerBytes: first.budget, Plans: 1, FirstReuse: first.reuse()}
	target := opt.BudgetBytes
	if opt.BudgetFrac > 0 {
		target = int64(opt.BudgetFrac * float64(first.rep.BeforeReusePeakBytes))
	}
	fr.TargetBytes = target
	if first.reuse() <= target || first.rep.Unchanged || first.reuse() == 0 || target <= 0 {
		fr.Met = first.reuse() <= target
		return first, fr
	}
	try := func(b int64) (*fitAttempt, error) {
		o := opt
		o.BudgetBytes, o.BudgetFrac = b, 0
		fr.Plans++
		return planAndApply(t, inf, f, o)
	}
	best := first // lowest modelled peak while nothing meets the target
	var met *fitAttempt
	hi, lo := first.budget, int64(0) // liveness budgets: hi misses, lo meets
	b := scaleBudget(hi, target, first.reuse())
	for fr.Plans <= maxFitPlans {
		if b <= lo || b >= hi {
			break
		}
		a, err := try(b)
		var ie *planner.InfeasibleError
		switch {
		case errors.As(err, &ie):
			if ie.MinBytes >= hi {
				fr.Note = fmt.Sprintf("the smallest feasible liveness peak is %s; the lowest modelled ORT peak in %d plans was %s", planner.HumanBytes(ie.MinBytes), fr.Plans, planner.HumanBytes(best.reuse()))
				b = hi
				continue
			}
			b = ie.MinBytes // the smallest feasible peak: try it
			if b <= lo {
				b = lo + 1
			}
			continue
		case err != nil:
			fr.Note = fmt.Sprintf("stopped: %v", err)
			b = hi
			continue
		}
		if a.reuse() <= target {
			if met == nil || a.rep.OverheadCost < met.rep.OverheadCost {
				met = a
			}
			lo = b
		} else {
			if a.reuse() < best.reuse() {
				best = a
			}
			hi = b
		}
		if met == nil {
			b = scaleBudget(b, target, a.reuse())
			if b >= hi {
				b = hi - (hi-lo)/8 - 1
			}
		} else {
			if hi-lo <= hi/100 { // within 1%: the overhead will not change much
				break
			}
			b = lo + (hi-lo)/2
		}
	}
	if met != nil {
		fr.PlannerBytes, fr.Met = met.budget, true
		return met, fr
	}
	// Nothing met it: keep the plan at the budget as given. A lower
	// liveness budget costs recomputation, and the model is an upper bound
	// (ORT sizes values behind a guard at run time and does not reuse for
	// them), so a plan that only comes closer is not worth it.
	if fr.Note == "" {
		fr.Note = fmt.Sprintf("the lowest modelled peak in %d plans was %s", fr.Plans, planner.HumanBytes(best.reuse()))
	}
	return first, fr
}

// scaleBudget scales liveness budget b by target/got, the proportion by
// which the modelled ORT peak it gave missed, a little below it so that one
// step usually suffices.
func scaleBudget(b, target, got int64) int64 {
	if got <= 0 {
		return b
	}
	return int64(float64(b) * float64(target) / float64(got) * 0.98)
}

// plural is "1 plan" or "n plans".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
