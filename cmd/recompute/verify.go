package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort"
	"github.com/onnx-recompute/recompute/ort/ortalloc"
	"github.com/onnx-recompute/recompute/ort/ortorder"
	"github.com/onnx-recompute/recompute/planner"
)

// init serves ort.Measure: verify measures each model in a fresh copy of
// this program, which must run the request and exit before main starts.
func init() { ort.ServeChild() }

const verifySynopsis = "ORIG REWRITTEN [--runtime auto|native|training] [--ort-lib PATH] [--inputs random|FILE] [--seed N] [--runs N] [--time-rounds N] [--dim NAME=N]... [--batch N] [--session default|controlled] [--optimize LEVEL] [--disable-optimizer NAME]... [--arena on|off] [--mem-pattern on|off] [--threads N] [--json]"

// verifyReport is what verify prints (text or --json).
type verifyReport struct {
	Original     string         `json:"original"`
	Runtime      string         `json:"runtime"` // native or training (ort/trainort)
	Rewritten    string         `json:"rewritten"`
	ORTVersion   string         `json:"ort_version"`
	Session      string         `json:"session"`
	Inputs       string         `json:"inputs"`
	Outputs      []outputResult `json:"outputs"`
	Identical    int            `json:"identical_outputs"`
	Orig         runResult      `json:"original_run"`
	Rewr         runResult      `json:"rewritten_run"`
	PeakRatio    float64        `json:"peak_ratio"` // rewritten / original, measured
	TimeRatio    float64        `json:"time_ratio"`
	Clones       ort.CloneOrder `json:"clones"`
	SimOrigBytes int64          `json:"simulated_original_peak_bytes,omitempty"` // from the rewritten model's metadata_props
	SimRewrBytes int64          `json:"simulated_rewritten_peak_bytes,omitempty"`
	// The time ratio the rewrite predicted: 1 + recomputed cost over the
	// training step's (metadata_props, recompute.predicted_time_overhead).
	PredictedTimeRatio float64 `json:"predicted_time_ratio,omitempty"`
	// The transient peak DESIGN.md's memory semantics give ORT's executed
	// order (from the profile): tells an order problem from a runtime one.
	OrderOrigBytes int64  `json:"ort_order_original_peak_bytes,omitempty"`
	OrderRewrBytes int64  `json:"ort_order_rewritten_peak_bytes,omitempty"`
	OrderNote      string `json:"ort_order_note,omitempty"`
	// The same order under a model of ORT's allocation planner
	// (ort/ortalloc): a dead buffer is kept for a later tensor of its size.
	AllocOrigBytes int64 `json:"ort_alloc_original_peak_bytes,omitempty"`
	AllocRewrBytes int64 `json:"ort_alloc_rewritten_peak_bytes,omitempty"`
	// Of the rewritten model's modelled peak: bytes of dead buffers held
	// for a later reuse.
	AllocRewrHeldBytes int64 `json:"ort_alloc_rewritten_held_bytes,omitempty"`
	// What ORT held beyond the rewritten model's live tensors in ORT's
	// order (measured minus simulated), and of it what no model here
	// covers (beyond the buffer-reuse model: kernel workspace, allocator,
	// arena).
	BeyondBytes     int64 `json:"beyond_model_bytes,omitempty"`
	UnmodelledBytes int64 `json:"beyond_model_unmodelled_bytes,omitempty"`
	// Positions where ORT's predicted order of REWRITTEN (ortorder) differs
	// from its file order; 0 means ORT runs the schedule as written.
	OrderMismatches int    `json:"ort_order_mismatches"`
	Method          string `json:"memory_method"`
	// How the times were taken (ort.TimePair: both models in one process,
	// run by run), and each round's ratio; TimeRatio is their median.
	TimeMethod      string    `json:"time_method,omitempty"`
	TimeRoundRatios []float64 `json:"time_round_ratios,omitempty"`
	// Training runtime: gradients exposed from accumulators, random ops
	// given a fixed seed (both models).
	Exposed int `json:"exposed_gradients,omitempty"`
	Seeded  int `json:"seeded_random_ops,omitempty"`
	// Why outputs differ, when they do under graph optimisations: the same
	// comparison with optimisations off, and the fused ops ORT made in each.
	Cause string `json:"difference_cause,omitempty"`
}

type outputResult struct {
	Name      string  `json:"name"`
	Identical bool    `json:"identical"`
	Problem   string  `json:"problem,omitempty"`
	Differing int64   `json:"differing_elements,omitempty"`
	Elements  int64   `json:"elements"`
	MaxAbs    float64 `json:"max_abs_diff,omitempty"`
	MaxRel    float64 `json:"max_rel_diff,omitempty"`
}

type runResult struct {
	PeakBytes     int64     `json:"peak_bytes"`
	Seconds       float64   `json:"seconds"`
	RunPeakBytes  []int64   `json:"run_peak_bytes"`
	RunSeconds    []float64 `json:"run_seconds"`
	Deterministic bool      `json:"deterministic"`
	Nodes         int       `json:"nodes_run"`
	// With the CPU arena on: the first run alone (it grows the arena;
	// PeakBytes covers it and the later runs).
	FirstRunPeakBytes int64   `json:"first_run_peak_bytes,omitempty"`
	FirstRunSeconds   float64 `json:"first_run_seconds,omitempty"`
	// Training runtime: bytes fed, which it copies into its own memory
	// for the run; PeakBytes is the growth less these (resident).
	FedBytes int64 `json:"fed_bytes,omitempty"`
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", verifySynopsis, stderr)
	libFlag := fs.String("ort-lib", "", "ONNX Runtime shared library (default: $"+ort.EnvLibrary+", else .ort/libonnxruntime.so.1 from scripts/fetch-ort.sh)")
	inputs := fs.String("inputs", "random", "random, or a TensorProto .pb file / ONNX test-data directory (input_*.pb)")
	seed := fs.Int64("seed", 1, "seed of the random inputs")
	runs := fs.Int("runs", 3, "measured runs per model after one warm-up run (the peak is their median)")
	timeRounds := fs.Int("time-rounds", -1, "rounds of the side-by-side timing, both models in one process (the time ratio is the rounds' median; default: --runs; 0: time from the peak runs, one process per model)")
	dims := fs.StringArray("dim", nil, "size of a symbolic input dimension for random inputs: NAME=N (repeatable)")
	batch := fs.Int64("batch", 0, "size of a symbolic leading input dimension for random inputs")
	session := fs.String("session", "default", "default: ONNX Runtime's default session options, as every binding creates them (all graph optimisations, CPU arena and memory pattern on, default threads); controlled: one thread, optimisations off, arena and memory pattern off (memory follows liveness)")
	optimize := fs.String("optimize", "", "graph optimisation level, overriding --session's: disabled (or off), basic, extended, all, or no-cse (all but CommonSubexpressionElimination)")
	disableOpt := fs.StringArray("disable-optimizer", nil, "name of an ORT graph transformer to skip, e.g. ReshapeFusion (repeatable)")
	arena := fs.String("arena", "", "CPU arena and memory pattern, overriding --session's: on or off")
	memPattern := fs.String("mem-pattern", "", "ORT's memory pattern, overriding --session's: on or off")
	threads := fs.Int("threads", -1, "intra- and inter-op threads, overriding --session's (0: ORT's default)")
	runtime := fs.String("runtime", "auto", "native: the ONNX Runtime library (inference kernels); training: ORT's training build for WebAssembly under Node.js (scripts/fetch-ort-training.sh), which runs ORT training artifacts (com.microsoft gradient ops); auto: training when ORIG holds such ops")
	timeout := fs.Duration("timeout", 20*time.Minute, "with the training runtime: kill a run that takes longer")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("verify takes ORIG and REWRITTEN, got %d arguments (usage: recompute verify %s)", fs.NArg(), verifySynopsis)
	}
	if *runs < 1 {
		return usagef("--runs %d: want at least 1", *runs)
	}
	if *timeRounds < -1 {
		return usagef("--time-rounds %d: want 0 (no side-by-side timing) or more", *timeRounds)
	}
	so, err := sessionOptions(*session, *optimize, *arena, *memPattern, *threads, *disableOpt)
	if err != nil {
		return err
	}
	sessionDesc := so.String() + "; node order from a separate profiled run"
	so.Profile = true
	iopt, err := inferOptions(*dims, *batch)
	if err != nil {
		return err
	}
	origPath, rewrPath := fs.Arg(0), fs.Arg(1)
	orig, err := onnx.Load(origPath)
	if err != nil {
		return err
	}
	rewr, err := onnx.Load(rewrPath)
	if err != nil {
		return err
	}
	switch *runtime {
	case "auto", "native", "training":
	default:
		return usagef("--runtime %q: want auto, native or training", *runtime)
	}
	training := *runtime == "training" || *runtime == "auto" && needsTrainingKernels(orig)
	lib := ""
	if !training {
		if lib, err = ort.LibraryPath(*libFlag); err != nil {
			return err
		}
	}
	var in []ort.Tensor
	inputsDesc := fmt.Sprintf("random, seed %d", *seed)
	if *inputs == "random" {
		in, err = ort.RandomInputs(orig, ort.InputOptions{Seed: *seed, Dims: iopt.Dims, Batch: iopt.Batch})
		if err != nil {
			return fmt.Errorf("%s: %w", origPath, err)
		}
	} else {
		inputsDesc = *inputs
		if in, err = ort.ReadInputs(*inputs, orig); err != nil {
			return err
		}
	}
	common, missing := commonOutputs(orig.Proto.GetGraph(), rewr.Proto.GetGraph())

	rep := verifyReport{Original: origPath, Rewritten: rewrPath, Session: sessionDesc, Inputs: inputsDesc, Runtime: "native"}
	if training {
		if err := verifyTraining(&rep, orig, rewr, in, so, iopt, *runs, *timeout); err != nil {
			return err
		}
		return rep.finish(stdout, *asJSON)
	}
	mo := ort.MeasureOptions{Session: so, LibPath: lib, Runs: *runs}
	prog := newProgress(stderr)
	prog.step("verify: the original in ONNX Runtime (warm-up and %d runs, in a process of its own)", *runs)
	oOut, oSt, err := ort.Measure(origPath, in, common, mo)
	if err != nil {
		prog.end()
		return fmt.Errorf("original: %w", trainingHint(err))
	}
	prog.step("verify: the rewritten model in ONNX Runtime (warm-up and %d runs)", *runs)
	rOut, rSt, err := ort.Measure(rewrPath, in, common, mo)
	prog.end()
	if err != nil {
		return fmt.Errorf("rewritten: %w", trainingHint(err))
	}
	if err := ort.Init(lib); err == nil {
		rep.ORTVersion = ort.Version()
	}
	rep.compare(common, missing, oOut, rOut)
	rep.setRuns(runOf(oSt), runOf(rSt), rSt.Method, rewr)
	if *timeRounds < 0 {
		*timeRounds = *runs
	}
	if *timeRounds > 0 {
		prog.step("verify: both models side by side in one process, for time (%d warm-up runs each, %d rounds)", ort.SettleRuns, *timeRounds)
		pt, err := ort.TimePair(origPath, rewrPath, in, common, so, *timeRounds)
		prog.end()
		rep.setTimes(pt, err)
	} else {
		rep.TimeMethod = "time: medians of the peak measurement's runs, one process per model (--time-rounds 0)"
	}
	var errO, errR error
	var allocO, allocR ortalloc.Result
	rep.OrderOrigBytes, allocO, errO = orderPeak(orig, oSt.NodeOrder, iopt)
	rep.OrderRewrBytes, allocR, errR = orderPeak(rewr, rSt.NodeOrder, iopt)
	rep.AllocOrigBytes, rep.AllocRewrBytes, rep.AllocRewrHeldBytes = allocO.PeakBytes, allocR.PeakBytes, allocR.HeldBytes
	switch {
	case errO != nil && errR != nil && errO.Error() == errR.Error():
		rep.OrderNote = errO.Error()
	case errO != nil || errR != nil:
		rep.OrderNote = fmt.Sprintf("original: %v; rewritten: %v", errO, errR)
	}
	// Does ORT run REWRITTEN's file order (the schedule)? See docs/ORT.md.
	rep.OrderMismatches = orderMismatches(rewr)
	var forward []bool
	if s, err := ops.SplitTraining(rewr, nil, ""); err == nil {
		forward = s.Forward
	}
	rep.Clones = ort.AnalyzeClones(rewr.Proto.GetGraph(), rSt.NodeOrder, forward)

	if rep.Identical < len(rep.Outputs) && !so.DisableAllOptimizations {
		rep.Cause = differenceCause(origPath, rewrPath, orig, rewr, in, common, so)
	}
	return rep.finish(stdout, *asJSON)
}

// commonOutputs splits orig's outputs into those rewr also has and the
// rest, in orig's order.
func commonOutputs(orig, rewr *onnxpb.GraphProto) (common, missing []string) {
	has := map[string]bool{}
	for _, o := range rewr.GetOutput() {
		has[o.GetName()] = true
	}
	for _, o := range orig.GetOutput() {
		if has[o.GetName()] {
			common = append(common, o.GetName())
		} else {
			missing = append(missing, o.GetName())
		}
	}
	return common, missing
}

// compare fills the per-output results: names[i] is oOut[i] and rOut[i].
func (rep *verifyReport) compare(names, missing []string, oOut, rOut []ort.Tensor) {
	for _, n := range missing {
		rep.Outputs = append(rep.Outputs, outputResult{Name: n, Problem: "not an output of REWRITTEN"})
	}
	for i := range names {
		d := ort.Compare(&oOut[i], &rOut[i])
		r := outputResult{Name: names[i], Identical: d.Identical, Problem: d.Reason, Differing: d.Differing,
			Elements: oOut[i].NumElements(), MaxAbs: d.MaxAbs, MaxRel: d.MaxRel}
		if d.Identical {
			rep.Identical++
		}
		rep.Outputs = append(rep.Outputs, r)
	}
}

// setRuns records both runs, their ratios, how memory was measured, and
// the simulated peaks rewrite recorded in rewr's metadata.
func (rep *verifyReport) setRuns(orig, rewr runResult, method string, rewritten *onnx.Model) {
	rep.Orig, rep.Rewr, rep.Method = orig, rewr, method
	if rep.Orig.PeakBytes > 0 {
		rep.PeakRatio = float64(rep.Rewr.PeakBytes) / float64(rep.Orig.PeakBytes)
	}
	if rep.Orig.Seconds > 0 {
		rep.TimeRatio = rep.Rewr.Seconds / rep.Orig.Seconds
	}
	for _, kv := range rewritten.Proto.GetMetadataProps() {
		v, _ := strconv.ParseInt(kv.GetValue(), 10, 64)
		switch kv.GetKey() {
		case "recompute.original_peak_bytes":
			rep.SimOrigBytes = v
		case "recompute.simulated_peak_bytes":
			rep.SimRewrBytes = v
		case "recompute.predicted_time_overhead":
			if f, err := strconv.ParseFloat(kv.GetValue(), 64); err == nil {
				rep.PredictedTimeRatio = 1 + f
			}
		}
	}
}

// setTimes replaces the times of the two memory measurements, taken
// minutes apart in processes set up to count pages, by those of ort.TimePair;
// when that failed (two sessions at once may not fit), the report keeps
// the separate times and says why.
func (rep *verifyReport) setTimes(pt *ort.PairTiming, err error) {
	if err != nil {
		rep.TimeMethod = "time: medians of the memory measurement's runs, one process per model (side by side failed: " + err.Error() + ")"
		return
	}
	rep.Orig.RunSeconds, rep.Rewr.RunSeconds = pt.A, pt.B
	rep.Orig.Seconds, rep.Rewr.Seconds = ort.Median(pt.A), ort.Median(pt.B)
	rep.TimeRatio, rep.TimeRoundRatios, rep.TimeMethod = pt.Ratio, pt.Ratios, pt.Method
	rep.Method = timeClause.ReplaceAllString(rep.Method, "")
}

// timeClause is the part of ort.Measure's method that says how it timed.
var timeClause = regexp.MustCompile(`; time: [^;]*`)

// beyondModel sets what ORT held beyond the rewritten model's simulated
// live tensors, and the part the buffer-reuse model does not explain.
func (rep *verifyReport) beyondModel() {
	if rep.OrderRewrBytes <= 0 || rep.Rewr.PeakBytes <= rep.OrderRewrBytes {
		return
	}
	rep.BeyondBytes = rep.Rewr.PeakBytes - rep.OrderRewrBytes
	reuse := max(rep.AllocRewrBytes-rep.OrderRewrBytes, 0)
	rep.UnmodelledBytes = max(rep.BeyondBytes-reuse, 0)
}

// finish prints the report (text or JSON) and fails if an output differs.
func (rep *verifyReport) finish(stdout io.Writer, asJSON bool) error {
	rep.beyondModel()
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.writeText(stdout)
	}
	if bad := len(rep.Outputs) - rep.Identical; bad > 0 {
		for _, o := range rep.Outputs {
			if !o.Identical {
				return fmt.Errorf("%d of %d outputs differ (first: %s: %s)", bad, len(rep.Outputs), o.Name, o.describe())
			}
		}
	}
	return nil
}

// sessionOptions turns verify's session flags into ORT options: a base
// (--session) and the settings that override it.
func sessionOptions(session, optimize, arena, memPattern string, threads int, disable []string) (ort.Options, error) {
	var so ort.Options // ONNX Runtime's defaults
	switch session {
	case "default":
	case "controlled":
		so = ort.DefaultCheckOptions()
	default:
		return so, usagef("--session %q: want default or controlled", session)
	}
	switch optimize {
	case "":
	case "off", "disabled":
		so.DisableAllOptimizations = true
	case "basic", "extended", "all", "no-cse":
		so.DisableAllOptimizations, so.DisableCSE = false, optimize == "no-cse"
		so.Level = map[string]ort.OptLevel{"basic": ort.LevelBasic, "extended": ort.LevelExtended}[optimize]
	default:
		return so, usagef("--optimize %q: want disabled, basic, extended, all or no-cse", optimize)
	}
	switch arena {
	case "":
	case "on", "off":
		so.ArenaOff = arena == "off"
	default:
		return so, usagef("--arena %q: want on or off", arena)
	}
	switch memPattern {
	case "":
	case "on", "off":
		so.MemPatternOff = memPattern == "off"
	default:
		return so, usagef("--mem-pattern %q: want on or off", memPattern)
	}
	if threads >= 0 {
		so.Threads = threads
	}
	so.DisableOptimizers = append(so.DisableOptimizers, disable...)
	return so, nil
}

// differenceCause explains outputs that differ under ORT's graph
// optimisations: it runs both models again in this process with
// optimisations off (threads and arena as given) and, if they agree there,
// names the ops ORT's transformers made (op types in the optimised graph
// that the model itself does not have) whose counts differ between the two:
// ORT fused the two graphs differently, so their arithmetic differs.
func differenceCause(origPath, rewrPath string, orig, rewr *onnx.Model, in []ort.Tensor, names []string, so ort.Options) string {
	off := so
	off.DisableAllOptimizations, off.Profile = true, false
	oOut, _, err1 := ort.Run(origPath, in, names, off)
	rOut, _, err2 := ort.Run(rewrPath, in, names, off)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("not found (runs with optimisations off failed: %v; %v)", err1, err2)
	}
	for i := range oOut {
		if !ort.Compare(&oOut[i], &rOut[i]).Identical {
			return "not graph optimisation: the outputs differ with optimisations off too"
		}
	}
	dir, err := os.MkdirTemp("", "recompute-verify-")
	if err != nil {
		return "graph optimisation (outputs are identical with optimisations off)"
	}
	defer os.RemoveAll(dir)
	defer onInterrupt(func() { os.RemoveAll(dir) })()
	fused := func(m *onnx.Model, path, name string) map[string]int {
		opt := so
		opt.Profile, opt.OptimizedModelPath = false, filepath.Join(dir, name)
		s, err := ort.NewSession(path, nil, nil, opt)
		if err != nil {
			return nil
		}
		s.Close()
		om, err := onnx.Load(opt.OptimizedModelPath)
		if err != nil {
			return nil
		}
		had := map[string]bool{}
		for _, n := range m.Proto.GetGraph().GetNode() {
			had[opKey(n)] = true
		}
		c := map[string]int{}
		for _, n := range om.Proto.GetGraph().GetNode() {
			if k := opKey(n); !had[k] {
				c[k]++
			}
		}
		return c
	}
	fo, fr := fused(orig, origPath, "orig.onnx"), fused(rewr, rewrPath, "rewr.onnx")
	var keys []string
	for k := range fo {
		keys = append(keys, k)
	}
	for k := range fr {
		if _, ok := fo[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diff []string
	for _, k := range keys {
		if fo[k] != fr[k] {
			diff = append(diff, fmt.Sprintf("%s %d vs %d", k, fo[k], fr[k]))
		}
	}
	msg := "graph optimisation: the outputs are identical with optimisations off, so ORT optimised the two graphs differently"
	if len(diff) > 0 {
		msg += "; ops ORT's transformers made (original vs rewritten): " + strings.Join(diff, ", ")
	}
	return msg
}

func opKey(n *onnxpb.NodeProto) string {
	if n.GetDomain() == "" || n.GetDomain() == "ai.onnx" {
		return n.GetOpType()
	}
	return n.GetDomain() + ":" + n.GetOpType()
}

func runOf(s *ort.Stats) runResult {
	return runResult{PeakBytes: s.PeakRSSGrowthBytes, Seconds: s.Seconds, RunPeakBytes: s.RunPeakBytes,
		RunSeconds: s.RunSeconds, Deterministic: s.Deterministic, Nodes: len(s.NodeOrder),
		FirstRunPeakBytes: s.FirstRunPeakBytes, FirstRunSeconds: s.FirstRunSeconds}
}

func (o outputResult) describe() string {
	switch {
	case o.Identical:
		return "bit-identical"
	case o.Problem != "":
		return o.Problem
	}
	return fmt.Sprintf("%d of %d elements differ, max abs diff %.3g, max rel diff %.3g", o.Differing, o.Elements, o.MaxAbs, o.MaxRel)
}

func (r *verifyReport) writeText(w io.Writer) {
	ver := r.ORTVersion
	if ver == "" {
		ver = "?"
	}
	fmt.Fprintf(w, "verify %s vs %s on ONNX Runtime %s\n", r.Original, r.Rewritten, ver)
	fmt.Fprintf(w, "session: %s; inputs: %s\n", r.Session, r.Inputs)
	fmt.Fprintf(w, "outputs: %d of %d bit-identical\n", r.Identical, len(r.Outputs))
	for _, o := range r.Outputs {
		if !o.Identical {
			fmt.Fprintf(w, "  DIFFERS %s: %s\n", o.Name, o.describe())
		}
	}
	if r.Cause != "" {
		fmt.Fprintf(w, "cause: %s\n", r.Cause)
	}
	fmt.Fprintf(w, "%-32s %14s %14s %8s\n", "", "original", "rewritten", "ratio")
	measured := "measured peak (RSS growth)"
	if r.Runtime == "training" {
		measured = "measured peak (growth - feeds)"
	}
	fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", measured, planner.HumanBytes(r.Orig.PeakBytes), planner.HumanBytes(r.Rewr.PeakBytes), r.PeakRatio)
	if r.Orig.FedBytes > 0 {
		fmt.Fprintf(w, "%-32s %14s %14s\n", "  feeds (resident, not counted)", planner.HumanBytes(r.Orig.FedBytes), planner.HumanBytes(r.Rewr.FedBytes))
	}
	if r.Orig.FirstRunPeakBytes > 0 && r.Rewr.FirstRunPeakBytes > 0 {
		fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", "  of which the first run", planner.HumanBytes(r.Orig.FirstRunPeakBytes), planner.HumanBytes(r.Rewr.FirstRunPeakBytes),
			float64(r.Rewr.FirstRunPeakBytes)/float64(r.Orig.FirstRunPeakBytes))
	}
	if r.SimOrigBytes > 0 && r.SimRewrBytes > 0 {
		fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", "simulated transient peak", planner.HumanBytes(r.SimOrigBytes), planner.HumanBytes(r.SimRewrBytes),
			float64(r.SimRewrBytes)/float64(r.SimOrigBytes))
	}
	if r.OrderOrigBytes > 0 && r.OrderRewrBytes > 0 {
		order := "simulated, in ORT's order"
		if r.Runtime == "training" {
			order = "simulated, ORT's predicted order"
		}
		fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", order, planner.HumanBytes(r.OrderOrigBytes), planner.HumanBytes(r.OrderRewrBytes),
			float64(r.OrderRewrBytes)/float64(r.OrderOrigBytes))
	} else if r.OrderNote != "" {
		fmt.Fprintf(w, "simulated peak of ORT's order: n/a (%s)\n", r.OrderNote)
	}
	if r.AllocOrigBytes > 0 && r.AllocRewrBytes > 0 {
		fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", "  with ORT's buffer reuse", planner.HumanBytes(r.AllocOrigBytes), planner.HumanBytes(r.AllocRewrBytes),
			float64(r.AllocRewrBytes)/float64(r.AllocOrigBytes))
		if r.AllocRewrHeldBytes > 0 {
			fmt.Fprintf(w, "  (ORT's planner puts a tensor in a dead buffer of its size and keeps that buffer until then: %s of the rewritten peak hold no live tensor; ort/ortalloc)\n", planner.HumanBytes(r.AllocRewrHeldBytes))
		}
	}
	if r.BeyondBytes > 0 {
		fmt.Fprintf(w, "beyond the model: ORT held %s more than the rewritten model's live tensors in ORT's order; %s of it the buffer reuse modelled above, %s not modelled (kernel workspace, allocator, arena)\n",
			planner.HumanBytes(r.BeyondBytes), planner.HumanBytes(r.BeyondBytes-r.UnmodelledBytes), planner.HumanBytes(r.UnmodelledBytes))
	}
	label := fmt.Sprintf("time (median of %d runs)", len(r.Orig.RunSeconds))
	if len(r.TimeRoundRatios) > 0 {
		label = fmt.Sprintf("time (median of %d rounds)", len(r.TimeRoundRatios))
	}
	fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", label, seconds(r.Orig.Seconds), seconds(r.Rewr.Seconds), r.TimeRatio)
	if r.PredictedTimeRatio > 0 {
		fmt.Fprintf(w, "%-32s %14s %14s %8.3f\n", "  predicted by the rewrite", "", "", r.PredictedTimeRatio)
	}
	if r.Runtime != "training" {
		fmt.Fprintf(w, "%-32s %14d %14d\n", "nodes run", r.Orig.Nodes, r.Rewr.Nodes)
	}
	if !r.Orig.Deterministic || !r.Rewr.Deterministic {
		fmt.Fprintf(w, "warning: repeated runs gave different bytes (original deterministic: %v, rewritten: %v)\n", r.Orig.Deterministic, r.Rewr.Deterministic)
	}
	if r.OrderMismatches > 0 {
		fmt.Fprintf(w, "note: ORT is predicted to run %d nodes of %s out of file order; the simulated peak of ORT's order above is what runs (rewrite pins only what it can without breaking ORT's fusions; docs/ORT.md)\n", r.OrderMismatches, r.Rewritten)
	}
	if r.Runtime == "training" {
		fmt.Fprintf(w, "gradients compared: %d exposed from accumulators (their inputs made outputs of private copies); random ops seeded: %d; each model reproduced its own bytes run to run\n", r.Exposed, r.Seeded)
		fmt.Fprintf(w, "memory: %s\n", r.Method)
		return
	}
	c := r.Clones
	if c.Clones == 0 {
		fmt.Fprintf(w, "clones: none found in %s (outputs named <value>_rc<k>)\n", r.Rewritten)
	} else {
		fwd := "forward part unknown"
		if c.AfterForward >= 0 {
			fwd = fmt.Sprintf("%d after the last forward op", c.AfterForward)
		}
		fmt.Fprintf(w, "clones: %d in the model, %d ran; %d after every other reader of their original, %s; gap to first reader: median %s, max %d nodes\n",
			c.Clones, c.Ran, c.AfterReaders, fwd, trimFloat(c.MedianGap), c.MaxGap)
		if c.Folded > 0 {
			fmt.Fprintf(w, "  %d not run: they compute on constants only, and ORT folded them into initializers at load\n", c.Folded)
		}
		if c.Unseen > 0 {
			fmt.Fprintf(w, "  %d not run under their own name: fused into another kernel or removed by ORT's optimisers\n", c.Unseen)
		}
		if len(c.EarlyExamples) > 0 {
			fmt.Fprintf(w, "  ran too early (ORT's order; see docs/ORT.md for guards): %v\n", c.EarlyExamples)
		}
	}
	fmt.Fprintf(w, "memory: %s\n", r.Method)
	if r.TimeMethod != "" {
		fmt.Fprintln(w, r.TimeMethod)
	}
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// orderPeak replays ORT's executed node order (profile names) with the
// planner's liveness rules and returns the transient peak. Nodes ORT did not
// run as kernels (Constant, folded at load) come first. Outputs of the
// ordering guards (package rewrite's recompute/guard nodes) are aliases or
// shapes and count zero bytes.
func orderPeak(m *onnx.Model, executed []string, iopt ops.Options) (int64, ortalloc.Result, error) {
	// Shapes flow through guards only if inference folds them; sizes come
	// from the model without its guards (their outputs are aliases or
	// empty), with every node named as in the profile.
	names := ort.NodeNames(m.Proto.GetGraph())
	bare := stripGuards(m, names)
	r, err := ops.Infer(bare, iopt)
	if err != nil {
		return 0, ortalloc.Result{}, err
	}
	s, err := ops.SplitTraining(bare, nil, "")
	if err != nil {
		return 0, ortalloc.Result{}, err
	}
	g, err := planner.FromModel(bare, r, s, "uniform")
	if err != nil {
		return 0, ortalloc.Result{}, err
	}
	order := ortOrder(bare, executed)
	rp, err := planner.Replay(g, planner.Liveness(g, order))
	if err != nil {
		return 0, ortalloc.Result{}, err
	}
	// Values computed from inputs whose shapes the rewrite hid are sized
	// at run time: ORT plans no reuse for them.
	var unsized []bool
	if h := ortorder.ShapeHidden(m.Proto.GetGraph()); len(h) > 0 {
		unsized = make([]bool, len(g.Values))
		for v := range g.Values {
			unsized[v] = h[g.Values[v].Name]
		}
	}
	return rp.PeakBytes, ortalloc.SimulateUnsized(g, order, unsized), nil
}

// ortOrder maps ORT's executed node names to node indexes of m. Nodes
// missing from the profile (Constant, folded at load; function ops such as
// SoftmaxCrossEntropyLoss, which ORT expands into nodes of other names) are
// placed just before their first reader, or at the end. A node ORT ran
// before one of its producers (a fusion rewired it: two Transposes merged
// into one that reads the first one's input) takes that producer with it.
func ortOrder(m *onnx.Model, executed []string) []int {
	nodes := m.Proto.GetGraph().GetNode()
	names := ort.NodeNames(m.Proto.GetGraph())
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			producer[o] = i
		}
	}
	placed := make([]bool, len(names))
	var order []int
	var place func(i int)
	place = func(i int) {
		if placed[i] {
			return
		}
		placed[i] = true
		for _, in := range nodes[i].GetInput() {
			if j, ok := producer[in]; ok {
				place(j)
			}
		}
		order = append(order, i)
	}
	for _, n := range executed {
		if i, ok := idx[n]; ok {
			place(i)
		}
	}
	for i := range names {
		place(i)
	}
	return order
}

// stripGuards returns a shallow copy of m without ordering-guard nodes
// (names starting with ortorder.GuardPrefix): readers of a guard's Reshape
// read the guarded value itself. Every kept node gets its name from names.
func stripGuards(m *onnx.Model, names []string) *onnx.Model {
	g := m.Proto.GetGraph()
	alias := map[string]string{}
	for i, n := range g.GetNode() {
		if strings.HasPrefix(names[i], ortorder.GuardPrefix) && n.GetOpType() == "Reshape" && len(n.GetInput()) > 0 && len(n.GetOutput()) > 0 {
			alias[n.GetOutput()[0]] = n.GetInput()[0]
		}
	}
	resolve := func(v string) string {
		for k := 0; k < len(alias)+1; k++ {
			a, ok := alias[v]
			if !ok {
				break
			}
			v = a
		}
		return v
	}
	ng := proto.Clone(&onnxpb.GraphProto{Name: g.Name}).(*onnxpb.GraphProto)
	ng.Input, ng.Output, ng.Initializer, ng.ValueInfo, ng.SparseInitializer = g.Input, g.Output, g.Initializer, g.ValueInfo, g.SparseInitializer
	for i, n := range g.GetNode() {
		if strings.HasPrefix(names[i], ortorder.GuardPrefix) {
			continue
		}
		c := &onnxpb.NodeProto{OpType: n.OpType, Domain: n.Domain, Name: proto.String(names[i]), Output: n.Output,
			Attribute: n.Attribute, DocString: n.DocString}
		c.Input = make([]string, len(n.GetInput()))
		for k, v := range n.GetInput() {
			c.Input[k] = resolve(v)
		}
		ng.Node = append(ng.Node, c)
	}
	mp := &onnxpb.ModelProto{IrVersion: m.Proto.IrVersion, OpsetImport: m.Proto.OpsetImport, Functions: m.Proto.Functions, Graph: ng}
	return &onnx.Model{Proto: mp, Path: m.Path}
}

// orderMismatches counts the nodes ORT is predicted to run out of m's file
// order (guard, folded and alias nodes aside; ortorder.Mismatches).
func orderMismatches(m *onnx.Model) int { return ortorder.Mismatches(m.Proto.GetGraph()) }

// seconds formats a duration for the report (ms below one second).
func seconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.2fms", s*1000)
	}
	return fmt.Sprintf("%.3fs", s)
}

// trainingHint explains ORT's refusal of com.microsoft gradient ops.
func trainingHint(err error) error {
	if strings.Contains(err.Error(), "com.microsoft") && strings.Contains(err.Error(), "not a registered function/op") {
		return fmt.Errorf("%w (the ONNX Runtime of onnxruntime-node has no training kernels: verify graphs with standard ops, such as those 'recompute grad' writes)", err)
	}
	return err
}

// inferOptions turns --dim NAME=N and --batch N into ops.Options.
func inferOptions(dims []string, batch int64) (ops.Options, error) {
	opt := ops.Options{Dims: map[string]int64{}, Batch: batch}
	if batch < 0 {
		return opt, usagef("--batch %d: must be positive", batch)
	}
	for _, d := range dims {
		name, val, ok := strings.Cut(d, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || n <= 0 {
			return opt, usagef("--dim %q: want NAME=N with N a positive integer", d)
		}
		opt.Dims[strings.TrimSpace(name)] = n
	}
	return opt, nil
}
