// Package rewrite applies a recomputation plan to an ONNX training graph: it
// is the stage after planner and before the model is written (see DESIGN.md,
// "Rewrite invariants").
//
// Apply walks the plan's schedule. The first computation of a node emits the
// original node object unchanged; a later computation of a forward node emits
// a clone whose outputs are renamed "<name>_rc<k>" (k = recompute round) and
// whose inputs read the current instance of each value; backward nodes are
// rewired to the current instances; forward nodes keep reading the originals.
// Node order is the schedule order. ONNX Runtime does not run nodes in file
// order; with Options.ORTGuard, Apply predicts its order (ort/ortorder) and,
// if the predicted order peaks higher than the file order, adds ordering
// guards until ONNX Runtime's order is the file order (guard.go), and first
// adjusts the schedule so that no clone splits a pair of nodes ORT fuses in
// the input: such a clone is left out or gets its producer recomputed with
// it, never raising the schedule's replayed peak (fused.go).
//
// Promises: the input model is never modified, and the output shares the input's
// initializers, attributes and every field it does not change (nothing is
// copied byte for byte, so nothing can drift); non-recomputable nodes (random,
// side-effecting, with subgraphs) are never cloned; every new value has a
// unique name and, when the original's type is known, a value_info; the result
// is topologically sorted (checked) and its node order is replayed under the
// memory semantics of DESIGN.md to report the simulated transient peak beside
// the planner's prediction; what was done is recorded in metadata_props under
// keys prefixed "recompute.".
package rewrite
