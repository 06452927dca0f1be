// Package ort is the bridge to ONNX Runtime (the real runtime): it runs a
// model on given or random inputs, compares outputs bit for bit, measures a
// run's peak memory and time, and reads ORT's profile for the executed node
// order. It sits beside the pipeline, used by `verify`, `grad --check` and
// tests; nothing else depends on it, and everything else works without it.
//
// The shared library comes from the npm package onnxruntime-node
// (scripts/fetch-ort.sh puts it at .ort/libonnxruntime.so.1); LibraryPath
// finds it from a flag, $ONNXRUNTIME_LIB or that file, and Init loads it once
// per process through github.com/yalue/onnxruntime_go (cgo, dlopen; that
// module speaks ORT C API version 24, which ORT 1.30 serves).
//
// Promises:
//   - Sessions made with DefaultCheckOptions are reproducible: one thread,
//     sequential execution, graph optimisations off (so common-subexpression
//     elimination cannot merge clones back into their originals), CPU arena
//     and memory pattern off (every tensor is its own allocation, so memory
//     follows liveness).
//   - Measure runs a model in a fresh child process (the calling program
//     must call ServeChild first thing) with MALLOC_MMAP_THRESHOLD_=131072,
//     so a freed tensor leaves the resident set at once, and reports the
//     peak RSS growth during Run over the level right before it (VmHWM reset
//     through /proc/self/clear_refs), after one warm-up run; times are the
//     median of the measured runs.
//   - Models are never modified; a copy is written to a temporary directory
//     only when onnxruntime_go needs it (rank-0 inputs/outputs, unnamed
//     nodes; see Prepare), and removed afterwards.
//   - No panic crosses the package boundary; errors name the model.
//
// ORT does not run nodes in file order. Subpackage ortorder (pure Go)
// predicts ORT's order and pins it to the file order with zero-cost guards;
// without that, a rewritten training graph keeps its peak in ORT even when
// every clone runs late (weight gradients are deferred to the end).
// Findings and measurements (TestChainExperiment, TestEnforceOrder,
// TestPredictOrder, ResNet-50 through verify) are in docs/ORT.md.
package ort
