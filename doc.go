// Package recompute plans and applies recomputation (gradient
// checkpointing) to ONNX training graphs, so that training fits in less
// memory: one call from a model to its report or its rewritten model.
//
// The functions are the command's subcommands, and take the same settings:
//
//   - Inspect describes a model: opsets, ops, parameters, the
//     forward/backward split and the simulated peak.
//   - Grad appends a loss and the backward graph (standard ONNX ops) to a
//     forward model.
//   - Plan plans recomputation for a training graph (or a graph in the
//     paper's cg text format) and reports the plan.
//   - Rewrite plans and writes the rewritten model, in which the recomputed
//     forward nodes are duplicated right before their backward consumers.
//   - Convert rewrites every model under a directory (a batch, or one shard
//     of it).
//   - Verify runs an original and its rewrite in ONNX Runtime and compares
//     outputs, peak memory and time.
//
// Each takes an options struct whose fields are the command-line flags of
// the same names (the zero value is the flags' default unless a field says
// otherwise) and returns a report struct: its JSON encoding is what the
// command prints with --json, and its WriteText method writes the text the
// command prints. Long jobs report progress through an optional callback.
//
// Errors a caller may branch on are typed: *OptionError (a malformed
// setting), *InfeasibleError (a budget below the least peak any plan
// reaches, with that least peak), *UnknownSizesError (values whose size
// cannot be inferred, with the dimensions to bind), *UnsupportedOpError (an
// op autodiff cannot differentiate, with its name and node).
//
// Built-in networks (resnet50, vgg19, gpt2, llama, …; see package models)
// stand in for a model file wherever a function takes one, so the examples
// run without files.
//
// The promise: a rewritten model computes the same outputs as the original,
// bit for bit, and its simulated peak is what the report says. The
// packages under this one (planner, rewrite, autodiff, ort, …) are the
// parts; this package is the entry point.
package recompute
