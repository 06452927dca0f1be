package recompute

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/fit"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

// FitOptions say what Fit fits a model's batch into and what it writes.
// Each field is the fit command's flag of the same name and takes the same
// values.
type FitOptions struct {
	Memory       string // the memory to fit in, resident + transient: bytes with an optional unit (16GiB, 800MiB, 1.5GB); required
	TimeOverhead string // "": none; else a positive percentage (25%, or 25): also the largest batch whose time-centric plan recomputes at most that share of the forward cost
	Strategy     string // recomputing strategy: approx ("" too), chen or exact

	Dim       string     // a file: the symbolic dimension to grow ("": the graph inputs' leading dimension)
	Size, Seq int        // built-in networks: input size, sequence length (0: the network's default)
	LLM       models.LLM // built-in llama: preset and per-field sizes
	Grad      bool       // the file is a forward model: build its backward graph at each batch
	Loss      string     // the loss value's name ("": found)

	Output  string // "": nothing; else write the rewritten model at the batch recomputation reaches (the TimeOverhead one if given) to this file
	PlotDir string // "": no figure; else write the peak-vs-batch figure (SVG and PNG) into this directory

	// Progress, if set, receives a line on each step of the search and
	// of the rewrite.
	Progress func(msg string)
}

// FitReport is what Fit found: fit.Result (the largest batch for none, the
// strategy's least-memory plan and, with TimeOverhead, its time-centric
// plan), the runtime conditions under which the totals hold, the figures
// written and the rewrite made. Its JSON is what `recompute fit --json`
// prints.
type FitReport struct {
	*fit.Result
	Runtime   string         `json:"runtime"`             // under which ONNX Runtime session options the totals hold
	Plots     []string       `json:"plots,omitempty"`     // the figure files written (PlotDir)
	Rewritten *RewriteResult `json:"rewritten,omitempty"` // the rewrite written (Output)
	model     string
}

// fitRuntime says under which ONNX Runtime session options the totals hold
// (TestFitVerifyUnderLimit measures it) and what the default arena adds.
const fitRuntime = "the totals hold in ONNX Runtime with its CPU arena off (session option enable_cpu_mem_arena = 0; optimisations and threads as default); " +
	"with the arena on, ORT's default, it keeps the blocks it grew and needs headroom beyond them (docs/ORT.md, \"Kernel workspace\")"

// Fit finds the largest batch of model (a built-in network's name, or a
// training graph file whose batch dimension is symbolic; a forward file
// with Grad) whose total peak (resident parameters and inputs plus the
// transient peak of activations and gradients, in the planner's model)
// fits in o.Memory: without recomputation, with the strategy's
// least-memory plan and, with o.TimeOverhead, with its time-centric plan
// within that overhead (FLOPs). With o.Output it writes the rewritten
// model at the last of these batches. A malformed option is an
// *OptionError; memory below what batch 1 needs is a *fit.TooSmallError.
func Fit(model string, o FitOptions) (*FitReport, error) {
	opt, err := o.searchOptions()
	if err != nil {
		return nil, err
	}
	build, err := fitBuilder(model, models.Options{Size: o.Size, Seq: o.Seq, LLM: o.LLM}, o.Dim, o.Grad, o.Loss)
	if err != nil {
		return nil, err
	}
	if o.PlotDir != "" {
		opt.CurvePoints = 8
	}
	if o.Progress != nil {
		opt.Progress = func(s string) { o.Progress("fit: " + s) }
	}
	res, err := fit.Search(build, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", model, err)
	}
	rep := &FitReport{Result: res, Runtime: fitRuntime, model: model}
	if o.PlotDir != "" {
		if rep.Plots, err = fitPlots(model, res, o.PlotDir); err != nil {
			return nil, err
		}
	}
	if o.Output != "" {
		chosen := res.Answers[len(res.Answers)-1]
		if chosen.Point == nil {
			return nil, fmt.Errorf("%s: no batch fits with %s; nothing to write", model, chosen.Plan)
		}
		if rep.Rewritten, err = Rewrite(model, o.Output, o.rewriteOptions(chosen.Point, opt)); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// searchOptions checks the options and turns them into fit.Search's.
func (o *FitOptions) searchOptions() (fit.Options, error) {
	opt := fit.Options{Strategy: o.Strategy}
	if opt.Strategy == "" {
		opt.Strategy = "approx"
	}
	if o.Memory == "" {
		return opt, optionErrorf("fit needs --memory SIZE")
	}
	mem, err := ParseSize(o.Memory)
	if err != nil || mem <= 0 {
		return opt, optionErrorf("--memory %q: want a size such as 16GiB or 800MiB", o.Memory)
	}
	opt.MemoryBytes = mem
	if o.TimeOverhead != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(o.TimeOverhead), "%"), 64)
		if err != nil || v <= 0 {
			return opt, optionErrorf("--time-overhead %q: want a positive percentage such as 25%%", o.TimeOverhead)
		}
		opt.TimeOverhead = v / 100
	}
	switch opt.Strategy {
	case "approx", "chen", "exact":
	default:
		return opt, optionErrorf("--strategy %q: want approx, chen or exact", o.Strategy)
	}
	return opt, nil
}

// rewriteOptions are the options of the rewrite at the fitted point p: the
// least-memory plan, or with a time overhead the time-centric plan within
// the transient memory left beside the resident bytes (a liveness budget,
// the one fit searched with).
func (o *FitOptions) rewriteOptions(p *fit.Point, opt fit.Options) RewriteOptions {
	ro := RewriteOptions{Size: o.Size, Seq: o.Seq, LLM: o.LLM, Grad: o.Grad, Progress: o.Progress}
	ro.Plan = PlanOptions{Strategy: opt.Strategy, Objective: "memory", Batch: p.Batch, Loss: o.Loss}
	if opt.TimeOverhead > 0 {
		ro.Plan.Objective, ro.Plan.Budget, ro.BudgetModel = "time", strconv.FormatInt(opt.MemoryBytes-p.ResidentBytes, 10), "liveness"
	}
	if o.Dim != "" {
		ro.Plan.Dims = []string{o.Dim + "=" + strconv.FormatInt(p.Batch, 10)}
	}
	return ro
}

// fitPlots writes the peak-vs-batch figure of r, as SVG and PNG, into dir.
func fitPlots(model string, r *fit.Result, dir string) ([]string, error) {
	p, err := fit.Plot(filepath.Base(model), r)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, ext := range []string{"svg", "png"} {
		data, err := fit.Render(p, ext)
		if err != nil {
			return nil, err
		}
		name := filepath.Join(dir, strings.TrimSuffix(filepath.Base(model), ".onnx")+"-fit."+ext)
		if err := onnx.WriteFileAtomic(name, data); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	return files, nil
}

// WriteText writes the report as `recompute fit` prints it: a table of the
// largest batch per plan, how the search went, the runtime conditions, and
// the files written.
func (rep *FitReport) WriteText(w io.Writer) {
	r := rep.Result
	fmt.Fprintf(w, "fit %s in %s (resident parameters and inputs + transient peak; planner's model, file order)\n\n", rep.model, planner.HumanBytes(r.MemoryBytes))
	fmt.Fprintln(w, "| plan | largest batch | peak (resident + transient) | recompute overhead | planning s |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, a := range r.Answers {
		if a.Point == nil {
			fmt.Fprintf(w, "| %s | none fits | | | |\n", a.Plan)
			continue
		}
		p := a.Point
		fmt.Fprintf(w, "| %s | %d | %s (%s + %s) | +%.1f%% | %.2f |\n", a.Plan, p.Batch, planner.HumanBytes(p.TotalBytes),
			planner.HumanBytes(p.ResidentBytes), planner.HumanBytes(p.TransientBytes), 100*p.Overhead, p.Seconds)
	}
	if n, l := r.Answers[0].Point, r.Answers[1].Point; n != nil && l != nil {
		fmt.Fprintf(w, "\nrecomputation fits %.2f× the batch of none", float64(l.Batch)/float64(n.Batch))
	}
	how := "sizes scaled from batches 1-3"
	if !r.Affine {
		how = "graph built at every batch"
	}
	fmt.Fprintf(w, "\nsearched in %.1f s (%s)\n", r.Seconds, how)
	fmt.Fprintf(w, "runtime: %s\n", rep.Runtime)
	for _, f := range rep.Plots {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
	if rw := rep.Rewritten; rw != nil {
		fmt.Fprintf(w, "wrote %s: %s at batch %d, simulated transient peak %s -> %s (%d clones)\n", rw.Out, rw.Strategy,
			r.Answers[len(r.Answers)-1].Point.Batch, planner.HumanBytes(rw.BeforePeakBytes), planner.HumanBytes(rw.PeakBytes), rw.Clones)
	}
}

// fitBuilder returns the planner graph of model at any batch.
func fitBuilder(src string, mo models.Options, dim string, grad bool, loss string) (fit.Build, error) {
	if _, err := os.Stat(src); err != nil {
		if !slices.Contains(models.Names(), src) {
			return nil, fmt.Errorf("%s: no such file and not a built-in model (built-in: %s)", src, strings.Join(models.Names(), ", "))
		}
		if dim != "" || grad {
			return nil, optionErrorf("--dim and --grad apply to files; %s is a built-in network", src)
		}
		return func(b int64) (*planner.Graph, error) {
			o := mo
			o.Batch, o.NoWeights = int(b), true
			fm, err := models.Build(src, o)
			if err != nil {
				return nil, err
			}
			tm, err := autodiff.Build(fm, autodiff.Options{})
			if err != nil {
				return nil, err
			}
			return fitGraph(tm, ops.Options{}, loss)
		}, nil
	}
	if mo.Size != 0 || mo.Seq != 0 || mo.LLM != (models.LLM{}) {
		return nil, optionErrorf("--size, --seq and the llama sizes apply to built-in networks; %s is a file", src)
	}
	m, err := onnx.Load(src)
	if err != nil {
		return nil, err
	}
	return func(b int64) (*planner.Graph, error) {
		io := ops.Options{Batch: b}
		if dim != "" {
			io = ops.Options{Dims: map[string]int64{dim: b}}
		}
		tm := m
		if grad {
			var err error
			if tm, err = autodiff.Build(m, autodiff.Options{Batch: io.Batch, Dims: io.Dims}); err != nil {
				return nil, err
			}
		}
		return fitGraph(tm, io, loss)
	}, nil
}

// fitGraph is the planner graph of training graph m; values of unknown
// size are an error (the batch would not grow them).
func fitGraph(m *onnx.Model, io ops.Options, loss string) (*planner.Graph, error) {
	r, err := ops.Infer(m, io)
	if err != nil {
		return nil, err
	}
	s, err := ops.SplitTraining(m, nil, loss)
	if err != nil {
		return nil, err
	}
	g, err := planner.FromModel(m, r, s, "flops")
	if err != nil {
		return nil, err
	}
	if len(g.Unsized) > 0 {
		return nil, fmt.Errorf("%d values that recomputation would touch have unknown sizes (%s): name the dimension to grow with --dim NAME", len(g.Unsized), strings.Join(g.Unsized[:min(3, len(g.Unsized))], ", "))
	}
	return g, nil
}
