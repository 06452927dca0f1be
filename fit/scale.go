package fit

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnx-recompute/recompute/planner"
)

// scaler gives the planner graph at any batch: scaled from the graphs at
// batches 1 and 2 when every size and cost is affine in the batch (checked
// at batch 3), built by Build otherwise.
type scaler struct {
	build  Build
	affine bool
	g1, g2 *planner.Graph
}

func newScaler(build Build) (*scaler, error) {
	s := &scaler{build: build}
	var err error
	if s.g1, err = build(1); err != nil {
		return nil, fmt.Errorf("fit: batch 1: %w", err)
	}
	if s.g2, err = build(2); err != nil {
		return nil, fmt.Errorf("fit: batch 2: %w", err)
	}
	g3, err := build(3)
	if err != nil {
		return nil, fmt.Errorf("fit: batch 3: %w", err)
	}
	s.affine = sameShape(s.g1, s.g2) && sameShape(s.g1, g3)
	if s.affine {
		want, err := s.scaled(3)
		s.affine = err == nil && sameSizes(want, g3)
	}
	return s, nil
}

// graph is the planner graph at batch b.
func (s *scaler) graph(b int64) (*planner.Graph, error) {
	switch {
	case b == 1:
		return s.g1, nil
	case b == 2:
		return s.g2, nil
	case s.affine:
		return s.scaled(b)
	}
	g, err := s.build(b)
	if err != nil {
		return nil, fmt.Errorf("fit: batch %d: %w", b, err)
	}
	return g, nil
}

// scaled extrapolates g1 and g2 to batch b: x(b) = x1 + (x2-x1)(b-1).
func (s *scaler) scaled(b int64) (*planner.Graph, error) {
	g := *s.g1
	g.Values = make([]planner.Value, len(s.g1.Values))
	k := b - 1
	for i, v := range s.g1.Values {
		d := s.g2.Values[i].Bytes - v.Bytes
		if d != 0 && k > (planner.MaxTotalBytes-v.Bytes)/d {
			return nil, &planner.SizeError{Value: v.Name, Bytes: math.MaxInt64, Total: true}
		}
		v.Bytes += d * k
		g.Values[i] = v
	}
	g.Ops = make([]planner.Op, len(s.g1.Ops))
	for i, op := range s.g1.Ops {
		op.Cost += (s.g2.Ops[i].Cost - op.Cost) * float64(k)
		g.Ops[i] = op
	}
	g.ForwardCost += (s.g2.ForwardCost - s.g1.ForwardCost) * float64(k)
	var total int64
	for _, v := range g.Values {
		total += v.Bytes
		if total > planner.MaxTotalBytes {
			return nil, &planner.SizeError{Value: v.Name, Bytes: v.Bytes, Total: true}
		}
	}
	return &g, nil
}

// sameShape reports whether a and b have the same values and ops.
func sameShape(a, b *planner.Graph) bool {
	if len(a.Values) != len(b.Values) || len(a.Ops) != len(b.Ops) {
		return false
	}
	for i := range a.Values {
		if a.Values[i].Name != b.Values[i].Name || a.Values[i].Resident != b.Values[i].Resident || a.Values[i].Output != b.Values[i].Output {
			return false
		}
	}
	for i := range a.Ops {
		x, y := a.Ops[i], b.Ops[i]
		if x.Name != y.Name || x.Backward != y.Backward || x.Recomputable != y.Recomputable || !slices.Equal(x.Inputs, y.Inputs) || !slices.Equal(x.Outputs, y.Outputs) {
			return false
		}
	}
	return true
}

// sameSizes reports whether a and b have equal sizes and (within rounding)
// costs.
func sameSizes(a, b *planner.Graph) bool {
	for i := range a.Values {
		if a.Values[i].Bytes != b.Values[i].Bytes {
			return false
		}
	}
	for i := range a.Ops {
		if math.Abs(a.Ops[i].Cost-b.Ops[i].Cost) > 1e-6*math.Max(1, math.Abs(b.Ops[i].Cost)) {
			return false
		}
	}
	return true
}
