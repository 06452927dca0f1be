package recompute

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// RewriteOptions say how to get a training graph and how to rewrite it:
// the planner settings (Plan), the built-in networks' sizes, autodiff for a
// forward-only model, and the runtime the output is for. Each field is the
// command-line flag of the same name; the zero value rewrites for ONNX
// Runtime with ordering guards and FLOP costs.
type RewriteOptions struct {
	Plan PlanOptions

	Size, Seq int        // built-in networks: input size, sequence length (0: the network's default)
	LLM       models.LLM // built-in llama: preset and per-field sizes
	NoWeights bool       // built-in networks without weight values (planning only)

	Grad      bool     // build the backward graph (autodiff) of a forward-only model first
	GradLoss  string   // the loss Grad appends ("": cross-entropy, or sum where cross-entropy does not apply)
	Trainable []string // with Grad: train only the parameters whose name matches one of these regular expressions
	Freeze    []string // with Grad: freeze the parameters whose name matches one of these

	Target      string // ort (default: ONNX Runtime) or generic (no runtime-specific nodes)
	NoORTGuard  bool   // with Target ort: leave out the ordering guards (as Target generic)
	BudgetModel string // what Budget limits: ort (default with Target ort) or liveness
	HideShapes  string // with Target ort: auto (default), on or off

	// Provenance is recorded in the output as how it was made (the
	// command records its planning flags); "" records the options. Convert
	// converts a file again unless its output records the same.
	Provenance string
	// Progress, if set, receives a line on each step of a long job.
	Progress func(msg string)
}

// target is Target with its default.
func (f *RewriteOptions) target() string {
	if f.Target == "" {
		return "ort"
	}
	return f.Target
}

// gradLoss is the loss autodiff appends first.
func (f *RewriteOptions) gradLoss() string {
	if f.GradLoss == "" {
		return "cross-entropy"
	}
	return f.GradLoss
}

// step reports progress, if anyone listens.
func (f *RewriteOptions) step(format string, a ...any) {
	if f.Progress != nil {
		f.Progress(fmt.Sprintf(format, a...))
	}
}

// budgetModel is the memory model the budget is for: "ort" (ORT's allocation
// planner, the default with Target ort) or "liveness".
func (f *RewriteOptions) budgetModel() string {
	if f.BudgetModel != "" {
		return f.BudgetModel
	}
	if f.target() == "generic" || f.NoORTGuard {
		return "liveness"
	}
	return "ort"
}

// planOptions turns the options into planner and inference options; a bad
// value is an *OptionError.
func (f *RewriteOptions) planOptions() (planner.Options, ops.Options, error) {
	po, err := f.Plan.options()
	if err == nil && f.Target != "" && f.Target != "ort" && f.Target != "generic" {
		err = optionErrorf("--target %q: want ort or generic", f.Target)
	}
	if err == nil && f.HideShapes != "" && f.HideShapes != "auto" && f.HideShapes != "on" && f.HideShapes != "off" {
		err = optionErrorf("--hide-shapes %q: want auto, on or off", f.HideShapes)
	}
	if err == nil && f.BudgetModel != "" && f.BudgetModel != "ort" && f.BudgetModel != "liveness" {
		err = optionErrorf("--budget-model %q: want ort or liveness", f.BudgetModel)
	}
	if err != nil {
		return po, ops.Options{}, err
	}
	dims, err := f.Plan.dimMap()
	if err != nil {
		return po, ops.Options{}, err
	}
	if !slices.Contains(autodiff.Losses, f.gradLoss()) {
		return po, ops.Options{}, optionErrorf("--grad-loss %q: want one of %s", f.GradLoss, strings.Join(autodiff.Losses, ", "))
	}
	if _, err := newParamSelection(f.Trainable, f.Freeze); err != nil {
		return po, ops.Options{}, err
	}
	return po, ops.Options{Dims: dims, Batch: f.Plan.Batch}, nil
}

// TrainingGraph returns the training graph Rewrite would plan for source:
// the model in a file holding one, a forward model file with Grad and its
// backward graph, or a built-in network with its backward graph.
func TrainingGraph(source string, o RewriteOptions) (*onnx.Model, error) {
	if _, _, err := o.planOptions(); err != nil {
		return nil, err
	}
	t, err := rwLoadTraining(source, &o)
	if err != nil {
		return nil, err
	}
	return t.model, nil
}

// rwTraining is a training graph ready to plan.
type rwTraining struct {
	model *onnx.Model
	what  string // how it was obtained, for the report
	split *ops.Split
}

// rwLoadTraining returns the training graph named by arg: a file holding one,
// a forward model file with f.Grad, or a built-in network name.
func rwLoadTraining(arg string, f *RewriteOptions) (*rwTraining, error) {
	f.Plan.forModel(arg)
	if _, err := os.Stat(arg); err != nil {
		for _, name := range models.Names() {
			if name == arg {
				return rwBuildTraining(name, f)
			}
		}
		return nil, fmt.Errorf("%s: no such file and not a built-in model (built-in: %s)", arg, strings.Join(models.Names(), ", "))
	}
	m, err := onnx.Load(arg)
	if err != nil {
		return nil, err
	}
	t := &rwTraining{model: m, what: "training graph"}
	split, err := rwSplitTraining(m, f.Plan.Loss)
	if err == nil {
		t.split = split
		return t, nil
	}
	if !f.Grad {
		return nil, fmt.Errorf("%s: %v (a forward-only model? pass --grad to build its backward graph)", arg, err)
	}
	tm, what, gerr := rwAutodiff(m, f)
	if gerr != nil {
		return nil, fmt.Errorf("%s: no backward part, and autodiff failed: %w", arg, gerr)
	}
	tm.Path = m.Path
	t.model, t.what = tm, "forward model + "+what
	if t.split, err = rwSplitTraining(tm, ""); err != nil {
		return nil, fmt.Errorf("%s: after autodiff: %w", arg, err)
	}
	return t, nil
}

func rwBuildTraining(name string, f *RewriteOptions) (*rwTraining, error) {
	fm, err := models.Build(name, models.Options{Batch: int(f.Plan.Batch), Size: f.Size, Seq: f.Seq, NoWeights: f.NoWeights, LLM: f.LLM})
	if err != nil {
		return nil, err
	}
	tm, what, err := rwAutodiff(fm, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t := &rwTraining{model: tm, what: "built-in " + strings.TrimPrefix(fm.Proto.GetDocString(), "recompute built-in ") + ", " + what}
	if t.split, err = rwSplitTraining(tm, ""); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// rwAutodiff appends a loss and the backward graph to m. Unless the loss
// was chosen with --grad-loss, a model whose first output cannot take
// cross-entropy (an eval graph that already ends in a scalar loss, a
// regression head) gets the sum loss instead, and the report says so.
func rwAutodiff(m *onnx.Model, f *RewriteOptions) (*onnx.Model, string, error) {
	sel, err := newParamSelection(f.Trainable, f.Freeze) // checked by planOptions
	if err != nil {
		return nil, "", err
	}
	tm, err := autodiff.Build(m, autodiff.Options{Loss: f.gradLoss(), Trainable: sel.predicate()})
	if err == nil {
		return tm, "autodiff backward (" + f.gradLoss() + " loss)", nil
	}
	if f.GradLoss != "" {
		return nil, "", autodiffErr(err)
	}
	tm, err2 := autodiff.Build(m, autodiff.Options{Loss: "sum", Trainable: sel.predicate()})
	if err2 != nil {
		// The sum loss takes any float output: its failure is the one
		// that blocks the model (unless both are about the output).
		if errors.Is(err2, autodiff.ErrOutputNotFloat) {
			return nil, "", autodiffErr(err)
		}
		return nil, "", fmt.Errorf("%w (with the sum loss: cross-entropy does not apply)", autodiffErr(err2))
	}
	return tm, "autodiff backward (sum loss: cross-entropy does not apply)", nil
}

// autodiffErr says that err comes from autodiff, once.
func autodiffErr(err error) error {
	if strings.HasPrefix(err.Error(), "autodiff") {
		return err
	}
	return fmt.Errorf("autodiff: %w", err)
}

func rwSplitTraining(m *onnx.Model, loss string) (*ops.Split, error) {
	v, err := onnx.NewView(m.Proto.Graph)
	if err != nil {
		return nil, err
	}
	return ops.SplitTraining(m, v, loss)
}

// RewriteResult is the outcome of rewriting one model.
type RewriteResult struct {
	File            string  `json:"file"`
	Out             string  `json:"out,omitempty"`
	What            string  `json:"what,omitempty"`
	NodesBefore     int     `json:"nodes_before"`
	Nodes           int     `json:"nodes"`
	Clones          int     `json:"clones"`
	FusionClones    int     `json:"fusion_clones,omitempty"`  // of Clones: producers recomputed so that ORT's fusions stay as in the input
	FusionDropped   int     `json:"fusion_dropped,omitempty"` // recomputations the plan asked for, left out for them
	Guards          int     `json:"guards"`
	HiddenInputs    int     `json:"hidden_shape_inputs,omitempty"` // inputs whose shape ORT's planner cannot see (--hide-shapes)
	Unchanged       bool    `json:"unchanged,omitempty"`           // nothing lowered the peak: the graph as it was read
	BeforePeakBytes int64   `json:"peak_before_bytes"`
	PeakBytes       int64   `json:"peak_after_bytes"`
	BeforeORTPeak   int64   `json:"ort_order_peak_before_bytes"`
	ORTPeak         int64   `json:"ort_order_peak_after_bytes"`
	BeforeReusePeak int64   `json:"ort_reuse_peak_before_bytes,omitempty"`
	ReusePeak       int64   `json:"ort_reuse_peak_after_bytes,omitempty"`
	PlannedPeak     int64   `json:"planned_peak_bytes"`
	PredictedPeak   int64   `json:"predicted_peak_bytes"`
	RescheduleMoves int     `json:"reschedule_moves,omitempty"`
	BudgetBytes     int64   `json:"budget_bytes,omitempty"`
	Reduction       float64 `json:"reduction"`
	// The two peaks Reduction compares: the lower baseline and the
	// output's peak in the order it was planned in.
	ReductionBase  int64      `json:"reduction_base_bytes,omitempty"`
	ReductionAfter int64      `json:"reduction_after_bytes,omitempty"`
	OverheadCost   float64    `json:"overhead_flops"` // in CostUnit (FLOPs unless --cost says otherwise)
	CostUnit       string     `json:"cost_unit"`
	CostModel      string     `json:"cost_model,omitempty"` // with --cost ort: where the kernel times come from
	Overhead       float64    `json:"overhead"`
	TimeOverhead   float64    `json:"predicted_time_overhead"` // recomputed cost over the training step's (forward and backward)
	BaseOrder      string     `json:"base_order,omitempty"`
	BaseFilePeak   int64      `json:"base_file_order_peak_bytes,omitempty"`
	BaseORTPeak    int64      `json:"base_ort_order_peak_bytes,omitempty"`
	Strategy       string     `json:"strategy,omitempty"`
	Fit            *BudgetFit `json:"budget_fit,omitempty"`
	Note           string     `json:"note,omitempty"`
	Warnings       []string   `json:"warnings,omitempty"`
	OutBytes       int64      `json:"out_bytes,omitempty"`
	Seconds        float64    `json:"seconds"`
	Status         string     `json:"status"`
	Skipped        string     `json:"skipped,omitempty"` // why an ok file was not converted again ("up to date")
	Error          string     `json:"error,omitempty"`
}

// Rewrite plans recomputation for the model named by in (a training
// graph, a forward model with Grad, or a built-in network name) and writes
// the rewritten model to out, atomically: nothing is written on failure.
// An infeasible budget is an *InfeasibleError, values of unknown size an
// *UnknownSizesError, a malformed option an *OptionError.
func Rewrite(in, out string, o RewriteOptions) (*RewriteResult, error) {
	if rwSameFile(in, out) {
		return nil, fmt.Errorf("output %s is the input model; write to another file", out)
	}
	if _, _, err := o.planOptions(); err != nil {
		return nil, err
	}
	if err := rwCheckWritable(out); err != nil {
		return nil, err
	}
	return rewriteFile(in, out, &o)
}

// rewriteFile plans and rewrites the model named by in and writes it to out
// atomically. Nothing is written on failure.
func rewriteFile(in, out string, f *RewriteOptions) (res *RewriteResult, err error) {
	start := time.Now()
	res = &RewriteResult{File: in, Out: out}
	defer func() {
		// A bug in a package (seen: a divide by zero in autodiff on a
		// zero-sized tensor) must give a one-line error, not a crash that
		// ends a convert batch.
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: internal error (please report): %v", in, p)
		}
	}()
	po, io, err := f.planOptions()
	if err != nil {
		return res, err
	}
	f.step("rewrite %s: loading", in)
	t, err := rwLoadTraining(in, f)
	if err != nil {
		return res, err
	}
	res.What = t.what
	f.step("rewrite %s: planning (%s)", in, f.Plan.Strategy)
	inf, err := ops.Infer(t.model, io)
	if err != nil {
		return res, fmt.Errorf("%s: infer shapes: %w", in, err)
	}
	if len(inf.Unknown) > 0 {
		res.Warnings = append(res.Warnings, "ops without a rule (kept, never cloned): "+strings.Join(inf.Unknown, ", "))
	}
	first, err := planAndApply(t, inf, f, po)
	if first.g == nil {
		return res, fmt.Errorf("%s: %w", in, err)
	}
	res.BaseOrder, res.BaseFilePeak, res.BaseORTPeak = first.bc.Used, first.bc.FilePeakBytes, first.bc.ORTPeakBytes
	res.Warnings = append(res.Warnings, first.g.Warnings...) // values of unknown size (with --allow-unknown-sizes)
	if err != nil {
		var ie *planner.InfeasibleError
		if errors.As(err, &ie) {
			why := ""
			if ie.Reason != "" {
				why = " (" + ie.Reason + ")"
			}
			return res, &withCause{fmt.Sprintf("%s: budget %s is below the smallest feasible transient peak %s (%d bytes)%s; pass --budget %d or more",
				in, planner.HumanBytes(ie.BudgetBytes), planner.HumanBytes(ie.MinBytes), ie.MinBytes, why, ie.MinBytes), err}
		}
		if first.p == nil {
			return res, fmt.Errorf("%s: plan: %w", in, err)
		}
		return res, fmt.Errorf("%s: %w", in, err)
	}
	a := first
	if f.budgetModel() == "ort" && first.p.BudgetBytes > 0 {
		var fr BudgetFit
		f.step("rewrite %s: fitting the budget to ONNX Runtime's allocation model", in)
		a, fr = fitBudget(first, t, inf, f, po)
		res.Fit = &fr
		if !fr.Met {
			res.Warnings = append(res.Warnings, fmt.Sprintf("ORT's modelled peak %s exceeds the budget %s (%s); kept the plan for the budget's liveness peak", planner.HumanBytes(a.reuse()), planner.HumanBytes(fr.TargetBytes), fr.Note))
		}
	}
	p, bc, rm, rep := a.p, a.bc, a.rm, a.rep
	res.BaseOrder, res.BaseFilePeak, res.BaseORTPeak = bc.Used, bc.FilePeakBytes, bc.ORTPeakBytes
	res.NodesBefore, res.Nodes, res.Clones, res.Guards = rep.NodesBefore, rep.Nodes, rep.Clones, rep.Guards
	res.FusionClones, res.FusionDropped = rep.FusionClones, rep.FusionDropped
	res.HiddenInputs = rep.HiddenInputs
	res.Unchanged = rep.Unchanged
	res.BeforePeakBytes, res.PeakBytes = rep.BeforePeakBytes, rep.PeakBytes
	res.BeforeORTPeak, res.ORTPeak = rep.BeforeORTPeakBytes, rep.ORTPeakBytes
	res.BeforeReusePeak, res.ReusePeak = rep.BeforeReusePeakBytes, rep.ReusePeakBytes
	res.PlannedPeak, res.PredictedPeak, res.BudgetBytes = rep.PlannedPeakBytes, rep.PredictedPeakBytes, p.BudgetBytes
	res.RescheduleMoves = p.RescheduleMoves
	res.OverheadCost, res.Overhead, res.TimeOverhead = rep.OverheadCost, rep.OverheadFrac(), rep.TimeOverheadFrac()
	res.CostUnit, res.CostModel = f.Plan.costUnit(), f.Plan.costNote
	res.Strategy, res.Note = p.Strategy+"/"+p.Objective, p.Note
	// The reduction is the output's peak in the order it was planned in
	// (on ORT's base, the order ORT is predicted to run it) against the
	// lower of the two baselines: what the unmodified graph would have
	// needed in the better order, even when the file order planned better.
	after := rep.PeakBytes
	if bc.Used == rewrite.BaseORT {
		after = rep.ORTPeakBytes
	}
	b := bc.BaselineBytes()
	if o := bc.ORTPeakBytes; o > 0 && o < b {
		b = o
	}
	if b > 0 {
		res.Reduction = 1 - float64(after)/float64(b)
		res.ReductionBase, res.ReductionAfter = b, after
	}
	if rep.UnsizedValues > 0 && len(first.g.Warnings) == 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d values have no known size; the simulated peak leaves them out", rep.UnsizedValues))
	}
	if p.BudgetBytes > 0 && rep.PeakBytes > p.BudgetBytes {
		res.Warnings = append(res.Warnings, fmt.Sprintf("simulated peak %s exceeds the budget %s", planner.HumanBytes(rep.PeakBytes), planner.HumanBytes(p.BudgetBytes)))
	}
	if ext := rwExternalData(t.model); ext != "" && t.model.Path != "" && !rwSameDir(t.model.Path, out) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("weights stay in the external file %s; copy it beside %s", ext, out))
	}
	if st, err := os.Stat(in); err == nil && st.Size() >= 64<<20 {
		// The planner's memory is garbage now; give it back to the OS
		// before Save streams a large model's weights through memory, so
		// that the two do not add up in the peak RSS (one collection of a
		// small heap: milliseconds).
		debug.FreeOSMemory()
	}
	if err := rwRecordProvenance(rm, in, f, res); err != nil {
		return res, err
	}
	f.step("rewrite %s: saving %s", in, out)
	if err := rm.Save(out); err != nil {
		return res, err
	}
	if st, err := os.Stat(out); err == nil {
		res.OutBytes = st.Size()
	}
	res.Seconds = time.Since(start).Seconds()
	res.Status = "ok"
	return res, nil
}

// rwExternalData names the first external data file m's initializers use, or "".
func rwExternalData(m *onnx.Model) string {
	for _, t := range m.Proto.Graph.Initializer {
		if t.GetDataLocation() != 1 { // onnxpb.TensorProto_EXTERNAL
			continue
		}
		for _, kv := range t.ExternalData {
			if kv.GetKey() == "location" {
				return kv.GetValue()
			}
		}
	}
	return ""
}

func rwSameDir(a, b string) bool {
	da, err1 := filepath.Abs(filepath.Dir(a))
	db, err2 := filepath.Abs(filepath.Dir(b))
	return err1 == nil && err2 == nil && da == db
}

// rwSameFile reports whether paths a and b name the same file (also through
// symlinks, relative paths or hard links); b need not exist.
func rwSameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	if sb, err := os.Stat(b); err == nil {
		return os.SameFile(sa, sb)
	}
	return false
}

// rwCheckWritable fails early if no file can be created in path's directory.
func rwCheckWritable(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("output %s: %s is not a directory", path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("output %s is a directory", path)
	}
	f, err := os.CreateTemp(dir, ".recompute-probe-*")
	if err != nil {
		return fmt.Errorf("output %s: directory not writable: %w", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// WriteText writes the result as `recompute rewrite` prints it.
func (r *RewriteResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s (%s) -> %s\n", r.File, r.What, r.Out)
	fmt.Fprintf(w, "  strategy        %s", r.Strategy)
	if r.BudgetBytes > 0 {
		fmt.Fprintf(w, ", budget %s", planner.HumanBytes(r.BudgetBytes))
	}
	if r.Note != "" {
		fmt.Fprintf(w, " (%s)", r.Note)
	}
	fmt.Fprintln(w)
	if fr := r.Fit; fr != nil {
		how := "met"
		if !fr.Met {
			how = "NOT met: " + fr.Note
		}
		fmt.Fprintf(w, "  budget in ORT   %s for the peak with ORT's buffer reuse, %s; planned at liveness budget %s (%s; the first gave %s)\n",
			planner.HumanBytes(fr.TargetBytes), how, planner.HumanBytes(fr.PlannerBytes), plural(fr.Plans, "plan"), planner.HumanBytes(fr.FirstReuse))
	}
	if r.Unchanged {
		fmt.Fprintf(w, "  nodes           %d, unchanged: no plan lowers the simulated peak below the original's (with --target ort: in the order ORT runs it), so the graph is written as it was read\n", r.Nodes)
	} else {
		fused := ""
		if r.FusionClones > 0 {
			fused = fmt.Sprintf(", %d of them so that ORT fuses as in the input", r.FusionClones)
		}
		if r.FusionDropped > 0 {
			fused += fmt.Sprintf(", %d left out for it", r.FusionDropped)
		}
		hidden := ""
		if r.HiddenInputs > 0 {
			hidden = fmt.Sprintf(", the shapes of %d inputs hidden from ORT's allocation planner", r.HiddenInputs)
		}
		fmt.Fprintf(w, "  nodes           %d -> %d (%d clones%s, %d ordering guards%s)\n", r.NodesBefore, r.Nodes, r.Clones, fused, r.Guards, hidden)
	}
	fmt.Fprintf(w, "  base order      %s (none peak: file order %s, ORT's order %s); %s against the lower\n", r.BaseOrder, planner.HumanBytes(r.BaseFilePeak), planner.HumanBytes(r.BaseORTPeak), rwFmtChange(r.Reduction))
	fmt.Fprintf(w, "  transient peak  %s -> %s, simulated in file order\n", planner.HumanBytes(r.BeforePeakBytes), planner.HumanBytes(r.PeakBytes))
	fmt.Fprintf(w, "  in ORT's order  %s -> %s, simulated in the order ONNX Runtime is predicted to run\n", planner.HumanBytes(r.BeforeORTPeak), planner.HumanBytes(r.ORTPeak))
	if r.BeforeReusePeak > 0 {
		fmt.Fprintf(w, "  with ORT reuse  %s -> %s, the same order with ORT's allocation planner modelled (dead buffers kept for later tensors of their size)\n", planner.HumanBytes(r.BeforeReusePeak), planner.HumanBytes(r.ReusePeak))
	}
	est := "DP estimate"
	if r.RescheduleMoves > 0 {
		est = "DP estimate before rescheduling"
	}
	fmt.Fprintf(w, "  planned peak    %s (schedule replay), %s %s\n", planner.HumanBytes(r.PlannedPeak), est, planner.HumanBytes(r.PredictedPeak))
	fmt.Fprintf(w, "  overhead        %s %s recomputed, +%.1f%% of the forward pass, +%.1f%% of the training step (the predicted time overhead)\n", rwFmtCount(r.OverheadCost), r.CostUnit, 100*r.Overhead, 100*r.TimeOverhead)
	if r.CostModel != "" {
		fmt.Fprintf(w, "  cost model      %s\n", r.CostModel)
	}
	fmt.Fprintf(w, "  wrote           %s (%s) in %.2f s\n", r.Out, planner.HumanBytes(r.OutBytes), r.Seconds)
}

func rwFmtChange(reduction float64) string {
	return fmt.Sprintf("%+.1f%%", -100*reduction)
}

func rwFmtCount(v float64) string {
	switch {
	case v >= 1e12:
		return fmt.Sprintf("%.2f T", v/1e12)
	case v >= 1e9:
		return fmt.Sprintf("%.2f G", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
