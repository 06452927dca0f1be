// Package bench runs the strategy benchmark behind `recompute bench` and
// docs/RESULTS.md: for each built-in network and each paper cg file it plans
// with none, Chen, approximate and exact DP (time- and memory-centric), sweeps a
// range of budgets, and writes the results as Markdown, JSON and plots.
//
// It sits at the top of the pipeline, beside cmd/recompute: it calls models,
// autodiff, onnx/ops and planner and never changes them. Its promise: every
// number it writes comes from a run it just made (the replayed transient peak of
// a real schedule, the planner's own overhead and wall-clock seconds); the only
// figures it does not measure are the paper's, and those are labelled as such.
package bench
