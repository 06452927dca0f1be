// Package models builds the forward ONNX graphs of the benchmark networks of
// PAPER.md §8: resnet50, resnet101, resnet152, vgg19, densenet161, googlenet,
// unet, pspnet and gpt2 (the table in models.go lists them). It sits at the
// start of the pipeline: `grad` feeds its models to autodiff, `bench` plans
// the resulting training graphs. It imports only onnx and onnx/build.
//
// Promise: every model is opset 17, default domain, standard ops only, with
// full static shapes on its input ("input", float32 NCHW; gpt2 "input_ids",
// int64 [batch, seq]) and its one output "logits" (classifiers [batch, 1000];
// unet [batch, 2, 388, 388] at 572; pspnet [batch, 21, 713, 713]; gpt2
// [batch, seq, 50257]), and passes onnx.checker.check_model(full_check=True).
// Parameter counts equal the torchvision / Hugging Face references (see
// models_test.go). Build is deterministic: the same options give the same
// bytes. An input size a network cannot take is an error, never a panic.
//
// Choices the consumers rely on:
//
//   - Trainable parameters are exactly the float initializers. Everything
//     else that is constant is not a float initializer: shapes, slice bounds,
//     positions and indices are int64 initializers; scalars (GELU, attention
//     scale, mask fill) and adaptive-pooling matrices are Constant nodes.
//   - BatchNormalization is written in inference form (one output, no
//     training_mode) with learned scale and bias initializers; its running
//     mean (0) and variance (1) are ConstantOfShape outputs, shared per
//     channel count, so they are not trainable. autodiff converts BN to
//     training mode. The last BN of each ResNet residual branch starts at
//     scale 0.5 so that inference-mode activations stay moderate at depth.
//   - Weights are seeded pseudo-random (splitmix64 per tensor, seeded from the
//     tensor name): conv and hidden linear weights uniform with He variance
//     2/fan_in, final classifiers 1/fan_in, biases uniform ±1/sqrt(fan_in),
//     BN and LayerNorm scale 1 and bias 0, GPT-2 weights uniform with std 0.02
//     and zero biases. Bytes are written directly into raw_data, on all cores.
//   - NoWeights keeps every float initializer with its name, type and dims,
//     but marks it as external data in a file named NoWeightsLocation
//     ("NO_WEIGHTS") that is never written. The file is tiny, initializers
//     stay initializers (so autodiff still sees the same trainable
//     parameters and the planner the same resident bytes), but it cannot be
//     run, and onnx.checker rejects it for the missing file; onnx.TensorBytes
//     on such a tensor fails.
//   - unet takes one input channel (grayscale, as in the original paper);
//     the other image networks take three.
//   - No Dropout anywhere (deterministic graphs; dropout has no parameters).
//   - gpt2's LM head is tied to the token embedding "wte" (Gemm transB=1), so
//     "wte" is read twice and its gradient has two terms. Its logits are
//     [batch, seq, vocab]: the class axis is the last one, not axis 1.
package models
