// Package planner decides which forward activations of a training graph to
// keep and which to recompute during backpropagation (Kusumoto et al.,
// NeurIPS 2019; see PAPER.md and DESIGN.md).
//
// Stage: after onnx (and onnx/ops inference), before rewrite. The input is a
// Graph — ops reading and writing values, forward ops and backward ops, with
// resident values (parameters, inputs, constants) that are never counted —
// built from an ONNX training graph (FromModel) or from the paper's cg text
// format (ParseCG). The output is a Plan whose Schedule is a sequence of
// compute and free steps.
//
// Promise: every Plan that Make returns has been replayed (Replay) — every
// step's inputs were live and every backward op ran exactly once — and
// Plan.PeakBytes is that replayed transient peak, never the DP's estimate.
// A plan is never worse than strategy "none": if it would be, Make returns
// the none schedule with a Note. The package never imports rewrite.
//
// Strategies are plain functions registered in one table (strategies in
// plan.go): none, chen (PAPER.md §7), approx (§5, the default) and exact
// (§4). All of them choose lower-set sequences; one schedule generator
// (schedule.go) turns a sequence, plus an optional set of extra kept
// values, into the canonical strategy using the explicit backward reads of
// the graph (a forward value no backward op reads is neither kept nor
// recomputed), and Liveness inserts the frees. Under a budget with
// objective time, approx and exact also try cost-aware candidates
// (hybrid.go): the DP's sequences with the values of high recompute cost
// per byte (convolutions, matrix products) kept inside segments, so only
// cheap ops are recomputed; such a plan carries a Note and its predicted
// peak is its replay.
// The DP's memory model is only a guide: searchDP replays the DP's answers
// over a range of internal budgets (time- and memory-centric), and refine
// (refine.go) improves the best one by local search judged by replay.
// Backward ops are tried in their base order and as soon as possible.
//
// Memory semantics (one definition, DESIGN.md): a value occupies its bytes
// from the step that writes it to its free step; a compute step needs its
// inputs and outputs at once; the peak is the maximum over compute steps.
package planner
