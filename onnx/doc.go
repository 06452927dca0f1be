// Package onnx reads and writes ONNX models losslessly and offers a graph view
// (producers, consumers, topological order) of their computation graphs.
//
// It is the bottom of the pipeline and imports nothing else of this project.
// Promises: loading then saving an unchanged model gives the same bytes;
// external weight files are read only when a caller asks for a tensor's data;
// Save never leaves a partial file.
package onnx
