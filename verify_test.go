package recompute

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// TestORTOrder: ortOrder maps ORT's profile to a topological order of the
// model: nodes missing from the profile go just before their first reader,
// and a node ORT ran before its producer (after merging two Transposes,
// the second reads the first one's input) takes that producer with it.
func TestORTOrder(t *testing.T) {
	b := build.New("order")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{2, 3})
	b.Node("Relu", "r", []string{"x"}, []string{"r"})
	b.Node("Transpose", "t1", []string{"r"}, []string{"t1"})
	b.Node("Transpose", "t2", []string{"t1"}, []string{"t2"})
	b.Node("Neg", "n", []string{"t1"}, []string{"n"})
	b.Output("t2", onnxpb.TensorProto_FLOAT, []int64{2, 3})
	b.Output("n", onnxpb.TensorProto_FLOAT, []int64{3, 2})
	m := &onnx.Model{Proto: build.Model(b.G, 17)}
	for _, c := range []struct {
		name     string
		executed []string
		want     []int
	}{
		{"file order", []string{"r", "t1", "t2", "n"}, []int{0, 1, 2, 3}},
		{"a fused producer", []string{"r", "t2", "n"}, []int{0, 1, 2, 3}},
		{"a producer run late", []string{"r", "t2", "t1", "n"}, []int{0, 1, 2, 3}},
		{"ORT's own order", []string{"r", "t1", "n", "t2"}, []int{0, 1, 3, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ortOrder(m, c.executed); !slices.Equal(got, c.want) {
				t.Errorf("ortOrder(%v) = %v, want %v", c.executed, got, c.want)
			}
		})
	}
}

// What ORT held beyond the model: measured minus the simulated live
// tensors in ORT's order, and the part the buffer-reuse model leaves.
func TestVerifyBeyondModel(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		measured, order, alloc     int64
		wantBeyond, wantUnmodelled int64
	}{
		{"reuse explains part", 500, 300, 350, 200, 150},
		{"reuse explains all", 340, 300, 350, 40, 0},
		{"below the simulation", 280, 300, 350, 0, 0},
		{"no order simulated", 500, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := VerifyReport{Rewr: VerifyRun{PeakBytes: tc.measured}, OrderRewrBytes: tc.order, AllocRewrBytes: tc.alloc}
			r.beyondModel()
			if r.BeyondBytes != tc.wantBeyond || r.UnmodelledBytes != tc.wantUnmodelled {
				t.Errorf("beyond %d, unmodelled %d; want %d, %d", r.BeyondBytes, r.UnmodelledBytes, tc.wantBeyond, tc.wantUnmodelled)
			}
		})
	}
}

// Malformed verify options are *OptionError, named by their flag, and
// are refused before any model is read.
func TestVerifyOptionErrors(t *testing.T) {
	ok := VerifyOptions{Runs: 1}
	for _, tc := range []struct {
		edit func(*VerifyOptions)
		want string
	}{
		{func(o *VerifyOptions) { o.Runs = 0 }, "--runs"},
		{func(o *VerifyOptions) { o.TimeRounds = -2 }, "--time-rounds"},
		{func(o *VerifyOptions) { o.Session = "fast" }, "--session"},
		{func(o *VerifyOptions) { o.Optimize = "max" }, "--optimize"},
		{func(o *VerifyOptions) { o.Arena = "maybe" }, "--arena"},
		{func(o *VerifyOptions) { o.MemPattern = "x" }, "--mem-pattern"},
		{func(o *VerifyOptions) { o.Dims = []string{"n"} }, "--dim"},
		{func(o *VerifyOptions) { o.Batch = -1 }, "--batch"},
		{func(o *VerifyOptions) { o.Runtime = "gpu" }, "--runtime"},
	} {
		o := ok
		tc.edit(&o)
		rep, err := Verify("missing.onnx", "missing.onnx", o)
		var oe *OptionError
		if rep != nil || !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, %v; want an *OptionError naming it", tc.want, rep, err)
		}
	}
}
