// Package ortalloc models how ONNX Runtime's sequential allocation planner
// places a graph's tensors in memory, so that a simulated peak can be
// compared with what ORT measures.
//
// The planner liveness of package planner frees every tensor after its last
// reader. ORT's planner (allocation_planner.cc, ORT 1.x) does the same and
// then reuses: an output is placed in the most recently freed buffer of
// exactly its size, and a buffer is released only after the last tensor
// placed in it dies. A buffer freed early in the forward pass and taken
// again late in the backward pass stays allocated in between, which is
// memory the graph's liveness does not show. Alias kernels (Reshape,
// Squeeze, Unsqueeze, Flatten, Identity) share their input's buffer.
//
// Promise: Simulate never changes the graph; on a graph where no two
// tensors have the same size and no alias op runs, its peak is the liveness
// peak of planner.Replay(g, planner.Liveness(g, order)). Everything else is
// a model, checked against ORT's measured peak in docs/ORT.md, not ORT.
package ortalloc

import (
	"slices"

	"github.com/onnx-recompute/recompute/planner"
)

// aliasOps share their first input's buffer (ORT's CPU kernels declare
// Alias(0, 0)).
var aliasOps = map[string]bool{"Reshape": true, "Squeeze": true, "Unsqueeze": true, "Flatten": true, "Identity": true}

// minReuseBytes: ORT never reuses a buffer for a scalar (rank 0); with only
// sizes known, tensors this small are treated as scalars.
const minReuseBytes = 8

// Result is the modelled allocation of one run.
type Result struct {
	PeakBytes   int64 // highest sum of allocated buffers
	Buffers     int   // buffers allocated
	ReusedBytes int64 // bytes of outputs placed in a dead buffer
	// HeldBytes is, at the peak, the bytes of buffers whose tensors are
	// all dead but that a later output will reuse.
	HeldBytes int64
}

// Simulate runs g's ops in order (indexes into g.Ops, each once) under
// ORT's reuse rules. Resident values are never counted; graph outputs are
// never freed.
//
// The model assumes ORT knows every tensor's shape when it plans. It does
// not know the shape of a value computed from an ordering guard's output
// (a data-dependent Reshape) and never reuses for those, so on guarded
// graphs the model is an upper bound of the planner's reuse.
func Simulate(g *planner.Graph, order []int) Result { return SimulateUnsized(g, order, nil) }

// SimulateUnsized is Simulate where ORT cannot size the values v with
// unsized[v] when it plans (their shape depends on data, as behind
// ortorder.HideShapes): ORT allocates them at run time, never places them
// in a dead buffer and never places a later tensor in theirs. unsized may
// be nil (every value sized).
func SimulateUnsized(g *planner.Graph, order []int, unsized []bool) Result {
	nv := len(g.Values)
	uses := make([]int, nv)
	for _, i := range order {
		for _, v := range g.Ops[i].Inputs {
			uses[v]++
		}
	}
	for v := range g.Values {
		if g.Values[v].Output {
			uses[v]++
		}
	}
	buf := make([]int, nv)
	for i := range buf {
		buf[i] = -1
	}
	var bufs []buffer
	var freelist []int // most recently freed first
	var res Result
	written := make([]bool, nv)
	release := func(b, step int) {
		if !bufs[b].unsized {
			freelist = slices.Insert(freelist, 0, b)
		}
		bufs[b].free, bufs[b].dead = step, true
	}
	for step, i := range order {
		op := &g.Ops[i]
		for k, v := range op.Outputs {
			if g.Values[v].Resident || written[v] {
				continue
			}
			written[v] = true
			if k == 0 && aliasOps[op.Type] && len(op.Inputs) > 0 && buf[op.Inputs[0]] >= 0 {
				b := buf[op.Inputs[0]]
				buf[v] = b
				bufs[b].use += uses[v]
				continue
			}
			size := g.Values[v].Bytes
			found := -1
			hidden := v < len(unsized) && unsized[v]
			if size > minReuseBytes && !hidden {
				for j, b := range freelist {
					if bufs[b].bytes == size {
						found = j
						break
					}
				}
			}
			if found >= 0 {
				b := freelist[found]
				freelist = slices.Delete(freelist, found, found+1)
				buf[v] = b
				bufs[b].use, bufs[b].free, bufs[b].dead = uses[v], len(order), false
				res.ReusedBytes += size
				continue
			}
			buf[v] = len(bufs)
			bufs = append(bufs, buffer{bytes: size, use: uses[v], alloc: step, free: len(order), unsized: hidden})
		}
		for _, v := range op.Inputs {
			if b := buf[v]; b >= 0 {
				if bufs[b].use--; bufs[b].use == 0 {
					release(b, step)
				}
			}
		}
		for _, v := range op.Outputs {
			if b := buf[v]; b >= 0 && bufs[b].use == 0 && !bufs[b].dead {
				release(b, step)
			}
		}
	}
	res.Buffers = len(bufs)
	// A buffer is allocated from its first tensor's step to the step
	// where its last tensor dies; between a death and a reuse it holds
	// nothing alive.
	delta := make([]int64, len(order)+2)
	for _, b := range bufs {
		delta[b.alloc] += b.bytes
		delta[b.free+1] -= b.bytes
	}
	var cur int64
	peakStep := 0
	for s, d := range delta {
		cur += d
		at := cur
		if s < len(order) {
			at += g.Ops[order[s]].Workspace // the kernel's own, freed within the step
		}
		if at > res.PeakBytes {
			res.PeakBytes, peakStep = at, s
		}
	}
	res.HeldBytes = heldAt(g, order, buf, bufs, peakStep)
	return res
}

// buffer is one allocation of ORT's plan.
type buffer struct {
	bytes       int64
	use         int  // readers left of the tensors placed in it
	alloc, free int  // steps: allocated before alloc, released after free
	dead        bool // on the freelist (every tensor in it dead)
	unsized     bool // its tensor's size is known only at run time: never reused
}

// heldAt sums, at step s, the bytes of allocated buffers that hold no live
// tensor (every tensor placed in them dead, a later one not yet written).
func heldAt(g *planner.Graph, order []int, buf []int, bufs []buffer, s int) int64 {
	// live[b]: some tensor in buffer b is written at or before s and read
	// at or after s.
	first := make([]int, len(g.Values))
	last := make([]int, len(g.Values))
	for v := range first {
		first[v], last[v] = -1, -1
	}
	for step, i := range order {
		for _, v := range g.Ops[i].Outputs {
			if first[v] < 0 {
				first[v] = step
			}
			last[v] = max(last[v], step)
		}
		for _, v := range g.Ops[i].Inputs {
			last[v] = max(last[v], step)
		}
	}
	seen := map[int]bool{}
	live := map[int]bool{}
	for v, b := range buf {
		if b < 0 {
			continue
		}
		seen[b] = true
		if first[v] >= 0 && first[v] <= s && (last[v] >= s || g.Values[v].Output) {
			live[b] = true
		}
	}
	var held int64
	for b := range seen {
		if !live[b] && bufs[b].alloc <= s && bufs[b].free >= s {
			held += bufs[b].bytes
		}
	}
	return held
}
