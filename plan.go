package recompute

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// PlanRequest is what Plan plans and how.
type PlanRequest struct {
	// RewriteOptions say how to get the training graph from a model (and
	// hold Plan, the planner settings); their output settings are unused.
	// A built-in network is built shapes-only unless Cost is ort.
	RewriteOptions
	CG           bool   // the source is a graph in the paper's cg text format, not a model
	EmitSchedule string // cg input: write the schedule in the paper's text format to this file
	Top          int    // list the Top largest values live at the planned peak (0: none)
}

// Plan plans recomputation for source (a training graph, a forward model
// with Grad, a built-in network name, or a cg file with CG), replays the
// plan and reports it. An infeasible budget is an *InfeasibleError.
func Plan(source string, o PlanRequest) (*PlanReport, error) {
	pf := &o.Plan
	if o.Top < 0 {
		return nil, optionErrorf("--top %d: want 0 or more", o.Top)
	}
	opt, err := pf.options()
	if err != nil {
		return nil, err
	}
	var (
		g        *planner.Graph
		p        *planner.Plan
		planErr  error
		warnings []string
		bc       rewrite.BaseChoice
	)
	if o.CG {
		if pf.Cost != "" && pf.Cost != "paper" {
			return nil, optionErrorf("--cost %s: cg files carry no shapes; only the paper's costs are available", pf.Cost)
		}
		if g, err = readCG(source); err != nil {
			return nil, err
		}
	} else {
		if o.EmitSchedule != "" {
			return nil, optionErrorf("--emit-schedule is for --cg input; use 'recompute rewrite' to write a rewritten ONNX model")
		}
		// Profiling a built-in network in ONNX Runtime needs its weights.
		src := &o.RewriteOptions
		src.NoWeights = !strings.HasPrefix(pf.Cost, "ort")
		if _, _, err := src.planOptions(); err != nil {
			return nil, err
		}
		src.step("plan %s: loading", source)
		t, err := rwLoadTraining(source, src)
		if err != nil {
			return nil, err
		}
		src.step("plan %s: planning (%s)", source, pf.Strategy)
		g, p, bc, warnings, planErr = modelPlan(t.model, pf, opt)
		if g == nil {
			return nil, fmt.Errorf("%s: %w", source, planErr)
		}
	}
	err = planErr
	if p == nil && err == nil { // cg input
		p, err = planner.Make(g, opt)
	}
	if err != nil {
		var ie *planner.InfeasibleError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("%s: %w; try --budget %d or more, or --objective memory to find the least", source, err, ie.MinBytes)
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if o.EmitSchedule != "" {
		var b strings.Builder
		if err := planner.WriteSchedule(&b, g, p.Schedule); err != nil {
			return nil, err
		}
		if err := onnx.WriteFileAtomic(o.EmitSchedule, []byte(b.String())); err != nil {
			return nil, fmt.Errorf("write schedule %s: %w", o.EmitSchedule, err)
		}
	}
	rep := newPlanReport(source, g, p)
	rep.Warnings = warnings
	rep.CostModel = pf.costNote
	if o.Top > 0 {
		if rep.PeakOp, rep.AtPeak, err = peakValues(g, p.Schedule, o.Top); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	}
	if o.EmitSchedule != "" {
		rep.ScheduleFile = o.EmitSchedule
	}
	if bc.Used != "" {
		rep.baseOrder = baseOrderNote(bc)
	}
	return rep, nil
}

func readCG(path string) (*planner.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cg: %w", err)
	}
	defer f.Close()
	g, err := planner.ParseCG(f)
	if err != nil {
		return nil, fmt.Errorf("read cg %s: %w", path, err)
	}
	return g, nil
}

// PlanReport is what plan prints (text) or encodes (--json).
type PlanReport struct {
	Source             string  `json:"source"`
	Strategy           string  `json:"strategy"`
	Objective          string  `json:"objective"`
	BudgetBytes        int64   `json:"budget_bytes,omitempty"`
	NonePeakBytes      int64   `json:"none_transient_peak_bytes"`
	PredictedPeakBytes int64   `json:"predicted_transient_peak_bytes"`
	RescheduleMoves    int     `json:"reschedule_moves,omitempty"`
	PeakBytes          int64   `json:"replayed_transient_peak_bytes"`
	ReductionPercent   float64 `json:"reduction_percent"`
	OverheadCost       float64 `json:"overhead_cost_units"`
	ForwardCost        float64 `json:"forward_cost_units"`
	OverheadPercent    float64 `json:"overhead_percent_of_forward"`
	// The predicted time overhead: recomputed cost over the training
	// step's (every op, forward and backward).
	TimeOverheadPercent float64  `json:"predicted_time_overhead_percent"`
	Segments            int      `json:"segments"`
	RecomputedOps       int      `json:"recomputed_ops"`
	Recomputed          []string `json:"recomputed"`
	ComputeSteps        int      `json:"compute_steps"`
	PlanningSeconds     float64  `json:"planning_seconds"`
	Note                string   `json:"note,omitempty"`
	CostModel           string   `json:"cost_model,omitempty"` // with --cost ort: where the kernel times come from
	// The recomputed arithmetic whatever the cost model (0 for cg files).
	RecomputedFLOPs      float64  `json:"recomputed_flops"`
	FLOPsOverheadPercent float64  `json:"flops_overhead_percent_of_forward"`
	ScheduleFile         string   `json:"schedule_file,omitempty"`
	Warnings             []string `json:"warnings,omitempty"`
	CostModelForwardOps  int      `json:"forward_ops"`
	// AtPeak lists the largest values live at the replayed peak (--top),
	// PeakOp the op running then.
	AtPeak []PeakValue `json:"at_peak,omitempty"`
	PeakOp string      `json:"peak_op,omitempty"`
	// The floor no schedule goes below (planner.Floors).
	FloorBytes       int64  `json:"floor_bytes"`
	FloorOutputBytes int64  `json:"floor_output_bytes"`
	FloorStepBytes   int64  `json:"floor_step_bytes"`
	FloorStepOp      string `json:"floor_step_op,omitempty"`
	baseOrder        string // the base order chosen, for the text form
}

// PeakValue is one value live at the planned peak.
type PeakValue struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	Writer string `json:"written_by"`
	// Kind: activation (forward op's first run), recomputed (a clone's
	// output), gradient (a backward op's output) or workspace (the
	// running op's kernel workspace, not a value).
	Kind string `json:"kind"`
}

// peakValues returns the n largest values live at the peak of s.
func peakValues(g *planner.Graph, s planner.Schedule, n int) (string, []PeakValue, error) {
	step, vals, err := planner.PeakLive(g, s)
	if err != nil || step < 0 {
		return "", nil, err
	}
	ran := make([]int, len(g.Ops))
	for _, st := range s[:step+1] {
		if st.Op >= 0 {
			ran[st.Op]++
		}
	}
	var out []PeakValue
	for _, v := range vals[:min(n, len(vals))] {
		pv := PeakValue{Name: g.Values[v.Value].Name, Bytes: v.Bytes, Kind: "activation"}
		if v.Writer >= 0 {
			op := &g.Ops[v.Writer]
			pv.Writer = op.Type + " " + op.Name
			switch {
			case op.Backward:
				pv.Kind = "gradient"
			case ran[v.Writer] > 1:
				pv.Kind = "recomputed"
			}
		}
		out = append(out, pv)
	}
	op := &g.Ops[s[step].Op]
	if op.Workspace > 0 {
		// The running op's kernel workspace is part of the peak too; it
		// is listed as its own row, in its place by size.
		ws := PeakValue{Name: "(kernel workspace)", Bytes: op.Workspace, Kind: "workspace", Writer: op.Type + " " + op.Name}
		i := 0
		for i < len(out) && out[i].Bytes >= ws.Bytes {
			i++
		}
		if i < n {
			out = slices.Insert(out, i, ws)
			out = out[:min(n, len(out))]
		}
	}
	return op.Type + " " + op.Name, out, nil
}

func newPlanReport(source string, g *planner.Graph, p *planner.Plan) *PlanReport {
	r := &PlanReport{
		Source: source, Strategy: p.Strategy, Objective: p.Objective, BudgetBytes: p.BudgetBytes,
		NonePeakBytes: p.NonePeakBytes, PredictedPeakBytes: p.PredictedPeakBytes, PeakBytes: p.PeakBytes,
		RescheduleMoves: p.RescheduleMoves,
		OverheadCost:    p.OverheadCost, ForwardCost: p.ForwardCost, Segments: p.Segments,
		RecomputedOps: len(p.Recomputed), PlanningSeconds: p.Seconds, Note: p.Note,
		Recomputed: []string{},
		FloorBytes: p.Floor.Bytes, FloorOutputBytes: p.Floor.OutputBytes, FloorStepBytes: p.Floor.StepBytes,
	}
	if o := p.Floor.StepOp; o >= 0 && o < len(g.Ops) {
		r.FloorStepOp = g.Ops[o].Type + " " + g.Ops[o].Name
	}
	if p.NonePeakBytes > 0 {
		r.ReductionPercent = 100 * float64(p.NonePeakBytes-p.PeakBytes) / float64(p.NonePeakBytes)
	}
	if p.ForwardCost > 0 {
		r.OverheadPercent = 100 * p.OverheadCost / p.ForwardCost
	}
	step := 0.0
	for _, op := range g.Ops {
		step += op.Cost
	}
	if step > p.ForwardCost { // cg files cost only the forward ops
		r.TimeOverheadPercent = 100 * p.OverheadCost / step
	}
	for _, o := range p.Recomputed {
		r.Recomputed = append(r.Recomputed, g.Ops[o].Name)
	}
	var fwd float64
	if r.RecomputedFLOPs, fwd = g.RecomputedFLOPs(p.Schedule); fwd > 0 {
		r.FLOPsOverheadPercent = 100 * r.RecomputedFLOPs / fwd
	}
	for _, s := range p.Schedule {
		if s.Op >= 0 {
			r.ComputeSteps++
		}
	}
	for _, op := range g.Ops {
		if !op.Backward {
			r.CostModelForwardOps++
		}
	}
	return r
}

// WriteText writes the report as `recompute plan` prints it.
func (r *PlanReport) WriteText(w io.Writer) {
	mib := func(n int64) string { return fmt.Sprintf("%d bytes (%.1f MiB)", n, float64(n)/(1<<20)) }
	fmt.Fprintf(w, "plan for %s\n", r.Source)
	fmt.Fprintf(w, "  strategy %s, objective %s", r.Strategy, r.Objective)
	if r.BudgetBytes > 0 {
		fmt.Fprintf(w, ", budget %s", mib(r.BudgetBytes))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  none transient peak:       %s\n", mib(r.NonePeakBytes))
	model := "the DP's model"
	if r.Strategy == "none" || r.Strategy == "chen" || strings.Contains(r.Note, "none") {
		// none and chen have no memory model; a plan that fell back to
		// none (the note says so) predicts none's replayed peak.
		model = "no DP model here: the replayed peak"
	} else if r.RescheduleMoves > 0 {
		model = "the DP's model, before rescheduling"
	}
	fmt.Fprintf(w, "  predicted transient peak:  %s (%s)\n", mib(r.PredictedPeakBytes), model)
	fmt.Fprintf(w, "  replayed transient peak:   %s\n", mib(r.PeakBytes))
	fmt.Fprintf(w, "  reduction:                 %.1f%% of the none peak\n", r.ReductionPercent)
	fmt.Fprintf(w, "  floor:                     %s, no schedule goes lower: outputs that live to the end %s, largest single-op working set %s",
		mib(r.FloorBytes), planner.HumanBytes(r.FloorOutputBytes), planner.HumanBytes(r.FloorStepBytes))
	if r.FloorStepOp != "" {
		fmt.Fprintf(w, " (%s)", r.FloorStepOp)
	}
	fmt.Fprintln(w)
	step := ""
	if r.TimeOverheadPercent > 0 {
		step = fmt.Sprintf("; %.1f%% of the training step's, the predicted time overhead", r.TimeOverheadPercent)
	}
	fmt.Fprintf(w, "  recompute overhead:        %s cost units (%.1f%% of the forward cost %s%s)\n", rwFmtCount(r.OverheadCost), r.OverheadPercent, rwFmtCount(r.ForwardCost), step)
	if r.CostModel != "" {
		fmt.Fprintf(w, "  cost model:                %s\n", r.CostModel)
		fmt.Fprintf(w, "  recomputed FLOPs:          %s (%.1f%% of the forward pass's)\n", rwFmtCount(r.RecomputedFLOPs), r.FLOPsOverheadPercent)
	}
	fmt.Fprintf(w, "  segments:                  %d\n", r.Segments)
	fmt.Fprintf(w, "  recomputed ops:            %d of %d forward ops\n", r.RecomputedOps, r.CostModelForwardOps)
	fmt.Fprintf(w, "  schedule:                  %d compute steps", r.ComputeSteps)
	if r.ScheduleFile != "" {
		fmt.Fprintf(w, ", written to %s", r.ScheduleFile)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  planning time:             %.3f s\n", r.PlanningSeconds)
	if len(r.AtPeak) > 0 {
		fmt.Fprintf(w, "  largest values at the peak (running %s):\n", r.PeakOp)
		for _, v := range r.AtPeak {
			fmt.Fprintf(w, "    %10s  %-10s  %s (%s)\n", planner.HumanBytes(v.Bytes), v.Kind, v.Name, v.Writer)
		}
	}
	if r.Note != "" {
		fmt.Fprintf(w, "  note: %s\n", r.Note)
	}
	if r.baseOrder != "" {
		fmt.Fprintf(w, "  base order:                %s\n", r.baseOrder)
	}
}
