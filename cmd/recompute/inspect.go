package main

import (
	"io"

	"github.com/onnx-recompute/recompute"
)

const inspectSynopsis = "MODEL [--json] [--dim NAME=N]... [--batch N] [--loss NAME]\n\nMODEL is an .onnx file or a built-in network name (its forward model, shapes only)."

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", inspectSynopsis, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var o recompute.InspectOptions
	fs.StringArrayVar(&o.Dims, "dim", nil, "bind a symbolic dimension: NAME=N (repeatable)")
	fs.Int64Var(&o.Batch, "batch", 0, "leading dimension of every graph input whose leading dimension is symbolic")
	fs.StringVar(&o.Loss, "loss", "", "name of the loss value of a training graph (default: found)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("inspect takes one MODEL argument, got %d (see recompute inspect --help)", fs.NArg())
	}
	rep, err := recompute.Inspect(fs.Arg(0), o)
	if err != nil {
		return err
	}
	return printReport(stdout, *asJSON, rep)
}
