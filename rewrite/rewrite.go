package rewrite

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/ort/ortorder"
	"github.com/onnx-recompute/recompute/planner"
	"google.golang.org/protobuf/proto"
)

// Options control Apply.
type Options struct {
	// ORTGuard makes ONNX Runtime run the schedule: ORT does not run nodes
	// in file order (ortorder.PredictOrder says what it does). If ORT's
	// predicted order of the result peaks higher than the file order,
	// ortorder.EnforceOrder adds ordering guards until ORT's order is the
	// file order; if ORT's own order is at least as good, nothing is added.
	ORTGuard bool
	// Version is the tool version recorded in metadata_props.
	Version string
	// Inferred, if set, types the clones of values that have no value_info
	// in the model (autodiff graphs declare none for intermediates).
	Inferred *ops.Result
	// BaseOrder, if set, is ChooseBaseOrder's Perm: m is a training graph
	// permuted into another base order, and its node k is node BaseOrder[k]
	// of the graph as written. The "before" numbers are then those of the
	// graph as written (what ONNX Runtime runs as the original).
	BaseOrder []int
	// HideShapes says whether, with ORTGuard, the rewrite hides the shapes
	// of the data inputs from ORT's allocation planner (hide.go).
	HideShapes HideMode
}

// HideMode says when Apply hides input shapes from ONNX Runtime's planner.
type HideMode int

const (
	// HideAuto hides them when the graph holds no fusion ORT makes that
	// changes the arithmetic (ortorder.FusedInputs is empty): such fusions
	// may need the shapes, and unfused kernels round differently.
	HideAuto HideMode = iota
	HideOn            // always (with ORTGuard, opset >= 10)
	HideOff           // never
)

// Report says what Apply did. Byte counts are transient (activations and
// gradients; inputs, parameters and constants are resident and not counted).
type Report struct {
	NodesBefore, Nodes int
	Clones             int // cloned forward nodes (recompute steps)
	Rounds             int // maximal runs of consecutive recompute steps
	Guards             int // inputs given an ordering guard (ORTGuard)
	GuardNodes         int // nodes added for them
	NewValues          int // values created by clones
	Unscheduled        int // nodes the schedule never ran, kept at the end

	OverheadCost float64 // sum of the cloned ops' costs (planner units, FLOPs)
	// FusionClones counts the clones the plan did not ask for: producers
	// recomputed with a clone that ONNX Runtime fuses them into, so that
	// the original pair still fuses (keepFusions; target ort only). They
	// are among Clones and count in OverheadCost.
	FusionClones int
	// FusionDropped counts the recomputations the plan asked for and the
	// rewrite left out, holding the original output instead, because the
	// clone would have split a pair ORT fuses (keepFusions).
	FusionDropped int
	ForwardCost   float64 // sum of the forward ops' costs
	// StepCost is the sum of every op's cost, forward and backward: the
	// training step the recomputation is added to.
	StepCost float64

	BeforePeakBytes int64 // simulated transient peak of the input's node order (as written, with Options.BaseOrder)
	PeakBytes       int64 // simulated transient peak of the output's node order
	// The same in the order ONNX Runtime is predicted to run them
	// (ortorder.PredictOrder): input, and output as written.
	BeforeORTPeakBytes, ORTPeakBytes int64
	// The same order under the model of ORT's allocation planner
	// (ort/ortalloc), which keeps dead buffers for later tensors of their
	// size: closer to what ORT measures than liveness.
	BeforeReusePeakBytes, ReusePeakBytes int64
	PlannedPeakBytes                     int64 // the plan's replayed schedule peak
	PredictedPeakBytes                   int64 // the DP's estimate
	// Unchanged: no clone and no lower peak, so the graph was written
	// as it was read (Nodes == NodesBefore, no guards).
	Unchanged bool
	// HiddenInputs counts the graph inputs whose shape the rewrite hid from
	// ORT's allocation planner (Options.HideShapes); ReusePeakBytes models it.
	HiddenInputs int
	// UnsizedValues counts values of the output the planner graph did not
	// know (sized 0 in the simulation); non-zero means the simulation is partial.
	UnsizedValues int
}

// TimeOverheadFrac is the predicted time overhead: the recomputed cost as
// a fraction of the training step's (the planner's cost model: with
// FLOPs, time proportional to FLOPs).
func (r *Report) TimeOverheadFrac() float64 {
	if r.StepCost <= 0 {
		return 0
	}
	return r.OverheadCost / r.StepCost
}

// OverheadFrac is the recomputation overhead as a fraction of the forward cost.
func (r *Report) OverheadFrac() float64 {
	if r.ForwardCost <= 0 {
		return 0
	}
	return r.OverheadCost / r.ForwardCost
}

// Apply returns a copy of m whose node list is p.Schedule with recomputations
// as clones. g must be the planner graph of m (g.Ops[i] is node i). m is not
// modified; the result shares every message of m it does not change.
func Apply(m *onnx.Model, g *planner.Graph, p *planner.Plan, opt Options) (*onnx.Model, *Report, error) {
	if m == nil || m.Proto == nil || m.Proto.Graph == nil {
		return nil, nil, fmt.Errorf("rewrite: no model")
	}
	if g == nil || p == nil {
		return nil, nil, fmt.Errorf("rewrite: no planner graph or plan")
	}
	src := m.Proto.Graph
	if len(g.Ops) != len(src.Node) {
		return nil, nil, fmt.Errorf("rewrite: planner graph has %d ops but the model has %d nodes", len(g.Ops), len(src.Node))
	}
	e := newEmitter(m, g)
	e.inferred = opt.Inferred
	sched := p.Schedule
	if opt.ORTGuard {
		sched, e.report.FusionClones, e.report.FusionDropped = keepFusions(g, sched, ortorder.FusedInputs(src), ortorder.Unguarded(src))
	}
	if err := e.walk(sched); err != nil {
		return nil, nil, fmt.Errorf("rewrite: %w", err)
	}

	out := onnx.ShallowCopy(m.Proto)
	og := onnx.ShallowCopy(src)
	og.Node = e.nodes
	og.ValueInfo = append(append([]*onnxpb.ValueInfoProto(nil), src.ValueInfo...), e.valueInfo...)
	out.Graph = og
	if err := checkOrder(og); err != nil {
		return nil, nil, fmt.Errorf("rewrite: result is not topologically sorted (planner bug?): %w", err)
	}

	rep := e.report
	rep.NodesBefore = len(src.Node)
	rep.ForwardCost = g.ForwardCost
	for _, op := range g.Ops {
		rep.StepCost += op.Cost
	}
	rep.PlannedPeakBytes, rep.PredictedPeakBytes = p.PeakBytes, p.PredictedPeakBytes
	var err error
	orig, origOrigin := src, []int(nil)
	if opt.BaseOrder != nil {
		if orig, origOrigin, err = unpermute(src, opt.BaseOrder); err != nil {
			return nil, nil, fmt.Errorf("rewrite: %w", err)
		}
	}
	in, err := simulateBoth(orig, g, origOrigin, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("rewrite: simulate input order: %w", err)
	}
	rep.BeforePeakBytes, rep.BeforeORTPeakBytes, rep.BeforeReusePeakBytes = in.file, in.ort, in.reuse
	res, err := simulateBoth(og, g, e.origin, e.cloneOf)
	if err != nil {
		return nil, nil, fmt.Errorf("rewrite: simulate output order: %w", err)
	}
	// Nothing lowered: no clone, and either the file order kept as the
	// base with no lower peak, or, for ONNX Runtime, a reordering whose
	// peak is no lower than that of the order ORT already runs the input
	// in (a fallback to none on ORT's base order would only pin ORT's own
	// order with guards, at their time cost).
	noGain := opt.BaseOrder == nil && res.file >= in.file
	if opt.ORTGuard && in.ort > 0 && res.file >= in.ort {
		noGain = true
	}
	if len(e.cloneOf) == 0 && noGain {
		// The graph is written as it was read, with no reordering and no
		// guards. (A chosen ORT base order that lowers the peak ORT
		// would run is a lowering of its own, pinned by guards below.)
		og.Node, og.ValueInfo = orig.Node, src.ValueInfo
		res = peaks{file: in.file, ort: in.ort, reuse: in.reuse, unsized: res.unsized}
		rep.Unchanged = true
		e.report.Guards, e.report.GuardNodes = 0, 0
	} else if opt.ORTGuard && (res.ort > res.file || len(e.cloneOf) > 0) {
		guard := e.enforceORTOrder
		if res.ort <= res.file {
			guard = e.guardClones
		}
		if err := guard(og); err != nil {
			return nil, nil, fmt.Errorf("rewrite: %w", err)
		}
		if res, err = simulateBoth(og, g, e.origin, e.cloneOf); err != nil {
			return nil, nil, fmt.Errorf("rewrite: simulate guarded order: %w", err)
		}
	}
	if opt.ORTGuard && !rep.Unchanged && e.opset >= 10 &&
		(opt.HideShapes == HideOn || opt.HideShapes == HideAuto && len(ortorder.FusedInputs(src)) == 0) {
		if rep.HiddenInputs, err = e.hideShapes(og, e.dataInputs(og)); err != nil {
			return nil, nil, fmt.Errorf("rewrite: %w", err)
		}
		if rep.HiddenInputs > 0 {
			e.undeclareHidden(og)
			if res, err = simulateBoth(og, g, e.origin, e.cloneOf); err != nil {
				return nil, nil, fmt.Errorf("rewrite: simulate with hidden shapes: %w", err)
			}
		}
	}
	rep.Guards, rep.GuardNodes = e.report.Guards, e.report.GuardNodes
	rep.Nodes = len(og.Node)
	rep.PeakBytes, rep.ORTPeakBytes, rep.ReusePeakBytes, rep.UnsizedValues = res.file, res.ort, res.reuse, res.unsized

	version := opt.Version
	if version == "" {
		version = "dev"
	}
	out.MetadataProps = setMetadata(m.Proto.MetadataProps, [][2]string{
		{"recompute.version", version},
		{"recompute.strategy", p.Strategy},
		{"recompute.objective", p.Objective},
		{"recompute.budget_bytes", strconv.FormatInt(p.BudgetBytes, 10)},
		{"recompute.predicted_peak_bytes", strconv.FormatInt(p.PredictedPeakBytes, 10)},
		{"recompute.planned_peak_bytes", strconv.FormatInt(p.PeakBytes, 10)},
		{"recompute.original_peak_bytes", strconv.FormatInt(rep.BeforePeakBytes, 10)},
		{"recompute.simulated_peak_bytes", strconv.FormatInt(rep.PeakBytes, 10)},
		{"recompute.clones", strconv.Itoa(rep.Clones)},
		{"recompute.overhead", strconv.FormatFloat(rep.OverheadFrac(), 'f', 4, 64)},
		{"recompute.predicted_time_overhead", strconv.FormatFloat(rep.TimeOverheadFrac(), 'f', 4, 64)},
		{"recompute.ort_guards", strconv.Itoa(rep.Guards)},
		{"recompute.ort_predicted_peak_bytes", strconv.FormatInt(rep.ORTPeakBytes, 10)},
		{"recompute.ort_reuse_peak_bytes", strconv.FormatInt(rep.ReusePeakBytes, 10)},
		{"recompute.ort_hidden_inputs", strconv.Itoa(rep.HiddenInputs)},
	})
	return &onnx.Model{Proto: out, Path: m.Path}, &rep, nil
}

// emitter holds the state of one walk over a schedule.
type emitter struct {
	src      *onnxpb.GraphProto
	g        *planner.Graph
	opset    int64
	names    map[string]bool  // every value and node name in use
	bytes    map[string]int64 // planner size of each value, by name
	inferred *ops.Result
	vinfo    map[string]*onnxpb.ValueInfoProto
	report   Report

	nodes     []*onnxpb.NodeProto
	origin    []int             // per emitted node: graph node index, -1 for guards
	current   map[string]string // value -> its current instance (absent: itself)
	cloneOf   map[string]string // clone value -> original value
	valueInfo []*onnxpb.ValueInfoProto
}

func newEmitter(m *onnx.Model, g *planner.Graph) *emitter {
	src := m.Proto.Graph
	e := &emitter{
		src:     src,
		g:       g,
		opset:   defaultOpset(m.Proto),
		names:   map[string]bool{},
		vinfo:   map[string]*onnxpb.ValueInfoProto{},
		current: map[string]string{},
		cloneOf: map[string]string{},
		bytes:   make(map[string]int64, len(g.Values)),
	}
	for _, v := range g.Values {
		e.bytes[v.Name] = v.Bytes
	}
	for _, vs := range [][]*onnxpb.ValueInfoProto{src.Input, src.Output, src.ValueInfo} {
		for _, v := range vs {
			e.names[v.GetName()] = true
			if _, ok := e.vinfo[v.GetName()]; !ok {
				e.vinfo[v.GetName()] = v
			}
		}
	}
	for _, t := range src.Initializer {
		e.names[t.GetName()] = true
	}
	for _, t := range src.SparseInitializer {
		e.names[t.GetValues().GetName()] = true
	}
	collectNames(src, e.names)
	return e
}

// collectNames adds every node name and value name used in g and its
// subgraphs, so that new names never shadow a name a subgraph uses.
func collectNames(g *onnxpb.GraphProto, names map[string]bool) {
	for _, n := range g.Node {
		names[n.GetName()] = true
		for _, v := range n.Input {
			names[v] = true
		}
		for _, v := range n.Output {
			names[v] = true
		}
		for _, a := range n.Attribute {
			if a.G != nil {
				collectNames(a.G, names)
			}
			for _, sg := range a.Graphs {
				collectNames(sg, names)
			}
		}
	}
}

func defaultOpset(m *onnxpb.ModelProto) int64 {
	for _, o := range m.OpsetImport {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

// fresh returns an unused value name: base itself if free, else base_2, base_3, ...
func (e *emitter) fresh(base string) string {
	name := base
	for i := 2; e.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	e.names[name] = true
	return name
}

func (e *emitter) freshNode(base string) string { return e.fresh(base) }

// walk emits the nodes of schedule s.
func (e *emitter) walk(s planner.Schedule) error {
	ran := make([]int, len(e.src.Node))
	round := 0
	inRound := false // the last compute step was a recompute
	for si, st := range s {
		if st.Op < 0 {
			if st.Free < 0 || st.Free >= len(e.g.Values) {
				return fmt.Errorf("schedule step %d frees value %d, out of range", si, st.Free)
			}
			continue
		}
		if st.Op >= len(e.src.Node) {
			return fmt.Errorf("schedule step %d runs op %d, out of range", si, st.Op)
		}
		op, n := &e.g.Ops[st.Op], e.src.Node[st.Op]
		ran[st.Op]++
		if ran[st.Op] == 1 {
			inRound = false
			if op.Backward {
				e.emit(e.rewired(n), st.Op)
			} else {
				e.emit(n, st.Op)
			}
			continue
		}
		if op.Backward {
			return fmt.Errorf("schedule step %d runs backward node %q a second time", si, n.GetName())
		}
		if why := notClonable(op, n); why != "" {
			return fmt.Errorf("schedule step %d recomputes node %q (%s), which %s", si, n.GetName(), n.GetOpType(), why)
		}
		if !inRound {
			round++
			inRound = true
			e.report.Rounds++
		}
		c := e.rewired(n)
		if c == n {
			c = proto.Clone(n).(*onnxpb.NodeProto)
		}
		suffix := "_rc" + strconv.Itoa(round)
		if n.Name != nil {
			c.Name = proto.String(e.freshNode(n.GetName() + suffix))
		}
		for i, o := range c.Output {
			if o == "" {
				continue
			}
			nv := e.fresh(o + suffix)
			c.Output[i] = nv
			e.current[o] = nv
			e.cloneOf[nv] = o
			e.report.NewValues++
			if vi := e.vinfo[o]; vi != nil && vi.Type != nil {
				e.valueInfo = append(e.valueInfo, &onnxpb.ValueInfoProto{Name: proto.String(nv), Type: vi.Type})
			} else if vi := inferredInfo(e.inferred, o, nv); vi != nil {
				e.valueInfo = append(e.valueInfo, vi)
			}
		}
		e.report.Clones++
		e.report.OverheadCost += op.Cost
		e.emit(c, st.Op)
	}
	// Nodes the schedule never ran (dead code the planner left out) are kept,
	// in file order, after everything else.
	for i, n := range e.src.Node {
		if ran[i] == 0 {
			e.report.Unscheduled++
			e.emit(n, i)
		}
	}
	return nil
}

func (e *emitter) emit(n *onnxpb.NodeProto, origin int) {
	e.nodes = append(e.nodes, n)
	e.origin = append(e.origin, origin)
}

// rewired returns n itself if none of its inputs has a newer instance, else a
// copy of n reading the current instances.
func (e *emitter) rewired(n *onnxpb.NodeProto) *onnxpb.NodeProto {
	var c *onnxpb.NodeProto
	for i, x := range n.Input {
		cur, ok := e.current[x]
		if !ok {
			continue
		}
		if c == nil {
			c = proto.Clone(n).(*onnxpb.NodeProto)
		}
		c.Input[i] = cur
	}
	if c == nil {
		return n
	}
	return c
}

// notClonable says why node n must not be recomputed, or "" if it may be.
func notClonable(op *planner.Op, n *onnxpb.NodeProto) string {
	if !op.Recomputable {
		return "is not recomputable (non-deterministic, side effects, subgraph or unknown op)"
	}
	if onnx.HasSubgraph(n) {
		return "has a subgraph"
	}
	t := n.GetOpType()
	if strings.HasPrefix(t, "Random") || t == "Dropout" || t == "Multinomial" || t == "Bernoulli" {
		return "is not deterministic"
	}
	return ""
}

// setMetadata returns props with each key of kv set (replaced if present),
// without modifying props' entries.
func setMetadata(props []*onnxpb.StringStringEntryProto, kv [][2]string) []*onnxpb.StringStringEntryProto {
	drop := map[string]bool{}
	for _, p := range kv {
		drop[p[0]] = true
	}
	var out []*onnxpb.StringStringEntryProto
	for _, p := range props {
		if !drop[p.GetKey()] {
			out = append(out, p)
		}
	}
	for _, p := range kv {
		out = append(out, &onnxpb.StringStringEntryProto{Key: proto.String(p[0]), Value: proto.String(p[1])})
	}
	return out
}

// inferredInfo is a value_info named name with the inferred type of value
// orig, or nil if its element type is unknown.
func inferredInfo(r *ops.Result, orig, name string) *onnxpb.ValueInfoProto {
	if r == nil {
		return nil
	}
	t, ok := r.Values[orig]
	if !ok || t.Elem == 0 {
		return nil
	}
	if t.Rank < 0 {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(t.Elem))}}}}
	}
	return build.ValueInfo(name, t.Elem, t.Dims)
}
