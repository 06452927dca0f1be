package planner

import (
	"fmt"
	"math/rand"
)

// randomGraph builds a random training graph with n forward ops in the
// cg style: each forward op writes one value; the last one is the loss
// (it reads every value no one else reads); backward op i reads g(output)
// and a random subset of op i's inputs and output, and writes the
// gradients of its non-resident inputs and of the parameter.
func randomGraph(rng *rand.Rand, n int, nonRecomputable bool) *Graph {
	g := &Graph{}
	add := func(v Value) int { g.Values = append(g.Values, v); return len(g.Values) - 1 }
	x := add(Value{Name: "x", Bytes: 1000, Resident: true})
	w := add(Value{Name: "w", Bytes: 1000, Resident: true})
	gw := add(Value{Name: "grad(w)", Bytes: 7, Output: true})
	act := make([]int, n)
	grad := make([]int, n)
	for i := 0; i < n; i++ {
		act[i] = add(Value{Name: fmt.Sprintf("a%d", i), Bytes: int64(1 + rng.Intn(100))})
		grad[i] = add(Value{Name: fmt.Sprintf("grad(a%d)", i), Bytes: g.Values[act[i]].Bytes})
	}
	read := make([]bool, n)
	fwdIns := make([][]int, n)
	for i := 0; i < n; i++ {
		var ins []int
		if i == n-1 {
			for j := 0; j < i; j++ {
				if !read[j] {
					ins = append(ins, act[j])
				}
			}
		} else if i == 0 {
			ins = []int{x}
		} else {
			ins = []int{act[i-1-rng.Intn(min(i, 3))]}
			if rng.Intn(2) == 0 {
				j := rng.Intn(i)
				if act[j] != ins[0] {
					ins = append(ins, act[j])
				}
			}
		}
		if len(ins) == 0 {
			ins = []int{act[i-1]}
		}
		if rng.Intn(3) == 0 {
			ins = append(ins, w)
		}
		for _, v := range ins {
			if v >= act[0] {
				read[(v-act[0])/2] = true
			}
		}
		outs := []int{act[i]}
		if i == n-1 {
			outs = append(outs, grad[i])
			g.Values[act[i]].Output = true
		}
		op := Op{Name: fmt.Sprintf("f%d", i), Type: "F", Inputs: ins, Outputs: outs,
			Cost: float64(1 + rng.Intn(10)), Recomputable: !(nonRecomputable && rng.Intn(6) == 0)}
		g.ForwardCost += op.Cost
		g.Ops = append(g.Ops, op)
		fwdIns[i] = ins
	}
	for i := n - 1; i >= 0; i-- {
		op := Op{Name: fmt.Sprintf("b%d", i), Type: "B", Backward: true, Inputs: []int{grad[i]}}
		for _, v := range fwdIns[i] {
			if rng.Intn(2) == 0 {
				op.Inputs = append(op.Inputs, v)
			}
			switch {
			case v == w:
				op.Outputs = append(op.Outputs, gw)
			case v != x:
				op.Outputs = append(op.Outputs, v+1) // grad of act j is act j's index + 1
			}
		}
		if rng.Intn(2) == 0 {
			op.Inputs = append(op.Inputs, act[i])
		}
		if len(op.Outputs) == 0 {
			op.Outputs = []int{gw}
		}
		g.Ops = append(g.Ops, op)
	}
	if err := g.Validate(); err != nil {
		panic(err)
	}
	return g
}

// cgStyleGraph builds a training graph from forward edges in the cg style:
// node i writes value a_i reading preds[i] (x if none); backward op i reads
// g(a_i), its inputs and its output, and writes the gradients of its
// inputs. The last node is the loss.
func cgStyleGraph(preds [][]int, bytes func(i int) int64) *Graph {
	n := len(preds)
	g := &Graph{}
	g.Values = append(g.Values, Value{Name: "x", Bytes: 1, Resident: true})
	act := func(i int) int { return 1 + 2*i }
	grad := func(i int) int { return 2 + 2*i }
	for i := 0; i < n; i++ {
		g.Values = append(g.Values, Value{Name: fmt.Sprintf("a%d", i), Bytes: bytes(i)}, Value{Name: fmt.Sprintf("grad(a%d)", i), Bytes: bytes(i)})
	}
	g.Values[act(n-1)].Output = true
	for i := 0; i < n; i++ {
		op := Op{Name: fmt.Sprintf("f%d", i), Type: "F", Outputs: []int{act(i)}, Cost: float64(1 + i%10), Recomputable: true}
		if len(preds[i]) == 0 {
			op.Inputs = []int{0}
		}
		for _, p := range preds[i] {
			op.Inputs = append(op.Inputs, act(p))
		}
		if i == n-1 {
			op.Outputs = append(op.Outputs, grad(i))
		}
		g.ForwardCost += op.Cost
		g.Ops = append(g.Ops, op)
	}
	for i := n - 1; i >= 0; i-- {
		op := Op{Name: fmt.Sprintf("b%d", i), Type: "B", Backward: true, Inputs: []int{grad(i), act(i)}}
		for _, p := range preds[i] {
			op.Inputs = append(op.Inputs, act(p))
			op.Outputs = append(op.Outputs, grad(p))
		}
		g.Ops = append(g.Ops, op)
	}
	return g
}

// resnetLike is a chain of residual blocks (3 ops and an add each) with
// n nodes in all.
func resnetLike(n int) [][]int {
	preds := make([][]int, n)
	last := -1
	for i := 0; i < n; i++ {
		switch {
		case i == 0:
		case i%4 == 0 && last >= 0: // add: block input + block output
			preds[i] = []int{i - 1, last}
		default:
			preds[i] = []int{i - 1}
		}
		if i%4 == 0 {
			last = i
		}
	}
	return preds
}

// parallelChains is k chains of length l from x joined by the loss:
// (l+1)^k + 1 lower sets.
func parallelChains(k, l int) [][]int {
	var preds [][]int
	var ends []int
	for c := 0; c < k; c++ {
		for j := 0; j < l; j++ {
			if j == 0 {
				preds = append(preds, nil)
			} else {
				preds = append(preds, []int{len(preds) - 1})
			}
		}
		ends = append(ends, len(preds)-1)
	}
	return append(preds, ends)
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
