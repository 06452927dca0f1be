package main

import (
	"io"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/ort"
)

// init serves ort.Measure: verify measures each model in a fresh copy of
// this program, which must run the request and exit before main starts.
func init() { ort.ServeChild() }

const verifySynopsis = "ORIG REWRITTEN [--runtime auto|native|training] [--ort-lib PATH] [--inputs random|FILE] [--seed N] [--runs N] [--time-rounds N] [--dim NAME=N]... [--batch N] [--session default|controlled] [--optimize LEVEL] [--disable-optimizer NAME]... [--arena on|off] [--mem-pattern on|off] [--threads N] [--json]"

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", verifySynopsis, stderr)
	var o recompute.VerifyOptions
	fs.StringVar(&o.ORTLib, "ort-lib", "", "ONNX Runtime shared library (default: $"+ort.EnvLibrary+", else .ort/libonnxruntime.so.1 from scripts/fetch-ort.sh)")
	fs.StringVar(&o.Inputs, "inputs", "random", "random, or a TensorProto .pb file / ONNX test-data directory (input_*.pb)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the random inputs")
	fs.IntVar(&o.Runs, "runs", 3, "measured runs per model after one warm-up run (the peak is their median)")
	fs.IntVar(&o.TimeRounds, "time-rounds", -1, "rounds of the side-by-side timing, both models in one process (the time ratio is the rounds' median; default: --runs; 0: time from the peak runs, one process per model)")
	fs.StringArrayVar(&o.Dims, "dim", nil, "size of a symbolic input dimension for random inputs: NAME=N (repeatable)")
	fs.Int64Var(&o.Batch, "batch", 0, "size of a symbolic leading input dimension for random inputs")
	fs.StringVar(&o.Session, "session", "default", "default: ONNX Runtime's default session options, as every binding creates them (all graph optimisations, CPU arena and memory pattern on, default threads); controlled: one thread, optimisations off, arena and memory pattern off (memory follows liveness)")
	fs.StringVar(&o.Optimize, "optimize", "", "graph optimisation level, overriding --session's: disabled (or off), basic, extended, all, or no-cse (all but CommonSubexpressionElimination)")
	fs.StringArrayVar(&o.DisableOptimizers, "disable-optimizer", nil, "name of an ORT graph transformer to skip, e.g. ReshapeFusion (repeatable)")
	fs.StringVar(&o.Arena, "arena", "", "CPU arena and memory pattern, overriding --session's: on or off")
	fs.StringVar(&o.MemPattern, "mem-pattern", "", "ORT's memory pattern, overriding --session's: on or off")
	fs.IntVar(&o.Threads, "threads", -1, "intra- and inter-op threads, overriding --session's (0: ORT's default)")
	fs.StringVar(&o.Runtime, "runtime", "auto", "native: the ONNX Runtime library (inference kernels); training: ORT's training build for WebAssembly under Node.js (scripts/fetch-ort-training.sh), which runs ORT training artifacts (com.microsoft gradient ops); auto: training when ORIG holds such ops")
	fs.DurationVar(&o.Timeout, "timeout", recompute.DefaultVerifyTimeout, "with the training runtime: kill a run that takes longer")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("verify takes ORIG and REWRITTEN, got %d arguments (usage: recompute verify %s)", fs.NArg(), verifySynopsis)
	}
	prog := newProgress(stderr)
	o.Progress = prog.line()
	rep, err := recompute.Verify(fs.Arg(0), fs.Arg(1), o)
	prog.end()
	if rep == nil {
		return err
	}
	// Outputs that differ fail the command after the report is printed.
	if perr := printReport(stdout, *asJSON, rep); perr != nil {
		return perr
	}
	return err
}
