package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/bench"
	"github.com/onnx-recompute/recompute/models"
)

const benchSynopsis = "[--models LIST] [--cg FILE ...] [--out DIR] [--budgets LIST] [--strategies LIST] [--quick] [--measure]"

// runBench benchmarks the strategies and writes DIR/RESULTS.md,
// DIR/results.json and one trade-off and one timeline plot per network.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stderr)
	modelList := fs.String("models", "all", "built-in networks, comma-separated (all: "+strings.Join(models.Names(), ",")+"; none: only --cg)")
	cgFiles := fs.StringArray("cg", nil, "paper cg file to benchmark (repeatable)")
	out := fs.String("out", "bench-out", "directory for RESULTS.md, results.json and the plots")
	budgets := fs.String("budgets", "", "budget sweep as fractions of the none peak: a list (0.3,0.5,1) or a range FROM:TO:STEP (default "+fmtFracs(bench.DefaultBudgets())+"; --quick "+fmtFracs(bench.QuickBudgets())+")")
	tcBudget := fs.Float64("tc-budget", 0.5, "budget of the TC rows of the main table, as a fraction of the none peak")
	strategies := fs.String("strategies", "none,chen,approx,exact", "strategies to run, comma-separated")
	maxLower := fs.Int("max-lower-sets", 0, "run the exact DP only on graphs with at most this many lower sets (0: the planner's default)")
	batch := fs.Int("batch", 0, "batch size for every built-in network (0: the paper's: "+describeDefaults(benchDefault(0))+")")
	size := fs.Int("size", 0, "input height and width for every image network (0: the paper's: "+describeDefaults(benchDefault(1))+")")
	seq := fs.Int("seq", 0, "sequence length for gpt2 and llama (0: "+describeDefaults(benchDefault(2))+")")
	sweepSecs := fs.Float64("sweep-seconds", 60, "planning time allowed per sweep curve; budgets beyond it are marked \"not run\"")
	quick := fs.Bool("quick", false, "fewer budgets in the sweep")
	measure := fs.Bool("measure", false, "also measure original and rewritten graphs in ONNX Runtime (resnet50, unet, gpt2 at small sizes, see --measure-nets)")
	measureNets := fs.String("measure-nets", "", "networks and sizes for --measure: NAME:BATCHxSIZE, or NAME:BATCHxSEQ for gpt2 and llama, comma-separated (default "+formatMeasureNets(bench.MeasureNets)+")")
	ortLib := fs.String("ort-lib", "", "path of libonnxruntime.so for --measure (default $ONNXRUNTIME_LIB or scripts/fetch-ort.sh's location)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("bench takes no arguments (got %q); use --models and --cg", fs.Args())
	}
	opt := bench.Options{
		CGFiles: *cgFiles, TCBudget: *tcBudget, MaxLowerSets: *maxLower,
		Batch: *batch, Size: *size, Seq: *seq, Quick: *quick, Progress: stderr, SweepSeconds: *sweepSecs,
		Command: "recompute bench " + strings.Join(args, " "),
	}
	switch *modelList {
	case "all", "":
		opt.Models = models.Names()
	case "none":
		opt.Models = []string{}
	default:
		known := map[string]bool{}
		for _, n := range models.Names() {
			known[n] = true
		}
		for _, n := range splitList(*modelList) {
			if !known[n] {
				return usagef("unknown model %q (known: %s)", n, strings.Join(models.Names(), ", "))
			}
			opt.Models = append(opt.Models, n)
		}
	}
	if len(opt.Models) == 0 && len(opt.CGFiles) == 0 {
		return usagef("nothing to benchmark: --models none and no --cg file")
	}
	for _, s := range splitList(*strategies) {
		switch s {
		case "none", "chen", "approx", "exact":
			opt.Strategies = append(opt.Strategies, s)
		default:
			return usagef("unknown strategy %q (want none, chen, approx, exact)", s)
		}
	}
	if *sweepSecs <= 0 {
		return usagef("--sweep-seconds %g: want a positive number", *sweepSecs)
	}
	if *tcBudget <= 0 || *tcBudget > 1 {
		return usagef("--tc-budget %g: want a fraction in (0, 1]", *tcBudget)
	}
	var err error
	switch {
	case *budgets != "":
		if opt.Budgets, err = parseBudgets(*budgets); err != nil {
			return usagef("--budgets: %v", err)
		}
	case *quick:
		opt.Budgets = bench.QuickBudgets()
	default:
		opt.Budgets = bench.DefaultBudgets()
	}
	var nets []bench.MeasureNet
	if *measureNets != "" {
		if nets, err = parseMeasureNets(*measureNets); err != nil {
			return usagef("--measure-nets: %v", err)
		}
	}
	res, err := bench.Run(opt)
	if err != nil {
		return err
	}
	if *measure {
		bench.Measure(res, bench.MeasureOptions{ORTLib: *ortLib, Progress: stderr, Version: version, Nets: nets})
	}
	if err := bench.Write(*out, res); err != nil {
		return err
	}
	bench.WriteHeadline(stdout, res)
	fmt.Fprintf(stdout, "\nwrote %s and %s (%.0f s)\n", filepath.Join(*out, "RESULTS.md"), filepath.Join(*out, "results.json"), res.TotalSeconds)
	return nil
}

// parseMeasureNets reads "resnet50:2x64,gpt2:1x64" (gpt2's second number is
// the sequence length, the others' the image size).
func parseMeasureNets(s string) ([]bench.MeasureNet, error) {
	known := map[string]bool{}
	for _, n := range models.Names() {
		known[n] = true
	}
	var out []bench.MeasureNet
	for _, f := range splitList(s) {
		name, dims, ok := strings.Cut(f, ":")
		b, x, ok2 := strings.Cut(dims, "x")
		batch, err1 := strconv.Atoi(b)
		size, err2 := strconv.Atoi(x)
		if !ok || !ok2 || err1 != nil || err2 != nil || batch < 1 || size < 1 {
			return nil, fmt.Errorf("%q: want NAME:BATCHxSIZE, e.g. resnet50:2x64", f)
		}
		if !known[name] {
			return nil, fmt.Errorf("unknown model %q", name)
		}
		nw := bench.MeasureNet{Name: name, Batch: batch, Size: size}
		if models.DefaultSize(name) == 0 { // gpt2, llama: a sequence length
			nw.Size, nw.Seq = 0, size
		}
		out = append(out, nw)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no networks in %q", s)
	}
	return out, nil
}

// benchDefault returns bench's default batch (field 0), size (1) or
// sequence length (2) of a network, for describeDefaults.
func benchDefault(field int) func(string) int {
	return func(name string) int {
		b, s, q := bench.DefaultSizes(name)
		return [3]int{b, s, q}[field]
	}
}

// formatMeasureNets writes nets as --measure-nets takes them.
func formatMeasureNets(nets []bench.MeasureNet) string {
	parts := make([]string, len(nets))
	for i, nw := range nets {
		size := nw.Size
		if size == 0 {
			size = nw.Seq
		}
		parts[i] = fmt.Sprintf("%s:%dx%d", nw.Name, nw.Batch, size)
	}
	return strings.Join(parts, ",")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseBudgets reads "0.3,0.5,1", "30%,50%" or "FROM:TO:STEP".
func parseBudgets(s string) ([]float64, error) {
	frac := func(f string) (float64, error) {
		pct := strings.HasSuffix(f, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(f, "%"), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", f)
		}
		if pct {
			v /= 100
		}
		if v <= 0 || v > 1 {
			return 0, fmt.Errorf("%q: want a fraction of the none peak in (0, 1]", f)
		}
		return v, nil
	}
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		var v [3]float64
		for i, p := range parts {
			f, err := frac(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			v[i] = f
		}
		if v[0] > v[1] {
			return nil, fmt.Errorf("range %q runs backwards", s)
		}
		var out []float64
		for k := 0; ; k++ {
			f := v[0] + float64(k)*v[2]
			if f > v[1]+1e-9 {
				break
			}
			out = append(out, float64(int(f*1e6+0.5))/1e6)
		}
		return out, nil
	}
	var out []float64
	for _, f := range splitList(s) {
		v, err := frac(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no budgets in %q", s)
	}
	return out, nil
}

// fmtFracs writes budgets as --budgets takes them: 0.2,0.3,1.
func fmtFracs(b []float64) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}
