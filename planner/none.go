package planner

// planNone is strategy none: every op once, forward in topological order,
// backward in reverse, each value freed after its last use.
func noneOrder(g *Graph) ([]int, error) { return g.baseOrder() }
