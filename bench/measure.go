package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/ort"
	"github.com/onnx-recompute/recompute/planner"
	"github.com/onnx-recompute/recompute/rewrite"
)

// MeasureOptions configure the ONNX Runtime rows.
type MeasureOptions struct {
	ORTLib   string    // libonnxruntime path; "" = ort.LibraryPath's search
	Progress io.Writer // progress lines; nil discards
	Runs     int       // measured runs per model after a warm-up (0: 1)
	Version  string    // tool version recorded in the rewritten models
	// Nets overrides the measured networks and sizes (nil: MeasureNets).
	Nets []MeasureNet
	// Sessions are the session options each model runs under (nil:
	// MeasureSessions, ORT's defaults and the controlled setting).
	Sessions []MeasureSession
}

// MeasureSession is one set of ONNX Runtime session options, named for the
// table.
type MeasureSession struct {
	Name    string // "defaults", "controlled"
	Options ort.Options
}

// MeasureSessions are ORT's default session options, which every binding
// creates and users train with (all graph optimisations, CPU arena and
// memory pattern on, default threads), and the controlled setting (one
// thread, optimisations, arena and memory pattern off), whose peak follows
// the graph's liveness and so tests the memory model.
var MeasureSessions = []MeasureSession{
	{Name: "defaults", Options: ort.Options{}},
	{Name: "controlled", Options: ort.DefaultCheckOptions()},
}

// MeasureNet is one network at the size it is measured at.
type MeasureNet struct {
	Name             string
	Batch, Size, Seq int
}

// MeasureNets are sizes at which this 2-core machine runs a training step of
// each network in ONNX Runtime in seconds (one thread, graph optimisations
// off, arena off), far below the paper's sizes but large enough that
// activations, not parameter gradients, make most of the transient peak
// (at resnet50 2×64×64 the parameter gradients alone are most of it and the
// plan cannot show).
var MeasureNets = []MeasureNet{
	{Name: "resnet50", Batch: 8, Size: 112},
	{Name: "unet", Batch: 1, Size: 252},
	{Name: "gpt2", Batch: 2, Seq: 256},
}

// Measure runs each network's training graph and its minimum-memory rewrite
// (approx MC, ORT ordering guards on) in ONNX Runtime and appends the
// measured peak and time to r.Measured. It must run inside a program that
// calls ort.ServeChild at start (cmd/recompute does): ort.Measure runs every
// model in a fresh copy of the program. A network that fails is recorded
// with its error; without the library, r.MeasureNote says how to get it.
func Measure(r *Results, opt MeasureOptions) {
	start := time.Now()
	defer func() { r.TotalSeconds += time.Since(start).Seconds() }()
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	if opt.Runs < 1 {
		opt.Runs = 1
	}
	lib, err := ort.LibraryPath(opt.ORTLib)
	if err != nil {
		r.MeasureNote = "No ONNX Runtime rows: " + err.Error()
		fmt.Fprintf(opt.Progress, "bench: measure: %v\n", err)
		return
	}
	sessions := opt.Sessions
	if sessions == nil {
		sessions = MeasureSessions
	}
	version := ""
	if err := ort.Init(lib); err == nil {
		version = " " + ort.Version()
	}
	var named []string
	for _, s := range sessions {
		named = append(named, fmt.Sprintf("%s = %s", s.Name, s.Options))
	}
	r.MeasureNote = fmt.Sprintf("ONNX Runtime%s. Session options: %s. Peak = growth of the process's peak RSS during Run (fresh process per model, "+
		"MALLOC_MMAP_THRESHOLD_=%s; with the arena on, over the warm-up and the measured runs, since the arena keeps what it grew), time = wall time of Run, both models in one process after %d warm-up runs each, then %d round(s) of one run of each; the time ratio is the median of the rounds' ratios (ort.TimePair). "+
		"Rewritten = approx MC (minimum-memory) plan, planned from the better of the file order and ONNX Runtime's predicted order (the plan column says which), with ORT ordering guards. Simulated = transient peak of the node order as written, kernel workspace included.",
		version, strings.Join(named, "; "), ort.MallocMmapThreshold, ort.SettleRuns, max(opt.Runs, timingRounds))
	nets := opt.Nets
	if nets == nil {
		nets = MeasureNets
	}
	dir, err := os.MkdirTemp("", "recompute-bench-")
	if err != nil {
		r.MeasureNote += " " + err.Error()
		return
	}
	defer ort.TrackScratch(dir)() // removed on SIGINT/SIGTERM too (ort.Stop)
	defer os.RemoveAll(dir)
	for _, nw := range nets {
		t0 := time.Now()
		for _, m := range measureOne(nw, dir, lib, sessions, opt) {
			r.Measured = append(r.Measured, m)
			if m.Err != "" {
				fmt.Fprintf(opt.Progress, "bench: measure %s (%s): %s\n", nw.Name, m.Session, m.Err)
				continue
			}
			fmt.Fprintf(opt.Progress, "bench: measure %s (%s, %s): peak %s -> %s, time %.2fs -> %.2fs, outputs identical %v (%.0fs)\n",
				nw.Name, m.Sizes, m.Session, fmtBytes(m.PeakOrigBytes), fmtBytes(m.PeakNewBytes), m.SecondsOrig, m.SecondsNew, m.OutputsIdentical, time.Since(t0).Seconds())
		}
	}
}

// measureOne plans and rewrites one network once and measures the pair
// under each session: one row per session, or one row with the error when
// building, planning or saving failed.
func measureOne(nw MeasureNet, dir, lib string, sessions []MeasureSession, opt MeasureOptions) []Measured {
	m := Measured{Network: nw.Name, Plan: "approx MC"}
	if nw.Seq > 0 {
		m.Sizes = fmt.Sprintf("batch %d, seq %d", nw.Batch, nw.Seq)
	} else {
		m.Sizes = fmt.Sprintf("batch %d, %d×%d", nw.Batch, nw.Size, nw.Size)
	}
	fail := func(err error) []Measured {
		m.Err = shortErr(err)
		return []Measured{m}
	}
	train, rw, rep, g, bc, err := measureRewrite(nw, opt.Version)
	if err != nil {
		return fail(err)
	}
	m.Plan += ", " + bc.Used + " order"
	m.SimOrigBytes, m.SimNewBytes = rep.BeforePeakBytes, rep.PeakBytes
	m.Overhead = rep.OverheadFrac()
	step := 0.0
	for _, op := range g.Ops {
		step += op.Cost
	}
	if step > 0 {
		m.PredictedTimeRatio = 1 + rep.OverheadCost/step
	}
	origPath := filepath.Join(dir, nw.Name+".onnx")
	newPath := filepath.Join(dir, nw.Name+".rc.onnx")
	if err := train.Save(origPath); err != nil {
		return fail(err)
	}
	if err := rw.Save(newPath); err != nil {
		return fail(err)
	}
	in, err := ort.RandomInputs(train, ort.InputOptions{Seed: 1})
	if err != nil {
		return fail(err)
	}
	var outs []string
	for _, o := range train.Proto.GetGraph().GetOutput() {
		outs = append(outs, o.GetName())
	}
	var rows []Measured
	for _, s := range sessions {
		rows = append(rows, measurePair(m, s, origPath, newPath, in, outs, lib, opt.Runs))
	}
	return rows
}

// measureRewrite builds nw's training graph and rewrites it as `recompute
// rewrite NAME` does with its defaults for ONNX Runtime: the least memory
// (approx MC), planned on the better of the file order and ORT's predicted
// order (the returned original stays as written), ordering guards on, and
// the inferred types passed to Apply. Without those types the clones and
// guarded values of values with no value_info were written untyped, and
// ORT's fusions that check shapes then fused the rewrite differently from
// the original: gpt2 b2 s256 under ORT's defaults measured outputs that
// differed from the original's, where the command's rewrite is identical.
func measureRewrite(nw MeasureNet, version string) (train, rw *onnx.Model, rep *rewrite.Report, g *planner.Graph, bc rewrite.BaseChoice, err error) {
	fwd, err := models.Build(nw.Name, models.Options{Batch: nw.Batch, Size: nw.Size, Seq: nw.Seq})
	if err != nil {
		return
	}
	if train, err = autodiff.Build(fwd, autodiff.Options{}); err != nil {
		return
	}
	g, inf, err := inferredGraph(train)
	if err != nil {
		return
	}
	base, g, p, bc, err := rewrite.PlanOnBase(train, g, planner.Options{Strategy: "approx", Objective: "memory"}, rewrite.BaseBest,
		func(pm *onnx.Model, _ []int) (*planner.Graph, error) { return modelGraph(pm) })
	if err != nil {
		return
	}
	rw, rep, err = rewrite.Apply(base, g, p, rewrite.Options{ORTGuard: true, Version: version, BaseOrder: bc.Perm, Inferred: inf})
	return
}

// timingRounds is the least number of rounds measurePair times: a round
// is one run of each model, so a few cost little beside the peak runs,
// and one round alone is one sample of a noisy machine.
const timingRounds = 3

// measurePair runs the original and the rewritten model under one session
// and fills m's measured fields (m.Err on failure).
func measurePair(m Measured, s MeasureSession, origPath, newPath string, in []ort.Tensor, outs []string, lib string, runs int) Measured {
	m.Session = s.Name
	// Timed side by side below: the peak runs take no runs for time alone.
	mo := ort.MeasureOptions{Session: s.Options, LibPath: lib, Runs: runs, NoTiming: true}
	oOut, oSt, err := ort.Measure(origPath, in, outs, mo)
	if err != nil {
		m.Err = shortErr(fmt.Errorf("original: %w", err))
		return m
	}
	rOut, rSt, err := ort.Measure(newPath, in, outs, mo)
	if err != nil {
		m.Err = shortErr(fmt.Errorf("rewritten: %w", err))
		return m
	}
	m.PeakOrigBytes, m.PeakNewBytes = oSt.PeakRSSGrowthBytes, rSt.PeakRSSGrowthBytes
	m.SecondsOrig, m.SecondsNew = oSt.Seconds, rSt.Seconds
	m.OutputsIdentical = len(oOut) == len(rOut) && len(oOut) > 0
	for i := range oOut {
		if i >= len(rOut) || !ort.Compare(&oOut[i], &rOut[i]).Identical {
			m.OutputsIdentical = false
		}
	}
	// Time side by side: the two processes above ran minutes apart.
	if err := ort.Init(lib); err != nil {
		m.Err = shortErr(err)
		return m
	}
	pt, err := ort.TimePair(origPath, newPath, in, outs, s.Options, max(runs, timingRounds))
	if err != nil {
		m.Err = shortErr(fmt.Errorf("timing side by side: %w", err))
		return m
	}
	m.SecondsOrig, m.SecondsNew, m.TimeRatio = ort.Median(pt.A), ort.Median(pt.B), pt.Ratio
	return m
}
