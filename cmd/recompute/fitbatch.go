package main

import (
	"io"

	"github.com/onnx-recompute/recompute"
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
	var o recompute.FitOptions
	fs.StringVar(&o.Memory, "memory", "", "the memory to fit in: 16GiB, 800MiB, 1.5GB (required)")
	fs.StringVar(&o.TimeOverhead, "time-overhead", "", "also the largest batch whose time-centric plan recomputes at most `P%` of the forward cost")
	fs.StringVar(&o.Strategy, "strategy", "approx", "recomputing strategy: approx, chen or exact")
	fs.StringVar(&o.Dim, "dim", "", "file input: the symbolic dimension to grow (`NAME`; default: the graph inputs' leading dimension)")
	fs.IntVar(&o.Size, "size", 0, sizeUsage)
	fs.IntVar(&o.Seq, "seq", 0, seqUsage)
	addLLMFlags(fs, &o.LLM)
	fs.BoolVar(&o.Grad, "grad", false, "MODEL is a forward file: build its backward graph at each batch")
	fs.StringVar(&o.Loss, "loss", "", "name of the loss value (default: found automatically)")
	fs.StringVarP(&o.Output, "output", "o", "", "write the rewritten model at the fitted batch to `OUT`")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	fs.StringVar(&o.PlotDir, "plot", "", "write the peak-vs-batch figure (SVG and PNG) into `DIR`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("fit takes one MODEL argument, got %d (see recompute fit --help)", fs.NArg())
	}
	prog := newProgress(stderr)
	o.Progress = prog.line()
	rep, err := recompute.Fit(fs.Arg(0), o)
	prog.end()
	if err != nil {
		return err
	}
	return printReport(stdout, *jsonOut, rep)
}
