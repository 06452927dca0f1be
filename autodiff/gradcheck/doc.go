// Package gradcheck verifies a training graph made by autodiff on ONNX
// Runtime: it runs the graph once on deterministic random inputs for the
// loss and the analytic gradients, then compares sampled gradient
// coordinates with central finite differences of the same graph's loss
// output, with the parameters fed as inputs so one session serves every
// evaluation.
//
// Promise: Check never modifies the model; a Result with OK()==false means a
// sampled coordinate disagreed beyond the stated tolerance. Numbers are
// float32 (ORT's CPU kernels); the error metric and its floors are
// documented on Result.
//
// Stage: after autodiff.Build (the grad command's --check); it never feeds
// the planner. Substitutions it makes in its private copies, and only there:
// initializers whose external data is absent and ConstantOfShape weight
// placeholders get random values of the same shape; Dropout is replaced by
// its formula with the mask of the analytic run, for the finite differences.
package gradcheck
