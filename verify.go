package recompute

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
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

// VerifyOptions say how Verify runs the two models. Each field is the
// verify command's flag of the same name (Dims is --dim, DisableOptimizers
// --disable-optimizer, ORTLib --ort-lib) and takes the same values. The
// zero value means the flag's default except for Seed, Runs, TimeRounds
// and Threads, where zero has a meaning of its own: the command passes
// Seed 1, Runs 3, TimeRounds -1 and Threads -1.
//
// Native measurements run each model in a fresh copy of the calling
// program (ort.Measure): a program that calls Verify must call
// ort.ServeChild first thing in main or in an init function.
type VerifyOptions struct {
	// ORTLib is the ONNX Runtime shared library ("": $ONNXRUNTIME_LIB,
	// else .ort/libonnxruntime.so.1 from scripts/fetch-ort.sh).
	ORTLib string
	// Inputs is random ("" too: random inputs from Seed) or a TensorProto
	// .pb file or an ONNX test-data directory (input_*.pb).
	Inputs string
	Seed   int64 // seed of the random inputs (the command's default: 1)
	// Runs is the number of measured runs per model after one warm-up run,
	// at least 1 (the command's default: 3); the peak is their median.
	Runs int
	// TimeRounds is the number of rounds of the side-by-side timing, both
	// models in one process (the time ratio is their median): -1 (the
	// command's default) for Runs, 0 to time from the peak runs instead,
	// one process per model.
	TimeRounds int
	Dims       []string // symbolic input dimensions for random inputs, NAME=N
	Batch      int64    // symbolic leading input dimension for random inputs (0: none)
	// Session is the base of the session options: default ("" too: ONNX
	// Runtime's own defaults) or controlled (one thread, optimisations,
	// arena and memory pattern off). The next fields override it.
	Session           string
	Optimize          string   // graph optimisation level: disabled (or off), basic, extended, all or no-cse ("": Session's)
	DisableOptimizers []string // names of ORT graph transformers to skip, e.g. ReshapeFusion
	Arena             string   // CPU arena and memory pattern: on or off ("": Session's)
	MemPattern        string   // ORT's memory pattern: on or off ("": Session's)
	// Threads is the number of intra- and inter-op threads: negative (the
	// command's default, -1) for Session's, 0 for ORT's default.
	Threads int
	// Runtime is native (the ONNX Runtime library), training (ORT's
	// training build for WebAssembly under Node.js, which runs com.microsoft
	// gradient ops) or auto ("" too: training when the original holds
	// such ops).
	Runtime string
	// Timeout kills a run of the training runtime that takes longer
	// (0: 20 minutes).
	Timeout time.Duration
	// Progress, if set, receives a line on each step of the measurement.
	Progress func(msg string)
}

// step reports progress, if anyone listens.
func (o *VerifyOptions) step(format string, a ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, a...))
	}
}

// DefaultVerifyTimeout is the training runtime's time limit per run when
// VerifyOptions.Timeout is 0.
const DefaultVerifyTimeout = 20 * time.Minute

// VerifyReport is what Verify measured: whether the two models' outputs
// are bit-identical, their measured peaks and times, and the simulated
// peaks that explain them. Its JSON form is what verify --json prints;
// WriteText writes what verify prints.
type VerifyReport struct {
	Original     string         `json:"original"`
	Runtime      string         `json:"runtime"` // native or training (ort/trainort)
	Rewritten    string         `json:"rewritten"`
	ORTVersion   string         `json:"ort_version"`
	Session      string         `json:"session"`
	Inputs       string         `json:"inputs"`
	Outputs      []VerifyOutput `json:"outputs"`
	Identical    int            `json:"identical_outputs"`
	Orig         VerifyRun      `json:"original_run"`
	Rewr         VerifyRun      `json:"rewritten_run"`
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

// VerifyOutput compares one output of the original model with the
// rewritten model's output of the same name.
type VerifyOutput struct {
	Name      string  `json:"name"`
	Identical bool    `json:"identical"`
	Problem   string  `json:"problem,omitempty"`
	Differing int64   `json:"differing_elements,omitempty"`
	Elements  int64   `json:"elements"`
	MaxAbs    float64 `json:"max_abs_diff,omitempty"`
	MaxRel    float64 `json:"max_rel_diff,omitempty"`
}

// VerifyRun is what one model's measured runs gave: the peak memory
// growth and time (medians over the runs) and each run's.
type VerifyRun struct {
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

// Verify runs the model in file original and its rewrite in file
// rewritten on the same inputs in ONNX Runtime, each in a process of its
// own, and reports whether every output of the original is bit-identical
// in the rewrite, the measured peak memory and time of both, and the
// peaks the planner's memory model gives ORT's executed order. Malformed
// options are an *OptionError. If outputs differ, Verify returns the
// full report together with an error that names the first differing
// output; any other error comes with a nil report.
func Verify(original, rewritten string, o VerifyOptions) (*VerifyReport, error) {
	if o.Runs < 1 {
		return nil, optionErrorf("--runs %d: want at least 1", o.Runs)
	}
	if o.TimeRounds < -1 {
		return nil, optionErrorf("--time-rounds %d: want 0 (no side-by-side timing) or more", o.TimeRounds)
	}
	so, err := sessionOptions(o.Session, o.Optimize, o.Arena, o.MemPattern, o.Threads, o.DisableOptimizers)
	if err != nil {
		return nil, err
	}
	sessionDesc := so.String() + "; node order from a separate profiled run"
	so.Profile = true
	iopt, err := inferOptions(o.Dims, o.Batch)
	if err != nil {
		return nil, err
	}
	switch o.Runtime {
	case "", "auto", "native", "training":
	default:
		return nil, optionErrorf("--runtime %q: want auto, native or training", o.Runtime)
	}
	orig, err := onnx.Load(original)
	if err != nil {
		return nil, err
	}
	rewr, err := onnx.Load(rewritten)
	if err != nil {
		return nil, err
	}
	training := o.Runtime == "training" || (o.Runtime == "" || o.Runtime == "auto") && needsTrainingKernels(orig)
	lib := ""
	if !training {
		if lib, err = ort.LibraryPath(o.ORTLib); err != nil {
			return nil, err
		}
	}
	var in []ort.Tensor
	inputsDesc := fmt.Sprintf("random, seed %d", o.Seed)
	if o.Inputs == "" || o.Inputs == "random" {
		in, err = ort.RandomInputs(orig, ort.InputOptions{Seed: o.Seed, Dims: iopt.Dims, Batch: iopt.Batch})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", original, err)
		}
	} else {
		inputsDesc = o.Inputs
		if in, err = ort.ReadInputs(o.Inputs, orig); err != nil {
			return nil, err
		}
	}

	rep := &VerifyReport{Original: original, Rewritten: rewritten, Session: sessionDesc, Inputs: inputsDesc, Runtime: "native"}
	if training {
		timeout := o.Timeout
		if timeout == 0 {
			timeout = DefaultVerifyTimeout
		}
		if err := verifyTraining(rep, orig, rewr, in, so, iopt, o.Runs, timeout); err != nil {
			return nil, err
		}
		return rep.finish()
	}
	if err := rep.verifyNative(orig, rewr, in, so, iopt, lib, o); err != nil {
		return nil, err
	}
	return rep.finish()
}

// verifyNative measures both models in the ONNX Runtime library lib.
func (rep *VerifyReport) verifyNative(orig, rewr *onnx.Model, in []ort.Tensor, so ort.Options, iopt ops.Options, lib string, o VerifyOptions) error {
	origPath, rewrPath := rep.Original, rep.Rewritten
	common, missing := commonOutputs(orig.Proto.GetGraph(), rewr.Proto.GetGraph())
	rounds := o.TimeRounds
	if rounds < 0 {
		rounds = o.Runs
	}
	// With the side-by-side timing, the peak measurement takes no runs for
	// time alone.
	mo := ort.MeasureOptions{Session: so, LibPath: lib, Runs: o.Runs, NoTiming: rounds > 0}
	o.step("verify: the original in ONNX Runtime (warm-up and %d runs, in a process of its own)", o.Runs)
	oOut, oSt, err := ort.Measure(origPath, in, common, mo)
	if err != nil {
		return fmt.Errorf("original: %w", trainingHint(err))
	}
	o.step("verify: the rewritten model in ONNX Runtime (warm-up and %d runs)", o.Runs)
	rOut, rSt, err := ort.Measure(rewrPath, in, common, mo)
	if err != nil {
		return fmt.Errorf("rewritten: %w", trainingHint(err))
	}
	if err := ort.Init(lib); err == nil {
		rep.ORTVersion = ort.Version()
	}
	rep.compare(common, missing, oOut, rOut)
	rep.setRuns(runOf(oSt), runOf(rSt), rSt.Method, rewr)
	if rounds > 0 {
		o.step("verify: both models side by side in one process, for time (%d warm-up runs each, %d rounds)", ort.SettleRuns, rounds)
		pt, err := ort.TimePair(origPath, rewrPath, in, common, so, rounds)
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
	return nil
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
func (rep *VerifyReport) compare(names, missing []string, oOut, rOut []ort.Tensor) {
	for _, n := range missing {
		rep.Outputs = append(rep.Outputs, VerifyOutput{Name: n, Problem: "not an output of REWRITTEN"})
	}
	for i := range names {
		d := ort.Compare(&oOut[i], &rOut[i])
		r := VerifyOutput{Name: names[i], Identical: d.Identical, Problem: d.Reason, Differing: d.Differing,
			Elements: oOut[i].NumElements(), MaxAbs: d.MaxAbs, MaxRel: d.MaxRel}
		if d.Identical {
			rep.Identical++
		}
		rep.Outputs = append(rep.Outputs, r)
	}
}

// setRuns records both runs, their ratios, how memory was measured, and
// the simulated peaks rewrite recorded in rewr's metadata.
func (rep *VerifyReport) setRuns(orig, rewr VerifyRun, method string, rewritten *onnx.Model) {
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
func (rep *VerifyReport) setTimes(pt *ort.PairTiming, err error) {
	if err != nil {
		rep.TimeMethod = "time: medians of the peak measurement's runs, one process per model (side by side failed: " + err.Error() + ")"
		return
	}
	rep.Orig.RunSeconds, rep.Rewr.RunSeconds = pt.A, pt.B
	rep.Orig.Seconds, rep.Rewr.Seconds = ort.Median(pt.A), ort.Median(pt.B)
	rep.TimeRatio, rep.TimeRoundRatios, rep.TimeMethod = pt.Ratio, pt.Ratios, pt.Method
}

// beyondModel sets what ORT held beyond the rewritten model's simulated
// live tensors, and the part the buffer-reuse model does not explain.
func (rep *VerifyReport) beyondModel() {
	if rep.OrderRewrBytes <= 0 || rep.Rewr.PeakBytes <= rep.OrderRewrBytes {
		return
	}
	rep.BeyondBytes = rep.Rewr.PeakBytes - rep.OrderRewrBytes
	reuse := max(rep.AllocRewrBytes-rep.OrderRewrBytes, 0)
	rep.UnmodelledBytes = max(rep.BeyondBytes-reuse, 0)
}

// finish completes the report; if an output differs, it returns the
// report with an error that names the first.
func (rep *VerifyReport) finish() (*VerifyReport, error) {
	rep.beyondModel()
	if bad := len(rep.Outputs) - rep.Identical; bad > 0 {
		for _, o := range rep.Outputs {
			if !o.Identical {
				return rep, fmt.Errorf("%d of %d outputs differ (first: %s: %s)", bad, len(rep.Outputs), o.Name, o.describe())
			}
		}
	}
	return rep, nil
}

// sessionOptions turns verify's session flags into ORT options: a base
// (--session) and the settings that override it.
func sessionOptions(session, optimize, arena, memPattern string, threads int, disable []string) (ort.Options, error) {
	var so ort.Options // ONNX Runtime's defaults
	switch session {
	case "", "default":
	case "controlled":
		so = ort.DefaultCheckOptions()
	default:
		return so, optionErrorf("--session %q: want default or controlled", session)
	}
	switch optimize {
	case "":
	case "off", "disabled":
		so.DisableAllOptimizations = true
	case "basic", "extended", "all", "no-cse":
		so.DisableAllOptimizations, so.DisableCSE = false, optimize == "no-cse"
		so.Level = map[string]ort.OptLevel{"basic": ort.LevelBasic, "extended": ort.LevelExtended}[optimize]
	default:
		return so, optionErrorf("--optimize %q: want disabled, basic, extended, all or no-cse", optimize)
	}
	switch arena {
	case "":
	case "on", "off":
		so.ArenaOff = arena == "off"
	default:
		return so, optionErrorf("--arena %q: want on or off", arena)
	}
	switch memPattern {
	case "":
	case "on", "off":
		so.MemPatternOff = memPattern == "off"
	default:
		return so, optionErrorf("--mem-pattern %q: want on or off", memPattern)
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
	defer ort.TrackScratch(dir)()
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

func runOf(s *ort.Stats) VerifyRun {
	return VerifyRun{PeakBytes: s.PeakRSSGrowthBytes, Seconds: s.Seconds, RunPeakBytes: s.RunPeakBytes,
		RunSeconds: s.RunSeconds, Deterministic: s.Deterministic, Nodes: len(s.NodeOrder),
		FirstRunPeakBytes: s.FirstRunPeakBytes, FirstRunSeconds: s.FirstRunSeconds}
}

func (o VerifyOutput) describe() string {
	switch {
	case o.Identical:
		return "bit-identical"
	case o.Problem != "":
		return o.Problem
	}
	return fmt.Sprintf("%d of %d elements differ, max abs diff %.3g, max rel diff %.3g", o.Differing, o.Elements, o.MaxAbs, o.MaxRel)
}

// WriteText writes the report as verify prints it: the outputs compared,
// a table of the measured and simulated peaks and the times, and notes on
// the clones and how memory and time were measured.
func (r *VerifyReport) WriteText(w io.Writer) {
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
