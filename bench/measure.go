package bench

import "io"

// MeasureOptions configure the ONNX Runtime rows.
type MeasureOptions struct {
	ORTLib   string    // libonnxruntime path; "" = ort.LibraryPath's search
	Progress io.Writer // progress lines; nil discards
}

// Measure adds ONNX Runtime measurements of original and rewritten graphs to
// r. Not built yet: it records that in r.MeasureNote instead of numbers.
func Measure(r *Results, opt MeasureOptions) {
	r.MeasureNote = "--measure is not implemented yet in this build; no ONNX Runtime rows."
}
