package recompute

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort"
	"github.com/onnx-recompute/recompute/planner"
)

// costFunc prices the nodes of training graph m as --cost says. With ort,
// a node's cost is its kernel time in microseconds (pf.ortTimes); a node
// the profile does not time (ORT named it differently, or it did not run)
// is priced by its FLOPs at the profile's microseconds per FLOP.
func (pf *PlanOptions) costFunc(m *onnx.Model, r *ops.Result) (planner.CostFunc, error) {
	kind, file, _ := strings.Cut(pf.Cost, ":")
	if kind != "ort" {
		return planner.NamedCost(kind)
	}
	t, err := pf.ortTimes(m, file)
	if err != nil {
		return nil, fmt.Errorf("--cost %s: %w", pf.Cost, err)
	}
	var micros, flops float64
	nodes := m.Proto.GetGraph().GetNode()
	timed := 0
	for _, n := range nodes {
		if us, ok := t.Micros[n.GetName()]; ok {
			micros += us
			flops += ops.FLOPs(n, r)
			timed++
		}
	}
	if timed == 0 {
		return nil, fmt.Errorf("--cost %s: the profile times none of the model's %d nodes (profiled from another model, or with ORT's graph optimisations on, which rename fused nodes?)", pf.Cost, len(nodes))
	}
	rate := 0.0
	if flops > 0 {
		rate = micros / flops
	}
	pf.costNote = fmt.Sprintf("ONNX Runtime kernel time in µs (%s; %s), %d of %d nodes timed, the rest priced by FLOPs at %.3g µs per GFLOP",
		t.Model, t.Session, timed, len(nodes), rate*1e9)
	return func(n *onnxpb.NodeProto, flops float64) float64 {
		if us, ok := t.Micros[n.GetName()]; ok {
			return us
		}
		return flops * rate
	}, nil
}

// ortTimes returns the node times --cost ort plans with: read from file
// when given; else from the cache beside the model when it was taken for
// the same sizes and is newer than the model; else measured now (ORT's
// graph optimisations off, so that kernels are the graph's nodes; arena on,
// default threads; ort.SettleRuns warm-up runs, then one profiled run on
// random inputs) and cached. A cache taken after fewer warm-up runs (by an
// older recompute, whose profiles priced first-touch page faults as
// kernel time) is taken anew.
func (pf *PlanOptions) ortTimes(m *onnx.Model, file string) (*ort.NodeTimes, error) {
	if pf.nodeTimes != nil {
		return pf.nodeTimes, nil
	}
	if file != "" {
		t, err := ort.ReadNodeTimes(file)
		pf.nodeTimes = t
		return t, err
	}
	dims, err := pf.dimMap()
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("batch %d, dims %v", pf.Batch, dims)
	if pf.costCache != "" {
		if t, err := ort.ReadNodeTimes(pf.costCache); err == nil && t.Key == key && t.Runs >= ort.SettleRuns && cacheFresh(pf.costCache) {
			pf.nodeTimes = t
			return t, nil
		}
	}
	lib, err := ort.LibraryPath("")
	if err != nil {
		return nil, err
	}
	if err := ort.Init(lib); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "recompute-cost-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "train.onnx")
	if err := m.Save(path); err != nil {
		return nil, err
	}
	in, err := ort.RandomInputs(m, ort.InputOptions{Seed: 1, Dims: dims, Batch: pf.Batch})
	if err != nil {
		return nil, err
	}
	t, err := ort.ProfileNodeTimes(path, in, ort.Options{DisableAllOptimizations: true, DisableCSE: true}, ort.SettleRuns)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "is not a registered function/op") {
			hint = " (the graph needs ops this ONNX Runtime build lacks, e.g. an ORT training artifact's gradient ops: profile it in your training session with enable_profiling and pass --cost ort:PROFILE)"
		}
		return nil, fmt.Errorf("profiling in ONNX Runtime: %w%s", err, hint)
	}
	t.Key = key
	t.Model = "profiled now"
	if pf.costCache != "" {
		// A model in a read-only place is still planned, profiled anew
		// each time.
		t.Model = "profiled, cached in " + pf.costCache
		if err := ort.WriteNodeTimes(pf.costCache, t); err != nil {
			t.Model = "profiled now, not cached: " + err.Error()
		}
	}
	pf.nodeTimes = t
	return t, nil
}

// cacheFresh reports whether the cache is newer than the model beside it
// (the cache's name less ".ort-times.json").
func cacheFresh(cache string) bool {
	c, err := os.Stat(cache)
	if err != nil {
		return false
	}
	m, err := os.Stat(strings.TrimSuffix(cache, ortTimesSuffix))
	return err == nil && c.ModTime().After(m.ModTime())
}

// ortTimesSuffix names the node-time cache beside a model file.
const ortTimesSuffix = ".ort-times.json"

// forModel readies --cost ort for the model src names: its cache beside a
// model file (none for a built-in network), and no times carried over from
// another model unless ort:FILE gave them.
func (pf *PlanOptions) forModel(src string) {
	pf.costCache, pf.costNote = "", ""
	if _, file, _ := strings.Cut(pf.Cost, ":"); file == "" {
		pf.nodeTimes = nil
	}
	if st, err := os.Stat(src); err == nil && st.Mode().IsRegular() {
		pf.costCache = src + ortTimesSuffix
	}
}

// costUnit names the unit of the planner's costs in reports.
func (pf *PlanOptions) costUnit() string {
	switch kind, _, _ := strings.Cut(pf.Cost, ":"); kind {
	case "ort":
		return "µs of kernel time"
	case "paper", "uniform":
		return "cost units"
	}
	return "FLOPs"
}
