package recompute

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// PlanOptions are the planner's settings, shared by Plan, Rewrite and
// Convert. Each field is the command-line flag of the same name (--strategy,
// --budget, …), and takes the same values; the zero value plans with the
// defaults (strategy approx, objective memory without a budget and time
// with one, FLOP costs, the best base order).
type PlanOptions struct {
	Strategy          string   // none, chen, approx (default) or exact
	Objective         string   // time or memory; "": time with a budget, memory without
	Budget            string   // bytes with an optional unit (4GiB, 800MiB, 123) or a percentage of the none peak (60%)
	Cost              string   // flops (default), paper, uniform, ort or ort:FILE
	MaxLowerSets      int      // exact strategy: stop beyond this many lower sets (0: planner.DefaultMaxLowerSets)
	Dims              []string // symbolic dimensions, NAME=N
	Batch             int64    // leading dimension of the graph inputs (0: the model's)
	Loss              string   // the loss value's name ("": found)
	BaseOrder         string   // file, ort or best (default)
	AllowUnknownSizes bool     // plan with values of unknown size, counted 0 bytes

	// With Cost ort: where the node times are cached (beside a model
	// file; "" for built-in networks), the times once read or measured, and
	// the line that says what the costs are.
	costCache string
	nodeTimes *ort.NodeTimes
	costNote  string
}

// options converts the settings into planner options, filling in the
// defaults; a malformed value is an *OptionError.
func (f *PlanOptions) options() (planner.Options, error) {
	if f.Strategy == "" {
		f.Strategy = "approx"
	}
	if f.MaxLowerSets == 0 {
		f.MaxLowerSets = planner.DefaultMaxLowerSets
	}
	if f.BaseOrder == "" {
		f.BaseOrder = rewrite.BaseBest
	}
	opt := planner.Options{Strategy: f.Strategy, Objective: f.Objective, MaxLowerSets: f.MaxLowerSets}
	if _, ok := map[string]bool{"none": true, "chen": true, "approx": true, "exact": true}[f.Strategy]; !ok {
		return opt, optionErrorf("--strategy %q: want one of %s", f.Strategy, strings.Join(planner.Strategies(), ", "))
	}
	switch f.Objective {
	case "", "time", "memory":
	default:
		return opt, optionErrorf("--objective %q: want time or memory", f.Objective)
	}
	if f.Budget != "" {
		b, frac, err := parseBudget(f.Budget)
		if err != nil {
			return opt, optionErrorf("--budget: %v", err)
		}
		opt.BudgetBytes, opt.BudgetFrac = b, frac
	}
	if opt.Objective == "" {
		opt.Objective = "memory"
		if f.Budget != "" {
			opt.Objective = "time"
		}
	}
	switch kind, file, hasFile := strings.Cut(f.Cost, ":"); {
	case hasFile && (kind != "ort" || file == ""):
		return opt, optionErrorf("--cost %q: only ort takes a file (ort:FILE)", f.Cost)
	case kind == "" || kind == "flops" || kind == "paper" || kind == "uniform" || kind == "ort":
	default:
		return opt, optionErrorf("--cost %q: want flops, paper, uniform, ort or ort:FILE", f.Cost)
	}
	if f.MaxLowerSets <= 0 {
		return opt, optionErrorf("--max-lower-sets must be positive")
	}
	if f.Batch < 0 {
		return opt, optionErrorf("--batch must not be negative")
	}
	if !slices.Contains(rewrite.BaseOrders(), f.BaseOrder) {
		return opt, optionErrorf("--base-order %q: want one of %s", f.BaseOrder, strings.Join(rewrite.BaseOrders(), ", "))
	}
	return opt, nil
}

// dimMap parses the --dim NAME=N flags.
func (f *PlanOptions) dimMap() (map[string]int64, error) {
	m := map[string]int64{}
	for _, d := range f.Dims {
		name, val, ok := strings.Cut(d, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || n <= 0 {
			return nil, optionErrorf("--dim %q: want NAME=N with N a positive integer", d)
		}
		m[strings.TrimSpace(name)] = n
	}
	return m, nil
}

// parseBudget reads "60%" (a fraction of the none peak) or a size.
func parseBudget(s string) (bytes int64, frac float64, err error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, 0, fmt.Errorf("%q: want a positive percentage such as 60%%", s)
		}
		return 0, v / 100, nil
	}
	b, err := ParseSize(s)
	if err != nil {
		return 0, 0, err
	}
	if b <= 0 {
		return 0, 0, fmt.Errorf("%q: the budget must be positive", s)
	}
	return b, 0, nil
}

// sizeUnits are the accepted size suffixes (case-insensitive).
var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// parseSize reads a byte count with an optional unit: 123, 123B, 800MiB,
// 4GiB, 1.5GB (decimal), 2G (binary).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range sizeUnits {
		if p, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(p), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q: want a size such as 4GiB, 800MiB or 123 (bytes)", s)
	}
	b := v * mult
	if b > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q: size too large", s)
	}
	return int64(math.Round(b)), nil
}

// modelPlan plans a training graph: shape inference (--dim, --batch), the
// forward/backward split (--loss), planner.FromModel with --cost (default
// flops), then planOnBase. A non-nil graph with an error is a planning
// error (e.g. an infeasible budget); a nil graph, a failure before planning.
// The warnings list unknown ops (planned as kept, never cloned) and values
// of unknown size.
func modelPlan(m *onnx.Model, pf *PlanOptions, opt planner.Options) (*planner.Graph, *planner.Plan, rewrite.BaseChoice, []string, error) {
	var bc rewrite.BaseChoice
	dims, err := pf.dimMap()
	if err != nil {
		return nil, nil, bc, nil, err
	}
	r, err := ops.Infer(m, ops.Options{Dims: dims, Batch: pf.Batch})
	if err != nil {
		return nil, nil, bc, nil, err
	}
	s, err := ops.SplitTraining(m, nil, pf.Loss)
	if err != nil {
		return nil, nil, bc, nil, err
	}
	_, g, p, bc, err := planOnBase(m, r, s, pf, opt)
	if g == nil {
		return nil, nil, bc, nil, err
	}
	var warn []string
	if len(r.Unknown) > 0 {
		warn = append(warn, fmt.Sprintf("ops without a rule, kept and never cloned: %s", strings.Join(r.Unknown, ", ")))
	}
	warn = append(warn, r.Warnings...)
	warn = append(warn, g.Warnings...)
	return g, p, bc, warn, err
}

// planOnBase builds the planner graph of training graph m (inference r,
// split s) and plans it with opt on the base order --base-order picks
// (rewrite.PlanOnBase: with best, on both orders when ONNX Runtime's has the
// lower none peak, keeping the better plan). It returns the model the plan
// indexes (m, or m's nodes permuted; m is never modified). The graph is nil
// only when planning could not start.
func planOnBase(m *onnx.Model, r *ops.Result, s *ops.Split, pf *PlanOptions, opt planner.Options) (*onnx.Model, *planner.Graph, *planner.Plan, rewrite.BaseChoice, error) {
	costs, err := pf.costFunc(m, r)
	if err != nil {
		return nil, nil, nil, rewrite.BaseChoice{}, err
	}
	g, err := planner.FromModelCosts(m, r, s, costs)
	if err != nil {
		return nil, nil, nil, rewrite.BaseChoice{}, err
	}
	if len(g.Unsized) > 0 && !pf.AllowUnknownSizes {
		return nil, nil, nil, rewrite.BaseChoice{}, unsizedError(m, g.Unsized, pf)
	}
	rebuild := func(pm *onnx.Model, perm []int) (*planner.Graph, error) {
		ps := *s
		ps.Forward = make([]bool, len(perm))
		for k, i := range perm {
			ps.Forward[k] = s.Forward[i]
		}
		return planner.FromModelCosts(pm, r, &ps, costs)
	}
	pm, pg, p, bc, err := rewrite.PlanOnBase(m, g, opt, pf.BaseOrder, rebuild)
	if pg == nil {
		pg = g
		if bc.Used == "" {
			return nil, nil, nil, bc, err
		}
	}
	return pm, pg, p, bc, err
}

// baseOrderNote describes the base order for reports.
func baseOrderNote(bc rewrite.BaseChoice) string {
	return fmt.Sprintf("%s (none peak: file order %s, ORT's order %s)",
		bc.Used, planner.HumanBytes(bc.FilePeakBytes), planner.HumanBytes(bc.ORTPeakBytes))
}

// unsizedError refuses to plan with forward values of unknown size, naming
// the symbolic dimensions of the graph inputs that no option binds.
func unsizedError(m *onnx.Model, unsized []string, pf *PlanOptions) error {
	dims, _ := pf.dimMap()
	return &UnknownSizesError{Values: unsized, Unbound: unboundDims(m.Proto.GetGraph(), ops.Options{Dims: dims, Batch: pf.Batch})}
}
