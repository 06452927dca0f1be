package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort"
)

// vtNeedORT skips when ONNX Runtime's library is absent.
func vtNeedORT(t *testing.T) {
	t.Helper()
	if _, err := ort.LibraryPath(""); err != nil {
		if errors.Is(err, ort.ErrNoLibrary) {
			testenv.Missing(t, "%s", ort.ErrNoLibrary.Error())
		}
		testenv.Missing(t, "%s", err.Error())
	}
}

// vtChain writes a small training-like graph: a = Relu(x) is read by a Sin
// chain and by a late consumer. clone adds a' = Relu(x) for that consumer,
// guarded (data guard of docs/ORT.md) so ORT runs it late; cos replaces one
// chain op to make the results differ.
func vtChain(t *testing.T, dir, name string, clone, cos bool) string {
	t.Helper()
	const rows, cols = 256, 1024 // 1 MiB tensors
	f32 := onnxpb.TensorProto_FLOAT
	b := build.New(name)
	b.Input("x", f32, []int64{rows, cols})
	b.Output("y", f32, []int64{})
	b.Output("d", f32, []int64{rows})
	b.Node("Relu", "fwd_relu", []string{"x"}, []string{"a"})
	prev := "a"
	for i := 1; i <= 6; i++ {
		op := "Sin"
		if cos && i == 3 {
			op = "Cos"
		}
		cur := fmt.Sprintf("c%d", i)
		b.Node(op, "chain"+cur, []string{prev}, []string{cur})
		prev = cur
	}
	late := "a"
	if clone {
		b.Initializer(build.Int64s("g_zero", []int64{1}, []int64{0}))
		b.Initializer(build.Int64s("g_flat", []int64{1}, []int64{-1}))
		b.Node("Shape", "recompute/guard/shape", []string{"x"}, []string{"g_sx"})
		b.Node("Reshape", "recompute/guard/flat", []string{prev, "g_flat"}, []string{"g_gf"})
		b.Node("Slice", "recompute/guard/slice", []string{"g_gf", "g_zero", "g_zero"}, []string{"g_e"})
		b.Node("Cast", "recompute/guard/cast", []string{"g_e"}, []string{"g_empty"}, build.AttrInt("to", int64(onnxpb.TensorProto_INT64)))
		b.Node("Concat", "recompute/guard/concat", []string{"g_sx", "g_empty"}, []string{"g_shape"}, build.AttrInt("axis", 0))
		b.Node("Reshape", "recompute/guard/reshape", []string{"x", "g_shape"}, []string{"x_guarded"})
		b.Node("Relu", "fwd_relu_rc1", []string{"x_guarded"}, []string{"a_rc1"})
		late = "a_rc1"
	}
	b.Node("Einsum", "bwd_dot", []string{prev, late}, []string{"d"}, build.AttrString("equation", "ij,ij->i"))
	b.Node("ReduceSum", "bwd_sum", []string{"d"}, []string{"y"}, build.AttrInt("keepdims", 0))
	path := filepath.Join(dir, name+".onnx")
	if err := (&onnx.Model{Proto: build.Model(b.G, 17)}).Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerify(t *testing.T) {
	vtNeedORT(t)
	dir := t.TempDir()
	orig := vtChain(t, dir, "orig", false, false)
	same := vtChain(t, dir, "rewritten", true, false)
	bad := vtChain(t, dir, "bad", true, true)

	// ONNX Runtime's default session options, as users run the model.
	code, out, errOut := mtRun("verify", orig, same, "--runs", "1")
	if code != 0 {
		t.Fatalf("verify orig rewritten: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"outputs: 2 of 2 bit-identical", "graph optimisations all, arena and memory pattern on", "ORT's CPU arena on", "of which the first run",
		"time (median of 1 rounds)", "time: both models in one process, 2 warm-up runs each, then 1 rounds"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify (ORT's defaults) output lacks %q:\n%s", want, out)
		}
	}
	// The controlled setting: memory follows liveness.
	code, out, errOut = mtRun("verify", orig, same, "--runs", "1", "--session", "controlled", "--time-rounds", "0")
	if code != 0 {
		t.Fatalf("verify --session controlled: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"outputs: 2 of 2 bit-identical", "measured peak (RSS growth)", "clones: 1 in the model, 1 ran; 1 after every other reader of their original",
		"graph optimisations off", "MALLOC_MMAP_THRESHOLD_=131072", "time (median of 1 runs)", "(--time-rounds 0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}

	// The clone without its guard: ORT runs it first; verify says so.
	unguarded := vtChain(t, dir, "unguarded", true, false)
	m, err := onnx.Load(unguarded)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Proto.Graph.Node {
		if n.GetName() == "fwd_relu_rc1" {
			n.Input[0] = "x"
		}
	}
	if err := m.Save(unguarded); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = mtRun("verify", orig, unguarded, "--runs", "1", "--session", "controlled")
	if code != 0 || !strings.Contains(out, "1 ran; 0 after every other reader") || !strings.Contains(out, "note: ORT is predicted to run 1 nodes") ||
		!strings.Contains(out, "ran too early (ORT's order; see docs/ORT.md for guards): [fwd_relu_rc1]") {
		t.Errorf("unguarded clone: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = mtRun("verify", orig, bad, "--runs", "1", "--json")
	if code != 1 {
		t.Fatalf("verify orig bad: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "2 of 2 outputs differ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q, want one line saying 2 of 2 outputs differ", errOut)
	}
	var rep recompute.VerifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if rep.Identical != 0 || len(rep.Outputs) != 2 || rep.Outputs[1].MaxAbs <= 0 || rep.Outputs[1].MaxRel <= 0 || rep.Orig.PeakBytes <= 0 {
		t.Errorf("report %+v", rep)
	}
	// The models compute different things: the difference is not ORT's.
	if !strings.HasPrefix(rep.Cause, "not graph optimisation") {
		t.Errorf("difference_cause %q, want it to rule out graph optimisation", rep.Cause)
	}
}

func TestVerifyBadCalls(t *testing.T) {
	dir := t.TempDir()
	orig := vtChain(t, dir, "orig", false, false)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"verify", orig}, 2, "ORIG and REWRITTEN"},
		{[]string{"verify", orig, orig, "--runs", "0"}, 2, "--runs"},
		{[]string{"verify", orig, orig, "--time-rounds", "-2"}, 2, "--time-rounds"},
		{[]string{"verify", orig, orig, "--optimize", "max"}, 2, "--optimize"},
		{[]string{"verify", orig, orig, "--session", "fast"}, 2, "--session"},
		{[]string{"verify", orig, orig, "--arena", "maybe"}, 2, "--arena"},
		{[]string{"verify", orig, orig, "--mem-pattern", "x"}, 2, "--mem-pattern"},
		{[]string{"verify", orig, orig, "--ort-lib", filepath.Join(dir, "missing.so")}, 1, "missing.so"},
		{[]string{"verify", orig, filepath.Join(dir, "nope.onnx")}, 1, "nope.onnx"},
	} {
		code, out, errOut := mtRun(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q (stdout %q); want exit %d and one line with %q", tc.args[1:], code, errOut, out, tc.code, tc.want)
		}
	}
}

// TestVerifyInputsFile feeds inputs from an ONNX test-data directory and
// compares a model with itself.
func TestVerifyInputsFile(t *testing.T) {
	vtNeedORT(t)
	dir := "/usr/share/libonnx-testdata/data/node/test_add_bcast"
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "%s", "libonnx-testdata absent (apt-get install libonnx-testdata)")
	}
	model := filepath.Join(dir, "model.onnx")
	code, out, errOut := mtRun("verify", model, model, "--inputs", filepath.Join(dir, "test_data_set_0"), "--runs", "1")
	if code != 0 || !strings.Contains(out, "outputs: 1 of 1 bit-identical") || !strings.Contains(out, "test_data_set_0") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	// The inputs really came from the file: the output equals output_0.pb.
	in, err := ort.ReadInputs(filepath.Join(dir, "test_data_set_0"), nil)
	if err != nil || len(in) != 2 {
		t.Fatalf("ReadInputs: %v, %d tensors", err, len(in))
	}
	outs, _, err := ort.Run(model, in, nil, ort.DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	want, err := ort.ReadInputs(filepath.Join(dir, "test_data_set_0", "output_0.pb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := ort.Compare(&want[0], &outs[0]); !d.Identical {
		t.Errorf("output differs from output_0.pb: %+v", d)
	}
}
