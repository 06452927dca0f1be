package planner

import (
	"fmt"
	"slices"
)

// Step is one step of a schedule: run an op, or free a value.
type Step struct {
	Op   int // >= 0: run op Op (Free = -1); -1: free value Free
	Free int
}

// Schedule is a sequence of compute and free steps. A compute step of a
// forward op that already ran is a recomputation.
type Schedule []Step

// Compute and Free build steps.
func Compute(op int) Step { return Step{Op: op, Free: -1} }

// FreeStep returns the step that frees value v.
func FreeStep(v int) Step { return Step{Op: -1, Free: v} }

// Replayed is the outcome of replaying a schedule.
type Replayed struct {
	PeakBytes int64   // transient peak: max over compute steps of live bytes (inputs and outputs at once) plus the op's workspace
	Timeline  []int64 // live bytes after each step
	// OverheadCost is the summed cost of recompute steps (forward ops run
	// more than once); Recomputed lists those ops, ascending.
	OverheadCost float64
	Recomputed   []int
}

// Replay runs s symbolically on g. It checks that every value a compute
// step reads is live (resident values always are), that frees name live,
// non-resident values, and that every backward op runs exactly once; it
// returns the transient peak and the timeline. Resident values are never
// counted. Writing a value that is already live (a gradient accumulation,
// or a recompute of a live value) adds no bytes.
func Replay(g *Graph, s Schedule) (*Replayed, error) {
	nv := len(g.Values)
	live := make([]bool, nv)
	runs := make([]int, len(g.Ops))
	var cur, peak int64
	r := &Replayed{Timeline: make([]int64, len(s))}
	for i, st := range s {
		switch {
		case st.Op >= 0:
			if st.Op >= len(g.Ops) {
				return nil, fmt.Errorf("step %d: op index %d out of range", i, st.Op)
			}
			op := &g.Ops[st.Op]
			for _, v := range op.Inputs {
				if !live[v] && !g.Values[v].Resident {
					return nil, fmt.Errorf("step %d: op %d (%s %s) reads %s, which is not live", i, st.Op, op.Type, op.Name, g.Values[v].Name)
				}
			}
			if op.Backward && runs[st.Op] > 0 {
				return nil, fmt.Errorf("step %d: backward op %d (%s %s) runs a second time", i, st.Op, op.Type, op.Name)
			}
			if !op.Backward && runs[st.Op] > 0 {
				r.OverheadCost += op.Cost
				if runs[st.Op] == 1 {
					r.Recomputed = append(r.Recomputed, st.Op)
				}
			}
			runs[st.Op]++
			for _, v := range op.Outputs {
				if g.Values[v].Resident || live[v] {
					continue
				}
				live[v] = true
				cur += g.Values[v].Bytes
			}
			if cur+op.Workspace > peak {
				peak = cur + op.Workspace
			}
		case st.Op == -1:
			v := st.Free
			if v < 0 || v >= nv {
				return nil, fmt.Errorf("step %d: free of value index %d out of range", i, v)
			}
			if g.Values[v].Resident {
				return nil, fmt.Errorf("step %d: free of resident value %s", i, g.Values[v].Name)
			}
			if !live[v] {
				return nil, fmt.Errorf("step %d: free of %s, which is not live", i, g.Values[v].Name)
			}
			live[v] = false
			cur -= g.Values[v].Bytes
		default:
			return nil, fmt.Errorf("step %d: invalid step %+v", i, st)
		}
		r.Timeline[i] = cur
	}
	for i, op := range g.Ops {
		if op.Backward && runs[i] == 0 {
			return nil, fmt.Errorf("backward op %d (%s %s) never runs", i, op.Type, op.Name)
		}
	}
	slices.Sort(r.Recomputed)
	r.PeakBytes = peak
	return r, nil
}

// Liveness turns an order of compute steps into a schedule by freeing every
// value right after its last use. Outputs and resident values are never
// freed; a value nobody reads is freed right after the step that writes it.
// A backward op writing a gradient that an earlier step of order already
// wrote accumulates into it, so that write counts as a use; a forward op
// writing a value starts a new lifetime (recomputation).
func Liveness(g *Graph, order []int) Schedule {
	nv := len(g.Values)
	firstWrite := make([]int, nv)
	for i := range firstWrite {
		firstWrite[i] = -1
	}
	for p, o := range order {
		for _, v := range g.Ops[o].Outputs {
			if firstWrite[v] < 0 {
				firstWrite[v] = p
			}
		}
	}
	keep := func(v int) bool { return g.Values[v].Resident || g.Values[v].Output }
	needed := make([]bool, nv)
	mark := make([]int, nv) // position+1 at which v was already listed for freeing
	// The frees of every position, one group per position from the last
	// to the first: position p's group is frees[start[p]:start[p-1]].
	frees := make([]int, 0, nv)
	start := make([]int, len(order)+1)
	for p := len(order) - 1; p >= 0; p-- {
		start[p+1] = len(frees)
		op := &g.Ops[order[p]]
		touch := func(v int) {
			if keep(v) || needed[v] || mark[v] == p+1 {
				return
			}
			mark[v] = p + 1
			frees = append(frees, v)
		}
		for _, v := range op.Outputs {
			touch(v)
		}
		for _, v := range op.Inputs {
			touch(v)
		}
		for _, v := range op.Outputs {
			needed[v] = op.Backward && firstWrite[v] < p
		}
		for _, v := range op.Inputs {
			needed[v] = true
		}
	}
	start[0] = len(frees)
	s := make(Schedule, 0, len(order)+len(frees))
	for p, o := range order {
		s = append(s, Compute(o))
		for _, v := range frees[start[p+1]:start[p]] {
			s = append(s, FreeStep(v))
		}
	}
	return s
}

// peakStep returns the index in s of the first compute step at which r
// (s replayed on g) reaches its peak, or -1.
func peakStep(g *Graph, s Schedule, r *Replayed) int {
	for i, st := range s {
		if st.Op >= 0 && r.Timeline[i]+g.Ops[st.Op].Workspace == r.PeakBytes {
			return i
		}
	}
	return -1
}

// PeakValue is one value live at a schedule's transient peak.
type PeakValue struct {
	Value  int // index into Graph.Values
	Bytes  int64
	Writer int // op whose last run wrote it
}

// PeakLive replays s and returns the step of its transient peak (the first
// compute step that reaches it), and the non-resident values live at that
// step (the op's inputs and outputs included), largest first. It reports
// what fills the peak; Replay's checks apply.
func PeakLive(g *Graph, s Schedule) (step int, vals []PeakValue, err error) {
	r, err := Replay(g, s)
	if err != nil {
		return -1, nil, err
	}
	if step = peakStep(g, s, r); step < 0 {
		return -1, nil, nil
	}
	writer := make([]int, len(g.Values))
	for i := range writer {
		writer[i] = -1
	}
	live := make([]bool, len(g.Values))
	for _, st := range s[:step+1] {
		if st.Op < 0 {
			live[st.Free] = false
			continue
		}
		for _, v := range g.Ops[st.Op].Outputs {
			if !g.Values[v].Resident {
				live[v] = true
				writer[v] = st.Op
			}
		}
	}
	for v, l := range live {
		if l {
			vals = append(vals, PeakValue{Value: v, Bytes: g.Values[v].Bytes, Writer: writer[v]})
		}
	}
	slices.SortStableFunc(vals, func(a, b PeakValue) int {
		switch {
		case a.Bytes > b.Bytes:
			return -1
		case a.Bytes < b.Bytes:
			return 1
		}
		return 0
	})
	return step, vals, nil
}
