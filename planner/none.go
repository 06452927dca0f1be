package planner

// noneOrder is the order of strategy none: every op once, forward in
// topological order, backward in the base order (for ONNX the file order,
// for cg files the reverse of the forward order); Liveness then frees each
// value after its last use.
func noneOrder(g *Graph) ([]int, error) { return g.baseOrder() }
