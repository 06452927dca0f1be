package planner

import "fmt"

// Floor is a lower bound on the transient peak of every schedule of a
// graph, recomputation or not: the largest of
//   - the graph outputs (transient ones), which all live at the end, and
//   - one op's working set: its transient inputs and outputs, live
//     together while it runs, and its kernel's workspace.
//
// When the none peak already sits on the floor no plan can lower it, and
// Make says so at once instead of searching.
type Floor struct {
	Bytes       int64 // max(OutputBytes, StepBytes)
	OutputBytes int64
	StepBytes   int64
	StepOp      int // the op of StepBytes (-1 if no op)
}

// Floors computes g's floor.
func Floors(g *Graph) Floor {
	f := Floor{StepOp: -1}
	for _, v := range g.Values {
		if v.Output && !v.Resident {
			f.OutputBytes += v.Bytes
		}
	}
	seen := make([]int, len(g.Values)) // op index + 1 that last counted the value
	for i, op := range g.Ops {
		b := op.Workspace
		for _, list := range [][]int{op.Inputs, op.Outputs} {
			for _, v := range list {
				if g.Values[v].Resident || seen[v] == i+1 {
					continue
				}
				seen[v] = i + 1
				b += g.Values[v].Bytes
			}
		}
		if b > f.StepBytes {
			f.StepBytes, f.StepOp = b, i
		}
	}
	f.Bytes = max(f.OutputBytes, f.StepBytes)
	return f
}

// Describe says what the floor is made of, for reports.
func (f Floor) Describe(g *Graph) string {
	step := "none"
	if f.StepOp >= 0 {
		op := g.Ops[f.StepOp]
		step = fmt.Sprintf("%s at %s %s", HumanBytes(f.StepBytes), op.Type, op.Name)
	}
	return fmt.Sprintf("floor %s: outputs that live to the end %s, largest single-op working set %s", HumanBytes(f.Bytes), HumanBytes(f.OutputBytes), step)
}
