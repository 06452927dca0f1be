package rewrite

import (
	"errors"
	"fmt"
	"slices"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort/ortorder"
	"github.com/onnx-recompute/recompute/planner"
)

// Base orders accepted by ChooseBaseOrder.
const (
	BaseFile = "file" // the training graph's node order as written
	BaseORT  = "ort"  // the order ONNX Runtime is predicted to run (ortorder.PredictOrder)
	BaseBest = "best" // whichever of the two replays to the lower transient peak
)

// BaseOrders lists the accepted base-order names.
func BaseOrders() []string { return []string{BaseFile, BaseORT, BaseBest} }

// BaseChoice says which base order ChooseBaseOrder picked and why.
type BaseChoice struct {
	Used string // BaseFile or BaseORT
	// Transient peaks of the planner's none order (forward ops first, as
	// planner strategy none runs them) derived from the file order and from
	// ONNX Runtime's predicted order, replayed on the planner graph.
	FilePeakBytes, ORTPeakBytes int64
	// Perm, when the model was permuted, maps the returned model's node k
	// to the input model's node Perm[k]; nil when the input is returned.
	Perm []int
}

// BaselineBytes is the peak of the chosen order.
func (c BaseChoice) BaselineBytes() int64 {
	if c.Used == BaseORT {
		return c.ORTPeakBytes
	}
	return c.FilePeakBytes
}

// ChooseBaseOrder picks the node order the planner should start from. g must
// be the planner graph of m (g.Ops[i] is node i). mode is BaseFile, BaseORT or
// BaseBest ("" means best). If the chosen order is ONNX Runtime's and differs
// from the file order, it returns a new model whose graph's node list is
// permuted into that order (new ModelProto and GraphProto sharing every node,
// initializer and other message of m; m is not modified); otherwise m itself.
// A caller that gets a permuted model must rebuild its planner graph from it,
// and should pass Perm to Apply (Options.BaseOrder) so that the "before"
// numbers describe m as written.
func ChooseBaseOrder(m *onnx.Model, g *planner.Graph, mode string) (*onnx.Model, BaseChoice, error) {
	var c BaseChoice
	if m == nil || m.Proto.GetGraph() == nil || g == nil {
		return nil, c, fmt.Errorf("base order: no model or planner graph")
	}
	switch mode {
	case "":
		mode = BaseBest
	case BaseFile, BaseORT, BaseBest:
	default:
		return nil, c, fmt.Errorf("base order %q: want file, ort or best", mode)
	}
	gp := m.Proto.Graph
	n := len(gp.Node)
	if len(g.Ops) != n {
		return nil, c, fmt.Errorf("base order: planner graph has %d ops but the model has %d nodes", len(g.Ops), n)
	}
	file := make([]int, n)
	for i := range file {
		file[i] = i
	}
	ort := ortorder.PredictOrder(gp)
	if len(ort) != n {
		return nil, c, fmt.Errorf("base order: ONNX Runtime's predicted order has %d of %d nodes", len(ort), n)
	}
	var err error
	if c.FilePeakBytes, err = nonePeak(g, file); err != nil {
		return nil, c, fmt.Errorf("base order: replay file order: %w", err)
	}
	if c.ORTPeakBytes, err = nonePeak(g, ort); err != nil {
		return nil, c, fmt.Errorf("base order: replay ONNX Runtime's order: %w", err)
	}
	c.Used = BaseFile
	if mode == BaseORT || (mode == BaseBest && c.ORTPeakBytes < c.FilePeakBytes) {
		c.Used = BaseORT
	}
	perm := forwardFirst(g, ort)
	if c.Used == BaseFile || slices.Equal(perm, file) {
		return m, c, nil
	}
	pg := onnx.ShallowCopy(gp)
	pg.Node = make([]*onnxpb.NodeProto, n)
	for k, i := range perm {
		pg.Node[k] = gp.Node[i]
	}
	pm := onnx.ShallowCopy(m.Proto)
	pm.Graph = pg
	c.Perm = perm
	return &onnx.Model{Proto: pm, Path: m.Path}, c, nil
}

// forwardFirst is order with the forward ops moved before the backward ops,
// each keeping its relative order: the order planner strategy none runs.
func forwardFirst(g *planner.Graph, order []int) []int {
	out := make([]int, 0, len(order))
	for _, i := range order {
		if !g.Ops[i].Backward {
			out = append(out, i)
		}
	}
	for _, i := range order {
		if g.Ops[i].Backward {
			out = append(out, i)
		}
	}
	return out
}

// nonePeak replays order (forward ops first) with frees after last use.
func nonePeak(g *planner.Graph, order []int) (int64, error) {
	r, err := planner.Replay(g, planner.Liveness(g, forwardFirst(g, order)))
	if err != nil {
		return 0, err
	}
	return r.PeakBytes, nil
}

// unpermute returns the node list of the model a permuted graph gp came
// from (node perm[k] of the original is gp's node k) and origin, mapping the
// original's node i to gp's node (the planner graph's op).
func unpermute(gp *onnxpb.GraphProto, perm []int) (*onnxpb.GraphProto, []int, error) {
	if len(perm) != len(gp.Node) {
		return nil, nil, fmt.Errorf("base order has %d entries for %d nodes", len(perm), len(gp.Node))
	}
	og := onnx.ShallowCopy(gp)
	og.Node = make([]*onnxpb.NodeProto, len(perm))
	origin := make([]int, len(perm))
	for k, i := range perm {
		if i < 0 || i >= len(perm) || og.Node[i] != nil {
			return nil, nil, fmt.Errorf("base order is not a permutation (entry %d = %d)", k, i)
		}
		og.Node[i] = gp.Node[k]
		origin[i] = k
	}
	return og, origin, nil
}

// PlanOnBase plans m, whose planner graph in file order is g, with opt on
// the base order mode names ("" means best). With BaseBest, when ONNX
// Runtime's predicted order has the lower none peak, it plans on both orders
// and keeps the better plan — under a time objective with a budget the one
// with less recomputation, otherwise the one with the lower replayed peak —
// because the lower baseline does not always give the better plan (ResNet-50,
// batch 8 at 112×112: ORT's order wins without recomputation, the file
// order's minimum-memory plan is lower). rebuild returns the planner graph of
// m permuted into another order (perm as in BaseChoice.Perm).
// The returned model is the one the plan's ops index (m or a permuted copy);
// pass BaseChoice.Perm to Apply as Options.BaseOrder.
func PlanOnBase(m *onnx.Model, g *planner.Graph, opt planner.Options, mode string,
	rebuild func(pm *onnx.Model, perm []int) (*planner.Graph, error)) (*onnx.Model, *planner.Graph, *planner.Plan, BaseChoice, error) {
	pm, bc, err := ChooseBaseOrder(m, g, mode)
	if err != nil {
		return nil, nil, nil, bc, err
	}
	pg := g
	if bc.Perm != nil {
		if pg, err = rebuild(pm, bc.Perm); err != nil {
			return nil, nil, nil, bc, fmt.Errorf("in ONNX Runtime's order: %w", err)
		}
	}
	if bc.Perm == nil || (mode != "" && mode != BaseBest) {
		p, perr := planner.Make(pg, opt)
		return pm, pg, p, bc, perr
	}
	// Both orders: the two plans are independent, so they run at once.
	var fp *planner.Plan
	var ferr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		fp, ferr = planner.Make(g, opt)
	}()
	p, perr := planner.Make(pg, opt)
	<-done
	if fileBetter(fp, ferr, p, perr, opt) {
		fc := bc
		fc.Used, fc.Perm = BaseFile, nil
		return m, g, fp, fc, ferr
	}
	return pm, pg, p, bc, perr
}

// fileBetter reports whether the file order's plan (a, aerr) beats ONNX
// Runtime's order's (b, berr).
func fileBetter(a *planner.Plan, aerr error, b *planner.Plan, berr error, opt planner.Options) bool {
	switch {
	case aerr != nil && berr != nil:
		var ia, ib *planner.InfeasibleError
		return errors.As(aerr, &ia) && errors.As(berr, &ib) && ia.MinBytes < ib.MinBytes
	case aerr != nil:
		return false
	case berr != nil:
		return true
	}
	budget := opt.BudgetBytes > 0 || opt.BudgetFrac > 0
	if opt.Objective == "time" || (opt.Objective == "" && budget) {
		return a.OverheadCost < b.OverheadCost || (a.OverheadCost == b.OverheadCost && a.PeakBytes < b.PeakBytes)
	}
	return a.PeakBytes < b.PeakBytes || (a.PeakBytes == b.PeakBytes && a.OverheadCost < b.OverheadCost)
}
