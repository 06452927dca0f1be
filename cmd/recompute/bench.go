package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/onnx-recompute/recompute/bench"
	"github.com/onnx-recompute/recompute/models"
)

const benchSynopsis = "[--models LIST] [--cg FILE ...] [--out DIR] [--budgets LIST] [--strategies LIST] [--quick] [--measure]"

// runBench benchmarks the strategies and writes DIR/RESULTS.md,
// DIR/results.json and one trade-off and one timeline plot per network.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stderr)
	defBatch, defSize, defSeq := bench.DescribeDefaultSizes()
	opt := bench.Options{Progress: stderr, Command: "recompute bench " + strings.Join(args, " ")}
	mo := bench.MeasureOptions{Progress: stderr, Version: version}
	modelList := fs.String("models", "all", "built-in networks, comma-separated (all: "+strings.Join(models.Names(), ",")+"; none: only --cg)")
	fs.StringArrayVar(&opt.CGFiles, "cg", nil, "paper cg file to benchmark (repeatable)")
	out := fs.String("out", "bench-out", "directory for RESULTS.md, results.json and the plots")
	budgets := fs.String("budgets", "", "budget sweep as fractions of the none peak: a list (0.3,0.5,1) or a range FROM:TO:STEP (default "+bench.FormatBudgets(bench.DefaultBudgets())+"; --quick "+bench.FormatBudgets(bench.QuickBudgets())+")")
	fs.Float64Var(&opt.TCBudget, "tc-budget", 0.5, "budget of the TC rows of the main table, as a fraction of the none peak")
	strategies := fs.String("strategies", "none,chen,approx,exact", "strategies to run, comma-separated")
	fs.IntVar(&opt.MaxLowerSets, "max-lower-sets", 0, "run the exact DP only on graphs with at most this many lower sets (0: the planner's default)")
	fs.IntVar(&opt.Batch, "batch", 0, "batch size for every built-in network (0: the paper's: "+defBatch+")")
	fs.IntVar(&opt.Size, "size", 0, "input height and width for every image network (0: the paper's: "+defSize+")")
	fs.IntVar(&opt.Seq, "seq", 0, "sequence length for gpt2 and llama (0: "+defSeq+")")
	fs.Float64Var(&opt.SweepSeconds, "sweep-seconds", 60, "planning time allowed per sweep curve; budgets beyond it are marked \"not run\"")
	fs.BoolVar(&opt.Quick, "quick", false, "fewer budgets in the sweep")
	measure := fs.Bool("measure", false, "also measure original and rewritten graphs in ONNX Runtime (resnet50, unet, gpt2 at small sizes, see --measure-nets)")
	measureNets := fs.String("measure-nets", "", "networks and sizes for --measure: NAME:BATCHxSIZE, or NAME:BATCHxSEQ for gpt2 and llama, comma-separated (default "+bench.FormatMeasureNets(bench.MeasureNets)+")")
	fs.StringVar(&mo.ORTLib, "ort-lib", "", "path of libonnxruntime.so for --measure (default $ONNXRUNTIME_LIB or scripts/fetch-ort.sh's location)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments (got %q); use --models and --cg", fs.Args())
	}
	var err error
	if opt.Models, err = bench.ParseModels(*modelList); err != nil {
		return usagef("%v", err)
	}
	if len(opt.Models) == 0 && len(opt.CGFiles) == 0 {
		return usagef("nothing to benchmark: --models none and no --cg file")
	}
	if opt.Strategies, err = bench.ParseStrategies(*strategies); err != nil {
		return usagef("%v", err)
	}
	if opt.SweepSeconds <= 0 {
		return usagef("--sweep-seconds %g: want a positive number", opt.SweepSeconds)
	}
	if opt.TCBudget <= 0 || opt.TCBudget > 1 {
		return usagef("--tc-budget %g: want a fraction in (0, 1]", opt.TCBudget)
	}
	switch {
	case *budgets != "":
		if opt.Budgets, err = bench.ParseBudgets(*budgets); err != nil {
			return usagef("--budgets: %v", err)
		}
	case opt.Quick:
		opt.Budgets = bench.QuickBudgets()
	default:
		opt.Budgets = bench.DefaultBudgets()
	}
	if *measureNets != "" {
		if mo.Nets, err = bench.ParseMeasureNets(*measureNets); err != nil {
			return usagef("--measure-nets: %v", err)
		}
	}
	res, err := bench.Run(opt)
	if err != nil {
		return err
	}
	if *measure {
		bench.Measure(res, mo)
	}
	if err := bench.Write(*out, res); err != nil {
		return err
	}
	bench.WriteHeadline(stdout, res)
	fmt.Fprintf(stdout, "\nwrote %s and %s (%.0f s)\n", filepath.Join(*out, "RESULTS.md"), filepath.Join(*out, "results.json"), res.TotalSeconds)
	return nil
}
