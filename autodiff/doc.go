// Package autodiff turns a forward ONNX model into a training graph: it
// appends a loss and the backward graph, written in standard ONNX operators
// of the default domain only, so that any ONNX runtime (including ONNX
// Runtime builds without training kernels) can run it.
//
// Stage: model zoo / built-in forward model → autodiff.Build → training graph
// that the planner and rewrite consume (DESIGN.md "Training graphs the tool
// must accept", kind 2).
//
// Promise of Build, on success:
//   - the result is a new model at opset 17, IR version 8 (what the Debian
//     onnx checker and ONNX Runtime accept); forward nodes of older or newer
//     opsets are converted to their opset-17 form, or Build fails naming the
//     op and the node;
//   - its outputs are the loss ("loss") followed by "<param>_grad" for every
//     trainable parameter, in initializer order. Trainable = a floating-point
//     initializer read at a differentiable input of a forward node that
//     influences the loss. Tensors made by Constant or ConstantOfShape nodes
//     and integer initializers are never trainable. A model with no trainable
//     initializer (e.g. the ONNX zoo's light_* files, whose weights are
//     ConstantOfShape nodes) gets the gradients of its floating-point graph
//     inputs read at differentiable positions instead ("<input>_grad"), so
//     it can still be checked;
//   - BatchNormalization runs in training mode (batch statistics), written
//     as primitive ops (ReduceMean, Sub, Mul, Sqrt, Reciprocal) because ONNX
//     Runtime's inference build rejects training_mode=1; its running
//     mean/var inputs are left unused. Dropout runs in training mode with a
//     fixed seed and its mask output is what the backward reads;
//   - Gelu (opset 20) is written as opset-17 primitives (Erf or Tanh form),
//     Mish (opset 18) as x·tanh(softplus(x));
//     old-opset attributes become inputs (Clip, Squeeze, Split, ReduceSum,
//     Pad, Slice, Dropout, Upsample→Resize); legacy broadcast (opset < 7) is
//     refused;
//   - initializer protos are shared with the input model, never copied;
//   - each backward node reads only the forward values its op's gradient
//     needs (the planner relies on exactly this), gradients of a value with
//     several consumers are accumulated with Sum (a MaxUnpool contribution
//     is added into the others by ScatterElements instead), a Conv reading a
//     channel Concat that nothing else reads takes its gradient through the
//     Concat's parts, and names are readable:
//     "<value>_grad" for an accumulated gradient, "Grad/<node>/..." for
//     backward nodes and their temporaries.
//
// An op without a gradient rule stops Build with an error naming the op and
// the node; nothing is returned. Static shapes are needed (they come from
// onnx/ops.Infer; dynamic dims must be fixed by the caller, e.g. --batch).
//
// Gradient rules live one file per op family (conv.go, pool.go, norm.go, …);
// rules.go is the single table that lists them. Package gradcheck checks a
// training graph against finite differences on ONNX Runtime; its TestOps
// checks every rule alone.
package autodiff
