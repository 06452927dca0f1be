// Package ortorder predicts and pins the order in which ONNX Runtime runs a
// graph's nodes. It is pure Go (no cgo), so package rewrite can use it
// without linking ONNX Runtime; package ort checks it against ORT's profile.
//
// ORT does not run nodes in file order (PredictOrder says what it does), so
// a rewritten graph whose file order is the recomputation schedule can lose
// its saving. EnforceOrder adds zero-cost ordering guards until ORT's order
// is the file order; see docs/ORT.md for the measurements.
//
// Promise: EnforceOrder never changes a value any node computes, the
// graph's inputs, outputs or initializers; it only adds guard nodes (named
// "recompute/guard_order/…") whose outputs are empty tensors, zero scalars,
// shapes, or aliases (Reshape to the same shape) of existing values. A
// guard never reads a value that ORT's graph transformers may fuse away
// (fuse.go), so ORT fuses a guarded graph as it fuses the unguarded one,
// and none sits on the inputs of a MatMul ORT turns into a Gemm (Unguarded).
// FusedInputs tells the rewrite which producer-reader pairs a clone must not
// split.
package ortorder
