package recompute

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort"
	"github.com/onnx-recompute/recompute/ort/ortalloc"
	"github.com/onnx-recompute/recompute/ort/ortorder"
	"github.com/onnx-recompute/recompute/ort/trainort"
)

// needsTrainingKernels reports whether m holds an op that only ORT's
// training build runs (com.microsoft *Grad ops, InPlaceAccumulatorV2, ...).
func needsTrainingKernels(m *onnx.Model) bool {
	for _, n := range m.Proto.GetGraph().GetNode() {
		if ops.IsGradientOp(n) {
			return true
		}
	}
	return false
}

// trainingSession maps verify's session flags onto the training runtime,
// which takes fewer settings: one thread always; optimisations off or a
// level; the arena (and memory pattern) on or off.
func trainingSession(so ort.Options) trainort.Options {
	opt := trainort.Options{Optimize: "all", Arena: !so.ArenaOff}
	switch {
	case so.DisableAllOptimizations:
		opt.Optimize = "disabled"
	case so.Level == ort.LevelBasic:
		opt.Optimize = "basic"
	case so.Level == ort.LevelExtended:
		opt.Optimize = "extended"
	}
	return opt
}

// verifyTraining is verify on ORT's training kernels (package trainort).
// Each model runs twice in fresh runner processes: as given (random ops
// seeded), which is what memory and time are measured on, and as a private
// copy that also exposes the gradients its accumulators add, which is what
// the bytes are compared on. Each copy must reproduce its own bytes run to
// run before the two are compared.
func verifyTraining(rep *VerifyReport, orig, rewr *onnx.Model, in []ort.Tensor, so ort.Options, iopt ops.Options, runs int, timeout time.Duration) error {
	if err := trainort.Available(); err != nil {
		return fmt.Errorf("%s holds training ops (com.microsoft gradient ops): %w", rep.Original, err)
	}
	tmp, err := os.MkdirTemp("", "recompute-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	defer ort.TrackScratch(tmp)()
	topt := trainingSession(so)
	topt.Timeout = timeout
	rep.Runtime = "training"
	rep.Session = fmt.Sprintf("ONNX Runtime training build (onnxruntime-web 1.19.2, WebAssembly, Node.js), 1 thread, graph optimisations %s, arena and memory pattern %s", topt.Optimize, onOff(topt.Arena))
	rep.ORTVersion = "1.19.2 (training, WebAssembly)"
	type side struct {
		name           string
		m              *onnx.Model
		prep, meas     *trainort.Prepared
		path, measPath string
		res, measured  *trainort.Result
	}
	sides := []*side{{name: "original", m: orig}, {name: "rewritten", m: rewr}}
	for _, s := range sides {
		s.prep, s.meas = trainort.Prepare(s.m.Proto), trainort.PrepareToMeasure(s.m.Proto)
		s.path, s.measPath = filepath.Join(tmp, s.name+".onnx"), filepath.Join(tmp, s.name+"_as_given.onnx")
		if err := (&onnx.Model{Proto: s.prep.Model}).Save(s.path); err != nil {
			return err
		}
		if err := (&onnx.Model{Proto: s.meas.Model}).Save(s.measPath); err != nil {
			return err
		}
	}
	names, missing := commonOutputs(sides[0].prep.Model.GetGraph(), sides[1].prep.Model.GetGraph())
	for _, s := range sides {
		mopt := topt
		mopt.Runs = max(runs, 1)
		if s.measured, err = trainort.Run(context.Background(), s.measPath, in, nil, mopt); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		copt := topt
		copt.Runs = 1
		if s.res, err = trainort.Run(context.Background(), s.path, in, names, copt); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if !s.res.Deterministic || !s.measured.Deterministic {
			return fmt.Errorf("%s: two runs of the same model gave different bytes (random ops seeded: %d); no comparison would prove anything", s.name, s.prep.Seeded)
		}
	}
	rep.Exposed = len(sides[0].prep.Gradients)
	rep.Seeded = sides[0].prep.Seeded + sides[1].prep.Seeded
	rep.compare(names, missing, sides[0].res.Outputs, sides[1].res.Outputs)
	rep.setRuns(trainRun(sides[0].measured), trainRun(sides[1].measured), trainort.TransientMethod, rewr)
	// The runtime reports no executed order: replay the one ORT is
	// predicted to run (package ortorder), plain and with ORT's buffer reuse.
	var errO, errR error
	var allocO, allocR ortalloc.Result
	rep.OrderOrigBytes, allocO, errO = orderPeak(orig, predictedOrder(orig), iopt)
	rep.OrderRewrBytes, allocR, errR = orderPeak(rewr, predictedOrder(rewr), iopt)
	rep.AllocOrigBytes, rep.AllocRewrBytes, rep.AllocRewrHeldBytes = allocO.PeakBytes, allocR.PeakBytes, allocR.HeldBytes
	rep.OrderNote = "the training runtime gives no executed order; ORT's order as package ortorder predicts it"
	if errO != nil || errR != nil {
		rep.OrderNote = fmt.Sprintf("the training runtime gives no executed order; predicting it: original: %v; rewritten: %v", errO, errR)
	}
	rep.OrderMismatches = orderMismatches(rewr)
	return nil
}

// predictedOrder is ORT's predicted order of m's nodes, by profile name.
func predictedOrder(m *onnx.Model) []string {
	g := m.Proto.GetGraph()
	names := ort.NodeNames(g)
	var order []string
	for _, i := range ortorder.PredictOrder(g) {
		order = append(order, names[i])
	}
	return order
}

// trainRun is a training-runtime result as verify reports runs: the peak
// is the first run's growth less the feeds; the time the median of the
// runs after the first.
func trainRun(r *trainort.Result) VerifyRun {
	rr := VerifyRun{PeakBytes: r.TransientBytes(), FedBytes: r.FedBytes, RunSeconds: r.Seconds, Deterministic: r.Deterministic}
	if len(r.Seconds) > 0 {
		rr.FirstRunSeconds = r.Seconds[0]
		rr.Seconds = ort.Median(r.Seconds[1:])
		if len(r.Seconds) == 1 {
			rr.Seconds = r.Seconds[0]
		}
	}
	return rr
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
