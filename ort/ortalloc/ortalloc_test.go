package ortalloc

import (
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/planner"
)

// graph builds a planner graph from ops written as (type, inputs, outputs)
// over named values of the given sizes; "out" values are graph outputs.
func graph(sizes map[string]int64, outs []string, ops ...[3]any) (*planner.Graph, []int) {
	g := &planner.Graph{}
	idx := map[string]int{}
	val := func(n string) int {
		if i, ok := idx[n]; ok {
			return i
		}
		idx[n] = len(g.Values)
		v := planner.Value{Name: n, Bytes: sizes[n]}
		for _, o := range outs {
			v.Output = v.Output || o == n
		}
		v.Resident = sizes[n] == 0
		g.Values = append(g.Values, v)
		return idx[n]
	}
	var order []int
	for i, o := range ops {
		op := planner.Op{Type: o[0].(string)}
		for _, n := range o[1].([]string) {
			op.Inputs = append(op.Inputs, val(n))
		}
		for _, n := range o[2].([]string) {
			op.Outputs = append(op.Outputs, val(n))
		}
		g.Ops = append(g.Ops, op)
		order = append(order, i)
	}
	return g, order
}

func op(t string, in, out []string) [3]any { return [3]any{t, in, out} }

func s(v ...string) []string { return v }

func TestSimulate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sizes    map[string]int64
		outs     []string
		ops      [][3]any
		peak     int64
		liveness int64
		unsized  []string // values ORT cannot size when it plans
		held     int64
		reused   int64
		nBuffers int
	}{
		{
			// All sizes differ: the model is the liveness.
			name:  "distinct sizes",
			sizes: map[string]int64{"a": 100, "b": 200, "c": 300},
			outs:  s("c"),
			ops:   [][3]any{op("Relu", s("x"), s("a")), op("Relu", s("a"), s("b")), op("Relu", s("b"), s("c"))},
			peak:  500, liveness: 500, nBuffers: 3,
		},
		{
			// a dies at step 1; d (same size) reuses a's buffer at step 3.
			// The buffer stays allocated through step 2, when the 1000-byte
			// c is live: 100 more than the liveness.
			name:  "held across a gap",
			sizes: map[string]int64{"a": 100, "b": 50, "c": 1000, "d": 100},
			outs:  s("d"),
			ops: [][3]any{op("Relu", s("x"), s("a")), op("Relu", s("a"), s("b")), op("Relu", s("b"), s("c")),
				op("Relu", s("c"), s("d"))},
			peak: 1150, liveness: 1100, held: 100, reused: 100, nBuffers: 3,
		},
		{
			// Reshape shares its input's buffer: no new bytes.
			name:  "alias",
			sizes: map[string]int64{"a": 100, "r": 100, "b": 30},
			outs:  s("b"),
			ops:   [][3]any{op("Relu", s("x"), s("a")), op("Reshape", s("a", "shape"), s("r")), op("Relu", s("r"), s("b"))},
			peak:  130, liveness: 200, nBuffers: 2,
		},
		{
			// The most recently freed buffer of the size is taken: b's,
			// so a's buffer is released at once.
			name:  "most recently freed first",
			sizes: map[string]int64{"a": 100, "b": 100, "c": 10, "d": 100, "e": 1000},
			outs:  s("e"),
			ops: [][3]any{op("Relu", s("x"), s("a")), op("Relu", s("a"), s("b")), op("Relu", s("b"), s("c")),
				op("Relu", s("c"), s("d")), op("Relu", s("d"), s("e"))},
			peak: 1100, liveness: 1100, reused: 100, nBuffers: 4,
		},
		{
			// "held across a gap" with d unsized: d cannot take a's
			// buffer, which is released when a dies; the liveness again.
			name:  "unsized reader",
			sizes: map[string]int64{"a": 100, "b": 50, "c": 1000, "d": 100},
			outs:  s("d"),
			ops: [][3]any{op("Relu", s("x"), s("a")), op("Relu", s("a"), s("b")), op("Relu", s("b"), s("c")),
				op("Relu", s("c"), s("d"))},
			unsized: s("d"),
			peak:    1100, liveness: 1100, nBuffers: 4,
		},
		{
			// The same with a unsized: its buffer never reaches the
			// freelist, so d gets a buffer of its own.
			name:  "unsized buffer",
			sizes: map[string]int64{"a": 100, "b": 50, "c": 1000, "d": 100},
			outs:  s("d"),
			ops: [][3]any{op("Relu", s("x"), s("a")), op("Relu", s("a"), s("b")), op("Relu", s("b"), s("c")),
				op("Relu", s("c"), s("d"))},
			unsized: s("a"),
			peak:    1100, liveness: 1100, nBuffers: 4,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, order := graph(tc.sizes, tc.outs, tc.ops...)
			var unsized []bool
			if tc.unsized != nil {
				unsized = make([]bool, len(g.Values))
				for v, val := range g.Values {
					unsized[v] = slices.Contains(tc.unsized, val.Name)
				}
			}
			r := SimulateUnsized(g, order, unsized)
			rp, err := planner.Replay(g, planner.Liveness(g, order))
			if err != nil {
				t.Fatal(err)
			}
			if rp.PeakBytes != tc.liveness {
				t.Errorf("liveness peak %d, want %d", rp.PeakBytes, tc.liveness)
			}
			if r.PeakBytes != tc.peak || r.HeldBytes != tc.held || r.ReusedBytes != tc.reused || r.Buffers != tc.nBuffers {
				t.Errorf("got peak %d held %d reused %d buffers %d, want %d %d %d %d", r.PeakBytes, r.HeldBytes, r.ReusedBytes, r.Buffers, tc.peak, tc.held, tc.reused, tc.nBuffers)
			}
		})
	}
}
