// Package onnx reads and writes ONNX models losslessly and offers a graph view
// (producers, consumers, topological order) of their computation graphs.
//
// It is the bottom of the pipeline and imports nothing else of this project
// (only the generated onnx/onnxpb types).
//
// Promises:
//   - Load then Save of an unchanged model gives the same bytes; fields this
//     package does not know survive as unknown fields. Tested on every corpus
//     model and every libonnx-testdata model.
//   - External weight files are opened only when a caller asks for a tensor's
//     data (TensorBytes); a missing one is an error only then. Save keeps
//     external references as they were.
//   - Save writes a temporary file beside the target and renames it; it never
//     leaves a partial file. StopSaves (for a signal handler) removes the
//     temporary files of saves in flight and stops their renames;
//     RemoveStaleTemps removes those of processes that were killed.
//   - Large initializer data is not copied: Load points RawData into the file
//     buffer and Save writes it from there (bigdata.go).
//   - NewView fails with a message naming the node for a cycle, a value with
//     no producer, or a value written twice; its Order is the file order
//     whenever the file is topologically sorted.
//   - Bad input never panics (FuzzDecode).
package onnx
