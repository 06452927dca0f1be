package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

// Options says what to benchmark.
type Options struct {
	Models  []string // built-in network names; nil means every models.Names()
	CGFiles []string // paper cg files
	// Batch, Size and Seq override the paper's sizes for every built-in
	// network (0 keeps the default of each network).
	Batch, Size, Seq int
	Budgets          []float64 // fractions of the none peak for the sweep
	TCBudget         float64   // fraction of the none peak for the TC rows
	Strategies       []string  // subset of none, chen, approx, exact (none always runs)
	MaxLowerSets     int       // exact DP only when the lower sets fit
	Quick            bool
	TimelinePoints   int       // per curve, after downsampling
	SweepSeconds     float64   // planning time allowed per sweep curve (0: 60 s)
	Progress         io.Writer // progress lines; nil discards
	Command          string    // recorded in RESULTS.md
}

// DefaultBudgets is the sweep of the curves: 20% to 100% of the none peak in
// steps of 10% (each point below the none peak is one planner run per
// strategy, seconds each on the big networks).
func DefaultBudgets() []float64 {
	var b []float64
	for p := 20; p <= 100; p += 10 {
		b = append(b, float64(p)/100)
	}
	return b
}

// QuickBudgets is the sweep --quick uses.
func QuickBudgets() []float64 { return []float64{0.4, 0.6, 0.8, 1} }

// DefaultSizes returns the paper's sizes for a built-in network.
func DefaultSizes(name string) (batch, size, seq int) {
	s := paperDefaults[name]
	return s.Batch, s.Size, s.Seq
}

// Run benchmarks every requested network and returns the results; a network
// that fails is recorded with its error and the run goes on.
func Run(opt Options) (*Results, error) {
	start := time.Now()
	cpu0 := processCPUSeconds()
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	if opt.Budgets == nil {
		opt.Budgets = DefaultBudgets()
	}
	if opt.TCBudget == 0 {
		opt.TCBudget = 0.5
	}
	if opt.Strategies == nil {
		opt.Strategies = []string{"none", "chen", "approx", "exact"}
	}
	if opt.SweepSeconds == 0 {
		opt.SweepSeconds = 60
	}
	if opt.TimelinePoints == 0 {
		opt.TimelinePoints = 800
	}
	for _, s := range opt.Strategies {
		switch s {
		case "none", "chen", "approx", "exact":
		default:
			return nil, fmt.Errorf("unknown strategy %q (want none, chen, approx or exact)", s)
		}
	}
	names := opt.Models
	if names == nil {
		names = models.Names()
	}
	res := &Results{
		Machine: DetectMachine(start),
		Config: Config{Budgets: opt.Budgets, TCBudget: opt.TCBudget, Strategies: opt.Strategies,
			MaxLowerSets: opt.MaxLowerSets, Quick: opt.Quick, Command: opt.Command},
	}
	for _, name := range names {
		n := &Network{Name: name, Source: "built-in", CostUnit: "FLOPs", Paper: paperFor(name)}
		n.Batch, n.Size, n.Seq = DefaultSizes(name)
		if opt.Batch > 0 {
			n.Batch = opt.Batch
		}
		if opt.Size > 0 {
			n.Size = opt.Size
		}
		if opt.Seq > 0 {
			n.Seq = opt.Seq
		}
		t0 := time.Now()
		g, err := builtinGraph(n)
		n.BuildSeconds = time.Since(t0).Seconds()
		benchGraph(n, g, err, opt)
		res.Networks = append(res.Networks, n)
	}
	for _, path := range opt.CGFiles {
		base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		n := &Network{Name: base, Source: filepath.Base(path), CostUnit: "paper units", Paper: paperFor(base)}
		t0 := time.Now()
		g, err := cgGraph(path)
		n.BuildSeconds = time.Since(t0).Seconds()
		benchGraph(n, g, err, opt)
		res.Networks = append(res.Networks, n)
	}
	res.TotalSeconds = time.Since(start).Seconds()
	res.CPUSeconds = processCPUSeconds() - cpu0
	return res, nil
}

// builtinGraph builds a network's training graph without weights (shapes
// only) and turns it into the planner's graph.
func builtinGraph(n *Network) (*planner.Graph, error) {
	fwd, err := models.Build(n.Name, models.Options{Batch: n.Batch, Size: n.Size, Seq: n.Seq, NoWeights: true})
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", n.Name, err)
	}
	m, err := autodiff.Build(fwd, autodiff.Options{})
	if err != nil {
		return nil, fmt.Errorf("autodiff %s: %w", n.Name, err)
	}
	return modelGraph(m)
}

// modelGraph is the inspect/plan path: inference, training split, planner graph.
func modelGraph(m *onnx.Model) (*planner.Graph, error) {
	g, _, err := inferredGraph(m)
	return g, err
}

// inferredGraph is modelGraph that also returns the inference result.
func inferredGraph(m *onnx.Model) (*planner.Graph, *ops.Result, error) {
	r, err := ops.Infer(m, ops.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("infer: %w", err)
	}
	v, err := onnx.NewView(m.Proto.GetGraph())
	if err != nil {
		return nil, nil, fmt.Errorf("graph: %w", err)
	}
	s, err := ops.SplitTraining(m, v, "")
	if err != nil {
		return nil, nil, fmt.Errorf("split: %w", err)
	}
	g, err := planner.FromModel(m, r, s, "flops")
	if err != nil {
		return nil, nil, fmt.Errorf("planner graph: %w", err)
	}
	return g, r, nil
}

func cgGraph(path string) (*planner.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := planner.ParseCG(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return g, nil
}

func (o Options) has(strategy string) bool {
	for _, s := range o.Strategies {
		if s == strategy {
			return true
		}
	}
	return false
}

// benchGraph fills n from its graph: the main rows, the sweep, the timeline
// and the verdict against the paper.
func benchGraph(n *Network, g *planner.Graph, err error, opt Options) {
	defer Judge(n)
	say := func(format string, a ...any) {
		fmt.Fprintf(opt.Progress, "bench: %s: %s\n", n.Name, fmt.Sprintf(format, a...))
	}
	if err != nil {
		n.Err = err.Error()
		say("failed: %v", err)
		return
	}
	n.Ops, n.Values, n.ForwardCost = len(g.Ops), len(g.Values), g.ForwardCost
	for _, op := range g.Ops {
		if !op.Backward {
			n.ForwardOps++
		}
	}
	n.FloorBytes = FloorBytes(g)
	say("graph: %d ops (%d forward), %d values, built in %.1fs", n.Ops, n.ForwardOps, n.Values, n.BuildSeconds)

	nonePlan, err := planner.Make(g, planner.Options{Strategy: "none"})
	if err != nil {
		n.Err = fmt.Sprintf("strategy none: %v", err)
		say("failed: %s", n.Err)
		return
	}
	n.NonePeakBytes = nonePlan.PeakBytes
	n.Rows = append(n.Rows, rowFrom("none", nonePlan, nonePlan.Seconds, n.NonePeakBytes))
	say("none: peak %s", fmtBytes(n.NonePeakBytes))

	plans := map[string]*planner.Plan{}
	type spec struct {
		label, strategy, objective string
		frac                       float64
	}
	var specs []spec
	if opt.has("chen") {
		specs = append(specs, spec{"chen", "chen", "", 0})
	}
	for _, s := range []string{"approx", "exact"} {
		if opt.has(s) {
			specs = append(specs, spec{s + " TC", s, "time", opt.TCBudget}, spec{s + " MC", s, "memory", 0})
		}
	}
	exactSkip := ""
	for _, sp := range specs {
		if sp.strategy == "exact" && exactSkip != "" {
			n.Rows = append(n.Rows, Row{Label: sp.label, Strategy: sp.strategy, Objective: sp.objective, Skipped: exactSkip})
			continue
		}
		o := planner.Options{Strategy: sp.strategy, Objective: sp.objective, BudgetFrac: sp.frac, MaxLowerSets: opt.MaxLowerSets}
		t0 := time.Now()
		p, err := planner.Make(g, o)
		secs := time.Since(t0).Seconds()
		if err != nil {
			row := Row{Label: sp.label, Strategy: sp.strategy, Objective: sp.objective, Seconds: secs}
			if sp.frac > 0 {
				row.BudgetBytes = int64(sp.frac * float64(n.NonePeakBytes))
			}
			var inf *planner.InfeasibleError
			if skip := lowerSetSkip(err); skip != "" && sp.strategy == "exact" {
				exactSkip, row.Skipped = skip, skip
				say("%s: %s (%.1fs)", sp.label, skip, secs)
			} else if errors.As(err, &inf) {
				row.Err, row.MinBytes = "infeasible", inf.MinBytes
				say("%s: budget %s infeasible, lowest peak %s", sp.label, fmtBytes(inf.BudgetBytes), fmtBytes(inf.MinBytes))
			} else {
				row.Err = shortErr(err)
				say("%s: %v", sp.label, err)
			}
			n.Rows = append(n.Rows, row)
			continue
		}
		plans[sp.label] = p
		row := rowFrom(sp.label, p, secs, n.NonePeakBytes)
		n.Rows = append(n.Rows, row)
		say("%s: peak %s (−%.1f%%), overhead +%.1f%%, %d segments, %.2fs", sp.label, fmtBytes(row.PeakBytes), row.Reduction, row.Overhead, row.Segments, secs)
	}

	// The sweep: the time-centric plan of each DP strategy at every budget
	// (the memory-centric minimum and Chen are single points beside it).
	// A budget below the strategy's own memory-centric minimum is
	// infeasible for it (that minimum is the lowest peak any of its
	// candidates replays to), a budget at or above the none peak is met by
	// none itself, and the TC row's budget was planned already; none of
	// these needs a run, and the table says which is which. The remaining
	// budgets are planned as far as opt.SweepSeconds allows, judged by how
	// long this strategy's rows took; the others are marked "not run".
	for _, sp := range specs {
		if sp.objective != "time" || (sp.strategy == "exact" && exactSkip != "") {
			continue
		}
		var floor int64
		var perPlan float64
		mcRow, _ := n.row(sp.strategy + " MC")
		tcRow, _ := n.row(sp.label)
		if mc := plans[sp.strategy+" MC"]; mc != nil {
			floor = mc.PeakBytes
		}
		perPlan = max(mcRow.Seconds, tcRow.Seconds, 1e-3)
		c := Curve{Label: sp.label, Points: make([]Point, len(opt.Budgets))}
		var todo []int
		for i, f := range opt.Budgets {
			pt := Point{BudgetFrac: f, BudgetBytes: int64(f * float64(n.NonePeakBytes))}
			switch {
			case f >= 1:
				pt.PeakBytes, pt.Derived = n.NonePeakBytes, "none fits"
			case floor > 0 && pt.BudgetBytes < floor:
				pt.Infeasible, pt.Derived = true, "below the MC minimum"
			case f == sp.frac && tcRow.Label != "":
				pt.Derived = "the TC row"
				pt.Seconds = tcRow.Seconds
				if tcRow.OK() {
					pt.PeakBytes, pt.Overhead = tcRow.PeakBytes, tcRow.Overhead
				} else {
					pt.Infeasible = true
				}
			default:
				todo = append(todo, i)
			}
			c.Points[i] = pt
		}
		maxRuns := int(opt.SweepSeconds / perPlan)
		run := spread(todo, maxRuns)
		if len(run) < len(todo) {
			n.Notes = append(n.Notes, fmt.Sprintf("%s sweep capped: %d of %d budgets planned (one plan takes about %.1f s; --sweep-seconds %.0f)",
				sp.label, len(run), len(todo), perPlan, opt.SweepSeconds))
		}
		planned := map[int]bool{}
		for _, i := range run {
			planned[i] = true
		}
		t0 := time.Now()
		for _, i := range todo {
			pt := &c.Points[i]
			if !planned[i] {
				pt.Derived = "not run: time cap"
				continue
			}
			t1 := time.Now()
			p, err := planner.Make(g, planner.Options{Strategy: sp.strategy, Objective: sp.objective, BudgetFrac: pt.BudgetFrac, MaxLowerSets: opt.MaxLowerSets})
			pt.Seconds = time.Since(t1).Seconds()
			var inf *planner.InfeasibleError
			switch {
			case errors.As(err, &inf):
				pt.Infeasible = true
			case err != nil:
				pt.Err = shortErr(err)
			default:
				pt.PeakBytes = p.PeakBytes
				pt.Overhead = pct(p.OverheadCost, p.ForwardCost)
			}
		}
		n.Sweep = append(n.Sweep, c)
		say("sweep %s: %d budgets (%d planned) in %.1fs", sp.label, len(opt.Budgets), len(run), time.Since(t0).Seconds())
	}

	// Timeline: none against the minimum-memory plan.
	if best, ok := n.MinMemory(); ok {
		if p := plans[best.Label]; p != nil {
			before, err1 := planner.Replay(g, nonePlan.Schedule)
			after, err2 := planner.Replay(g, p.Schedule)
			if err1 == nil && err2 == nil {
				n.Timeline = &Timeline{AfterLabel: best.Label, NoneSteps: len(before.Timeline), AfterSteps: len(after.Timeline),
					None: Downsample(before.Timeline, opt.TimelinePoints), After: Downsample(after.Timeline, opt.TimelinePoints)}
				n.PeakAt = peakAt(g, p.Schedule)
				if n.PeakAt != nil {
					n.PeakAt.Plan = best.Label
				}
			} else {
				n.Notes = append(n.Notes, fmt.Sprintf("timeline not drawn: %v %v", err1, err2))
			}
		}
	}
}

// peakAt replays s (liveness as in DESIGN.md: a compute step holds its
// inputs and outputs at once) and describes the live set at the first
// compute step where it is largest.
func peakAt(g *planner.Graph, s planner.Schedule) *PeakAt {
	live := make([]bool, len(g.Values))
	fwdWritten := make([]bool, len(g.Values))
	for _, op := range g.Ops {
		if !op.Backward {
			for _, v := range op.Outputs {
				fwdWritten[v] = true
			}
		}
	}
	var cur int64
	var best *PeakAt
	for i, st := range s {
		if st.Op < 0 {
			if st.Free >= 0 && st.Free < len(live) && live[st.Free] {
				live[st.Free] = false
				cur -= g.Values[st.Free].Bytes
			}
			continue
		}
		op := g.Ops[st.Op]
		for _, v := range op.Outputs {
			if !live[v] && !g.Values[v].Resident {
				live[v] = true
				cur += g.Values[v].Bytes
			}
		}
		if best != nil && cur+op.Workspace <= best.Bytes {
			continue
		}
		best = &PeakAt{Op: op.Name, OpType: op.Type, Backward: op.Backward, Step: i, Bytes: cur + op.Workspace, WorkspaceBytes: op.Workspace}
		for v, on := range live {
			switch {
			case !on:
			case fwdWritten[v]:
				best.ActivationBytes += g.Values[v].Bytes
			default:
				best.GradientBytes += g.Values[v].Bytes
			}
		}
		seen := map[int]bool{}
		for _, list := range [][]int{op.Inputs, op.Outputs} {
			for _, v := range list {
				if !seen[v] && !g.Values[v].Resident {
					seen[v] = true
					best.OpBytes += g.Values[v].Bytes
				}
			}
		}
	}
	return best
}

// spread picks at most k of idx, evenly spaced, keeping the first and the
// last when k >= 2.
func spread(idx []int, k int) []int {
	if k >= len(idx) {
		return idx
	}
	if k <= 0 {
		return nil
	}
	if k == 1 {
		return idx[len(idx)/2 : len(idx)/2+1]
	}
	out := make([]int, 0, k)
	for j := 0; j < k; j++ {
		out = append(out, idx[j*(len(idx)-1)/(k-1)])
	}
	return out
}

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * part / whole
}

func rowFrom(label string, p *planner.Plan, secs float64, none int64) Row {
	r := Row{
		Label: label, Strategy: p.Strategy, Objective: p.Objective, BudgetBytes: p.BudgetBytes,
		PeakBytes: p.PeakBytes, Predicted: p.PredictedPeakBytes,
		Overhead: pct(p.OverheadCost, p.ForwardCost), Cost: p.OverheadCost,
		Segments: p.Segments, Recomputed: len(p.Recomputed), Seconds: secs, Note: p.Note,
	}
	if label == "none" || label == "chen" {
		r.Objective = ""
	}
	if none > 0 {
		r.Reduction = 100 * (1 - float64(p.PeakBytes)/float64(none))
	}
	return r
}

// lowerSetSkip recognises the planner's "too many lower sets" refusal and
// turns it into the table's "n/a (N lower sets)".
func lowerSetSkip(err error) string {
	var tm *planner.TooManyLowerSetsError
	if !errors.As(err, &tm) {
		return ""
	}
	n := fmt.Sprint(tm.Count)
	if tm.AtLeast {
		n = "> " + n
	}
	return fmt.Sprintf("n/a (%s lower sets)", n)
}

func shortErr(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// FloorBytes is the largest working set of a single op: its non-resident
// inputs and outputs, counted once each. Every schedule runs every backward
// op, so none can peak below the largest backward one; forward ops count too.
func FloorBytes(g *planner.Graph) int64 {
	var floor int64
	seen := map[int]bool{}
	for _, op := range g.Ops {
		clear(seen)
		var b int64
		for _, list := range [][]int{op.Inputs, op.Outputs} {
			for _, v := range list {
				if !seen[v] && !g.Values[v].Resident {
					seen[v] = true
					b += g.Values[v].Bytes
				}
			}
		}
		floor = max(floor, b)
	}
	return floor
}

// Write saves RESULTS.md, results.json and the plots in dir.
func Write(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench output: %w", err)
	}
	for _, n := range r.Networks {
		if n.Err != "" {
			continue
		}
		names, err := WritePlots(dir, n)
		n.Plots = names
		if err != nil {
			return fmt.Errorf("plots for %s: %w", n.Name, err)
		}
	}
	var md, js strings.Builder
	if err := WriteMarkdown(&md, r); err != nil {
		return err
	}
	if err := WriteJSON(&js, r); err != nil {
		return err
	}
	if err := onnx.WriteFileAtomic(filepath.Join(dir, "RESULTS.md"), []byte(md.String())); err != nil {
		return err
	}
	return onnx.WriteFileAtomic(filepath.Join(dir, "results.json"), []byte(js.String()))
}
