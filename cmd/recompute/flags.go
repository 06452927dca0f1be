package main

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// addPlannerFlags registers --strategy --objective --budget --cost
// --max-lower-sets --dim --batch --loss --allow-unknown-sizes --base-order
// on fs, bound to the fields of f of the same names.
func addPlannerFlags(fs *pflag.FlagSet, f *recompute.PlanOptions) {
	fs.StringVar(&f.Strategy, "strategy", "approx", "planning strategy: "+strings.Join(planner.Strategies(), "|"))
	fs.StringVar(&f.Objective, "objective", "", "time (least recomputation within the budget) or memory (least peak); default time with --budget, memory without")
	fs.StringVar(&f.Budget, "budget", "", "transient-memory budget: bytes with an optional unit (4GiB, 800MiB, 1.5GB, 123) or a percentage of the none peak (60%)")
	fs.StringVar(&f.Cost, "cost", "", "op cost model: flops (ONNX default), paper (10 per convolution, 1 otherwise; cg default), uniform, "+
		"or ort: each node's kernel time in ONNX Runtime, profiled once and cached beside the model (MODEL.ort-times.json), or ort:FILE, read from FILE (that cache, or a profile ORT wrote with enable_profiling)")
	fs.IntVar(&f.MaxLowerSets, "max-lower-sets", planner.DefaultMaxLowerSets, "exact strategy: stop if the graph has more lower sets than this")
	fs.StringArrayVar(&f.Dims, "dim", nil, "value of a symbolic dimension, NAME=N (repeatable)")
	fs.Int64Var(&f.Batch, "batch", 0, "batch size for an unknown leading dimension (0: keep the model's)")
	fs.StringVar(&f.Loss, "loss", "", "name of the loss value (default: found automatically)")
	fs.BoolVar(&f.AllowUnknownSizes, "allow-unknown-sizes", false, "plan even when values recomputation would touch have unknown sizes (unbound symbolic dimensions, ops without a shape rule), counting them 0 bytes; the report warns")
	fs.StringVar(&f.BaseOrder, "base-order", rewrite.BaseBest, "node order to plan from: file (as written), ort (ONNX Runtime's predicted order) or best (whichever replays to the lower peak)")
}

// rewriteFlags are the flags rewrite, convert and fit share: the planner
// flags, how to get a training graph, and how to rewrite it, bound to a
// recompute.RewriteOptions.
type rewriteFlags struct {
	opt      recompute.RewriteOptions
	fs       *pflag.FlagSet
	ortGuard bool
	// planFlags name the flags that shape the output (addRewriteFlags's
	// own), for the provenance recorded in it.
	planFlags []string
}

func addRewriteFlags(fs *pflag.FlagSet) *rewriteFlags {
	before := map[string]bool{}
	fs.VisitAll(func(fl *pflag.Flag) { before[fl.Name] = true })
	f := &rewriteFlags{fs: fs}
	addPlannerFlags(fs, &f.opt.Plan)
	addSourceFlags(fs, &f.opt)
	defer fs.VisitAll(func(fl *pflag.Flag) {
		if !before[fl.Name] {
			f.planFlags = append(f.planFlags, fl.Name)
		}
	})
	fs.StringVar(&f.opt.Target, "target", "ort", "runtime the model is for: ort (ONNX Runtime: ordering guards, tiny standard-op nodes, make ORT run the schedule when its own order would peak higher; they hold at every optimisation level) or generic (no runtime-specific nodes: the schedule is the file order)")
	fs.StringVar(&f.opt.BudgetModel, "budget-model", "", "what --budget limits: ort (the peak under a model of ONNX Runtime's allocation planner, which keeps dead buffers for later tensors of their size; a percentage is of the original's peak in that model; default with --target ort) or liveness (the graph's live tensors, the paper's semantics; default with --target generic). With ort the planner plans again at lower liveness budgets until the rewrite meets the budget")
	fs.BoolVar(&f.ortGuard, "ort-guard", true, "with --target ort: add the ordering guards (false: as --target generic)")
	fs.StringVar(&f.opt.HideShapes, "hide-shapes", "auto", "with --target ort: give each data input a guard whose shape ORT cannot infer, so that its allocation planner keeps no dead buffer for a later tensor of its size and memory follows liveness: auto (when no fusion ORT makes could need the shapes), on or off")
	return f
}

// addSourceFlags registers the flags that say how to get a training graph
// (built-in sizes, --grad and its loss), bound to o.
func addSourceFlags(fs *pflag.FlagSet, o *recompute.RewriteOptions) {
	fs.IntVar(&o.Size, "size", 0, sizeUsage)
	fs.IntVar(&o.Seq, "seq", 0, seqUsage)
	addLLMFlags(fs, &o.LLM)
	fs.BoolVar(&o.Grad, "grad", false, "build the backward graph (autodiff) of a forward-only model first")
	fs.StringVar(&o.GradLoss, "grad-loss", "cross-entropy", "loss that --grad appends: "+strings.Join(autodiff.Losses, ", "))
	fs.StringArrayVar(&o.Trainable, "trainable", nil, "with --grad: train only the parameters whose name matches this `REGEX` (repeatable; as for grad)")
	fs.StringArrayVar(&o.Freeze, "freeze", nil, "with --grad: freeze the parameters whose name matches this `REGEX` (repeatable)")
}

// sourceOptions finishes o after parsing: --grad-loss left at its default
// lets autodiff fall back to the sum loss.
func sourceOptions(fs *pflag.FlagSet, o *recompute.RewriteOptions) *recompute.RewriteOptions {
	if !fs.Changed("grad-loss") {
		o.GradLoss = ""
	}
	return o
}

// options returns the parsed flags as options, with the provenance the
// output records: the planning flags' values, sorted by name, with the
// tool's version (two runs with equal strings plan alike).
func (f *rewriteFlags) options() *recompute.RewriteOptions {
	o := sourceOptions(f.fs, &f.opt)
	o.NoORTGuard = !f.ortGuard
	parts := []string{"version=" + version}
	for _, n := range slices.Sorted(slices.Values(f.planFlags)) {
		if fl := f.fs.Lookup(n); fl != nil {
			parts = append(parts, "--"+n+"="+fl.Value.String())
		}
	}
	o.Provenance = strings.Join(parts, " ")
	return o
}
