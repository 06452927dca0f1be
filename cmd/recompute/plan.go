package main

import (
	"fmt"
	"io"

	"github.com/onnx-recompute/recompute"
)

const planSynopsis = `MODEL | --cg FILE [flags]

MODEL is a training graph (.onnx), a forward model with --grad, or a built-in
network name (built shapes-only; --batch, --size, --seq).`

// runPlan is `recompute plan`: build the planner graph, plan, replay,
// report; for cg input optionally write the schedule (PAPER.md §9 format).
func runPlan(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", planSynopsis, stderr)
	var o recompute.PlanRequest
	addPlannerFlags(fs, &o.Plan)
	// A built-in name or a forward model with --grad is planned like rewrite
	// would plan it; built-ins are built shapes-only, as planning needs no weights.
	addSourceFlags(fs, &o.RewriteOptions)
	cg := fs.String("cg", "", "plan a graph in the paper's cg text format instead of an ONNX model")
	fs.StringVar(&o.EmitSchedule, "emit-schedule", "", "cg input: write the schedule in the paper's text format to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.IntVar(&o.Top, "top", 8, "list the N largest values live at the planned peak (0: none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	source := *cg
	switch {
	case *cg != "" && fs.NArg() > 0:
		return usagef("give either MODEL or --cg FILE, not both")
	case *cg != "":
		o.CG = true
	case fs.NArg() == 1:
		source = fs.Arg(0)
	default:
		return usagef("want one MODEL.onnx or --cg FILE (see 'recompute plan --help')")
	}
	prog := newProgress(stderr)
	o.Progress = prog.line()
	sourceOptions(fs, &o.RewriteOptions)
	rep, err := recompute.Plan(source, o)
	prog.end()
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return printReport(stdout, *asJSON, rep)
}
