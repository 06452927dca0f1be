package ops

import "github.com/onnx-recompute/recompute/onnx"

// Hooks for the external test package (ops_test), which may import
// packages that themselves import ops (autodiff, models).

// InferRulesOnly is Infer without the file's value_info: the rules alone.
var InferRulesOnly = func(m *onnx.Model, opt Options) (*Result, error) { return infer(m, opt, false) }

// ReferenceShapesForTest runs testdata/refshapes.py.
var ReferenceShapesForTest = referenceShapes

// RequireOnnxPython skips when /usr/bin/python3 cannot import onnx.
var RequireOnnxPython = requireOnnxPython

// EqualDims compares dims.
var EqualDims = equalDims
