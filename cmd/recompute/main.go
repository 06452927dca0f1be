// Command recompute plans and applies recomputation (gradient checkpointing) to
// ONNX training graphs so that training fits in less memory. See README.md.
//
// Each subcommand lives in its own file (inspect.go, plan.go, …); the table
// below is the one place that lists them. The command layer is thin: it
// parses flags, calls the packages and prints.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/onnx-recompute/recompute"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands is the table of subcommands, in the order `recompute help` lists them.
var commands = []command{
	{"inspect", "describe a model: opsets, ops, parameters, loss, forward/backward split, peak", runInspect},
	{"plan", "plan recomputation for a training graph or a cg file and report it", runPlan},
	{"grad", "append a loss and a backward graph (standard ONNX ops) to a forward model", runGrad},
	{"rewrite", "apply a recomputation plan to a training graph and write the new model", runRewrite},
	{"convert", "rewrite every .onnx under a directory (batch), with a summary", runConvert},
	{"fit", "the largest batch that trains in a given memory, with and without recomputation", runFitBatch},
	{"verify", "run original and rewritten models in ONNX Runtime; compare outputs, memory, time", runVerify},
	{"bench", "benchmark strategies on the built-in networks and cg files; tables and plots", runBench},
}

// usageError marks errors caused by how the command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	if os.Getenv("GOGC") == "" {
		// The heap is mostly large pointer-free arrays (the planner's DP
		// transitions and schedules), cheap to mark, and a model's weights
		// are mapped, not on the heap: collecting at 40% growth instead of
		// 100% costs little time and keeps the peak RSS of a full-size
		// ResNet-152 rewrite at 1.4x the file instead of 2x.
		debug.SetGCPercent(40)
	}
	stop := startProfile(os.Getenv("RECOMPUTE_CPUPROFILE"))
	handleSignals(os.Stderr, func(code int) { stop(); os.Exit(code) })
	recompute.Version = version
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the run to path (the environment
// variable RECOMPUTE_CPUPROFILE, for developers); "" profiles nothing.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "recompute: RECOMPUTE_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// run executes one invocation and returns the exit status: 0 success,
// 1 failure, 2 usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		if len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		printHelp(stdout)
		return 0
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "recompute %s\n", version)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, pflag.ErrHelp):
			return 0
		}
		fmt.Fprintf(stderr, "recompute %s: %v\n", c.name, oneLine(err))
		var ue usageError
		var oe *recompute.OptionError
		if errors.As(err, &ue) || errors.As(err, &oe) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "recompute: unknown command %q; run 'recompute help'\n", args[0])
	return 2
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "recompute %s: plan and apply recomputation to ONNX training graphs\n\n", version)
	fmt.Fprintf(w, "Usage:\n  recompute <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s  %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'recompute <command> --help' for the flags of one command.\n")
}

// oneLine keeps user-facing errors on a single line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// textReport is a report of the library: its JSON form is its fields, its
// text form what WriteText writes.
type textReport interface{ WriteText(io.Writer) }

// printReport prints rep as indented JSON or as text.
func printReport(w io.Writer, asJSON bool, rep textReport) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(w)
	return nil
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints its usage with the command's synopsis.
func newFlagSet(name, synopsis string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: recompute %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a malformed flag is a usage error.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}
