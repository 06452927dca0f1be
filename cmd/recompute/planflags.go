package main

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
	"github.com/spf13/pflag"
)

// plannerFlags are the planner flags shared by plan, rewrite, convert and
// bench: add them with addPlannerFlags, read them with options().
type plannerFlags struct {
	strategy     string
	objective    string
	budget       string
	cost         string
	maxLowerSets int
	dims         []string
	batch        int64
	loss         string
	baseOrder    string
	allowUnknown bool // --allow-unknown-sizes
	// With --cost ort: where the node times are cached (beside a model
	// file; "" for built-in networks), the times once read or measured, and
	// the line that says what the costs are.
	costCache string
	nodeTimes *ort.NodeTimes
	costNote  string
}

// addPlannerFlags registers --strategy --objective --budget --cost
// --max-lower-sets --dim --batch --loss --allow-unknown-sizes --base-order
// on fs.
func addPlannerFlags(fs *pflag.FlagSet) *plannerFlags {
	f := &plannerFlags{}
	fs.StringVar(&f.strategy, "strategy", "approx", "planning strategy: "+strings.Join(planner.Strategies(), "|"))
	fs.StringVar(&f.objective, "objective", "", "time (least recomputation within the budget) or memory (least peak); default time with --budget, memory without")
	fs.StringVar(&f.budget, "budget", "", "transient-memory budget: bytes with an optional unit (4GiB, 800MiB, 1.5GB, 123) or a percentage of the none peak (60%)")
	fs.StringVar(&f.cost, "cost", "", "op cost model: flops (ONNX default), paper (10 per convolution, 1 otherwise; cg default), uniform, "+
		"or ort: each node's kernel time in ONNX Runtime, profiled once and cached beside the model (MODEL.ort-times.json), or ort:FILE, read from FILE (that cache, or a profile ORT wrote with enable_profiling)")
	fs.IntVar(&f.maxLowerSets, "max-lower-sets", planner.DefaultMaxLowerSets, "exact strategy: stop if the graph has more lower sets than this")
	fs.StringArrayVar(&f.dims, "dim", nil, "value of a symbolic dimension, NAME=N (repeatable)")
	fs.Int64Var(&f.batch, "batch", 0, "batch size for an unknown leading dimension (0: keep the model's)")
	fs.StringVar(&f.loss, "loss", "", "name of the loss value (default: found automatically)")
	fs.BoolVar(&f.allowUnknown, "allow-unknown-sizes", false, "plan even when values recomputation would touch have unknown sizes (unbound symbolic dimensions, ops without a shape rule), counting them 0 bytes; the report warns")
	fs.StringVar(&f.baseOrder, "base-order", rewrite.BaseBest, "node order to plan from: file (as written), ort (ONNX Runtime's predicted order) or best (whichever replays to the lower peak)")
	return f
}

// options converts the flags into planner options; a malformed value is a
// usage error.
func (f *plannerFlags) options() (planner.Options, error) {
	opt := planner.Options{Strategy: f.strategy, Objective: f.objective, MaxLowerSets: f.maxLowerSets}
	if _, ok := map[string]bool{"none": true, "chen": true, "approx": true, "exact": true}[f.strategy]; !ok {
		return opt, usagef("--strategy %q: want one of %s", f.strategy, strings.Join(planner.Strategies(), ", "))
	}
	switch f.objective {
	case "", "time", "memory":
	default:
		return opt, usagef("--objective %q: want time or memory", f.objective)
	}
	if f.budget != "" {
		b, frac, err := parseBudget(f.budget)
		if err != nil {
			return opt, usagef("--budget: %v", err)
		}
		opt.BudgetBytes, opt.BudgetFrac = b, frac
	}
	if opt.Objective == "" {
		opt.Objective = "memory"
		if f.budget != "" {
			opt.Objective = "time"
		}
	}
	switch kind, file, hasFile := strings.Cut(f.cost, ":"); {
	case hasFile && (kind != "ort" || file == ""):
		return opt, usagef("--cost %q: only ort takes a file (ort:FILE)", f.cost)
	case kind == "" || kind == "flops" || kind == "paper" || kind == "uniform" || kind == "ort":
	default:
		return opt, usagef("--cost %q: want flops, paper, uniform, ort or ort:FILE", f.cost)
	}
	if f.maxLowerSets <= 0 {
		return opt, usagef("--max-lower-sets must be positive")
	}
	if f.batch < 0 {
		return opt, usagef("--batch must not be negative")
	}
	if !slices.Contains(rewrite.BaseOrders(), f.baseOrder) {
		return opt, usagef("--base-order %q: want one of %s", f.baseOrder, strings.Join(rewrite.BaseOrders(), ", "))
	}
	return opt, nil
}

// dimMap parses the --dim NAME=N flags.
func (f *plannerFlags) dimMap() (map[string]int64, error) {
	m := map[string]int64{}
	for _, d := range f.dims {
		name, val, ok := strings.Cut(d, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || n <= 0 {
			return nil, usagef("--dim %q: want NAME=N with N a positive integer", d)
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
	b, err := parseSize(s)
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
func parseSize(s string) (int64, error) {
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
func modelPlan(m *onnx.Model, pf *plannerFlags, opt planner.Options) (*planner.Graph, *planner.Plan, rewrite.BaseChoice, []string, error) {
	var bc rewrite.BaseChoice
	dims, err := pf.dimMap()
	if err != nil {
		return nil, nil, bc, nil, err
	}
	r, err := ops.Infer(m, ops.Options{Dims: dims, Batch: pf.batch})
	if err != nil {
		return nil, nil, bc, nil, err
	}
	s, err := ops.SplitTraining(m, nil, pf.loss)
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
func planOnBase(m *onnx.Model, r *ops.Result, s *ops.Split, pf *plannerFlags, opt planner.Options) (*onnx.Model, *planner.Graph, *planner.Plan, rewrite.BaseChoice, error) {
	costs, err := pf.costFunc(m, r)
	if err != nil {
		return nil, nil, nil, rewrite.BaseChoice{}, err
	}
	g, err := planner.FromModelCosts(m, r, s, costs)
	if err != nil {
		return nil, nil, nil, rewrite.BaseChoice{}, err
	}
	if len(g.Unsized) > 0 && !pf.allowUnknown {
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
	pm, pg, p, bc, err := rewrite.PlanOnBase(m, g, opt, pf.baseOrder, rebuild)
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
// the symbolic dimensions of the graph inputs that no flag binds and the
// flags that would.
func unsizedError(m *onnx.Model, unsized []string, pf *plannerFlags) error {
	dims, _ := pf.dimMap()
	unbound := unboundDims(m.Proto.GetGraph(), ops.Options{Dims: dims, Batch: pf.batch})
	what := fmt.Sprintf("%d values that recomputation would touch have unknown sizes (%s)", len(unsized), summarise(unsized, 3))
	const allow = "--allow-unknown-sizes plans anyway, counting them 0 bytes"
	if len(unbound) == 0 {
		return fmt.Errorf("%s: their shapes cannot be inferred (an unnamed dimension of a graph input: pass --batch N; an op without a shape rule; or shapes computed from data); %s", what, allow)
	}
	return fmt.Errorf("%s: symbolic dimension %s not bound; pass --batch N (binds the graph inputs' leading dimension) or --dim %s=N; %s",
		what, summarise(unbound, 4), unbound[0], allow)
}

// summarise lists the first n of items and how many more there are.
func summarise(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
