package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/fit"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

const fitSynopsis = `MODEL --memory SIZE [--time-overhead P%] [--strategy approx|chen] [-o OUT] [--json] [--plot DIR]

MODEL is a built-in network (--size, --seq as for plan) or a training graph file whose
batch dimension is symbolic (grown through --batch semantics: the graph inputs' leading
dimension, or --dim NAME for a named one); a forward file takes --grad.
Reports the largest batch whose total peak (resident parameters and inputs, plus the
transient peak of activations and gradients) fits in SIZE without recomputation, with
the strategy's least-memory plan and, with --time-overhead, with its time-centric plan
within that overhead (FLOPs). -o writes the rewritten model at the batch recomputation
reaches (the --time-overhead one if given).`

func runFitBatch(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fit", fitSynopsis, stderr)
	memory := fs.String("memory", "", "the memory to fit in: 16GiB, 800MiB, 1.5GB (required)")
	overhead := fs.String("time-overhead", "", "also the largest batch whose time-centric plan recomputes at most `P%` of the forward cost")
	strategy := fs.String("strategy", "approx", "recomputing strategy: approx, chen or exact")
	dim := fs.String("dim", "", "file input: the symbolic dimension to grow (`NAME`; default: the graph inputs' leading dimension)")
	size := fs.Int("size", 0, sizeUsage)
	seq := fs.Int("seq", 0, seqUsage)
	llm := &models.LLM{}
	addLLMFlags(fs, llm)
	grad := fs.Bool("grad", false, "MODEL is a forward file: build its backward graph at each batch")
	loss := fs.String("loss", "", "name of the loss value (default: found automatically)")
	out := fs.StringP("output", "o", "", "write the rewritten model at the fitted batch to `OUT`")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	plotDir := fs.String("plot", "", "write the peak-vs-batch figure (SVG and PNG) into `DIR`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("fit takes one MODEL argument, got %d (see recompute fit --help)", fs.NArg())
	}
	if *memory == "" {
		return usagef("fit needs --memory SIZE")
	}
	mem, err := recompute.ParseSize(*memory)
	if err != nil || mem <= 0 {
		return usagef("--memory %q: want a size such as 16GiB or 800MiB", *memory)
	}
	var ovh float64
	if *overhead != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(*overhead), "%"), 64)
		if err != nil || v <= 0 {
			return usagef("--time-overhead %q: want a positive percentage such as 25%%", *overhead)
		}
		ovh = v / 100
	}
	switch *strategy {
	case "approx", "chen", "exact":
	default:
		return usagef("--strategy %q: want approx, chen or exact", *strategy)
	}
	src := fs.Arg(0)
	build, err := fitBuilder(src, models.Options{Size: *size, Seq: *seq, LLM: *llm}, *dim, *grad, *loss)
	if err != nil {
		return err
	}
	opt := fit.Options{MemoryBytes: mem, TimeOverhead: ovh, Strategy: *strategy}
	if *plotDir != "" {
		opt.CurvePoints = 8
	}
	prog := newProgress(stderr)
	if prog != nil {
		opt.Progress = func(s string) { prog.step("fit: %s", s) }
	}
	res, err := fit.Search(build, opt)
	prog.end()
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	var files []string
	if *plotDir != "" {
		p, err := fit.Plot(filepath.Base(src), res)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*plotDir, 0o755); err != nil {
			return err
		}
		for _, ext := range []string{"svg", "png"} {
			data, err := fit.Render(p, ext)
			if err != nil {
				return err
			}
			name := filepath.Join(*plotDir, strings.TrimSuffix(filepath.Base(src), ".onnx")+"-fit."+ext)
			if err := onnx.WriteFileAtomic(name, data); err != nil {
				return err
			}
			files = append(files, name)
		}
	}
	var rw *recompute.RewriteResult
	if *out != "" {
		chosen := res.Answers[len(res.Answers)-1]
		if chosen.Point == nil {
			return fmt.Errorf("%s: no batch fits with %s; nothing to write", src, chosen.Plan)
		}
		rargs := []string{"--batch", strconv.FormatInt(chosen.Point.Batch, 10), "--strategy", *strategy}
		if ovh > 0 {
			rargs = append(rargs, "--objective", "time", "--budget", strconv.FormatInt(mem-chosen.Point.ResidentBytes, 10), "--budget-model", "liveness")
		} else {
			rargs = append(rargs, "--objective", "memory")
		}
		for _, f := range []struct {
			name, v string
			set     bool
		}{{"size", strconv.Itoa(*size), *size > 0}, {"seq", strconv.Itoa(*seq), *seq > 0}, {"loss", *loss, *loss != ""}, {"grad", "true", *grad},
			{"preset", llm.Preset, llm.Preset != ""}, {"layers", strconv.Itoa(llm.Layers), llm.Layers > 0}, {"hidden", strconv.Itoa(llm.Hidden), llm.Hidden > 0},
			{"heads", strconv.Itoa(llm.Heads), llm.Heads > 0}, {"kv-heads", strconv.Itoa(llm.KVHeads), llm.KVHeads > 0}, {"ffn", strconv.Itoa(llm.FFN), llm.FFN > 0},
			{"vocab", strconv.Itoa(llm.Vocab), llm.Vocab > 0}} {
			if f.set {
				rargs = append(rargs, "--"+f.name+"="+f.v)
			}
		}
		if *dim != "" {
			rargs = append(rargs, "--dim", *dim+"="+strconv.FormatInt(chosen.Point.Batch, 10))
		}
		rfs := newFlagSet("fit", "", io.Discard)
		rf := addRewriteFlags(rfs)
		if err := parseFlags(rfs, rargs); err != nil {
			return err
		}
		if rw, err = recompute.Rewrite(src, *out, *rf.options()); err != nil {
			return err
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*fit.Result
			Runtime   string                   `json:"runtime"`
			Plots     []string                 `json:"plots,omitempty"`
			Rewritten *recompute.RewriteResult `json:"rewritten,omitempty"`
		}{res, fitRuntime, files, rw})
	}
	fitPrint(stdout, src, res)
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	if rw != nil {
		fmt.Fprintf(stdout, "wrote %s: %s at batch %s, simulated transient peak %s -> %s (%d clones)\n", rw.Out, rw.Strategy,
			strings.TrimPrefix(fmt.Sprint(res.Answers[len(res.Answers)-1].Point.Batch), ""), planner.HumanBytes(rw.BeforePeakBytes), planner.HumanBytes(rw.PeakBytes), rw.Clones)
	}
	return nil
}

// fitRuntime says under which ONNX Runtime session options the totals hold
// (TestFitVerifyUnderLimit measures it) and what the default arena adds.
const fitRuntime = "the totals hold in ONNX Runtime with its CPU arena off (session option enable_cpu_mem_arena = 0; optimisations and threads as default); " +
	"with the arena on, ORT's default, it keeps the blocks it grew and needs headroom beyond them (docs/ORT.md, \"Kernel workspace\")"

func fitPrint(w io.Writer, src string, r *fit.Result) {
	fmt.Fprintf(w, "fit %s in %s (resident parameters and inputs + transient peak; planner's model, file order)\n\n", src, planner.HumanBytes(r.MemoryBytes))
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
	fmt.Fprintf(w, "runtime: %s\n", fitRuntime)
}

// fitBuilder returns the planner graph of MODEL at any batch.
func fitBuilder(src string, mo models.Options, dim string, grad bool, loss string) (fit.Build, error) {
	if _, err := os.Stat(src); err != nil {
		if !slices.Contains(models.Names(), src) {
			return nil, fmt.Errorf("%s: no such file and not a built-in model (built-in: %s)", src, strings.Join(models.Names(), ", "))
		}
		if dim != "" || grad {
			return nil, usagef("--dim and --grad apply to files; %s is a built-in network", src)
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
		return nil, usagef("--size, --seq and the llama sizes apply to built-in networks; %s is a file", src)
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
