// Package ops is what the tool knows about each ONNX operator: shape,
// element-type and byte-size inference, a FLOPs estimate, and whether a node
// may be recomputed. It also splits a training graph into its forward and
// backward parts.
//
// It sits between package onnx (which only reads and writes models) and the
// planner (which needs bytes and costs per value and op). Each op family lives
// in one file (conv.go, pool.go, norm.go, …) and registers one entry per op
// with every facet filled in; registry_test.go checks that.
//
// Promise: Infer never fails because of an op it does not know or a shape it
// cannot work out. Such an op is listed in Result.Unknown, its outputs take
// the type recorded in the file's value_info (when there is one) or stay
// unknown (Rank -1, Bytes reports false), and inference carries on. Only a
// malformed model (no graph) is an error. The package never modifies the
// model it is given.
package ops
