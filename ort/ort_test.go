package ort

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

func floats(name string, v ...float32) Tensor {
	t := Tensor{Name: name, Elem: f32, Dims: []int64{int64(len(v))}, Data: make([]byte, 4*len(v))}
	for i, x := range v {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(x))
	}
	return t
}

func TestCompare(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name            string
		a, b            Tensor
		identical       bool
		differing       int64
		maxAbs, maxRel  float64
		reasonSubstring string
	}{
		{"same", floats("y", 1, 2, 3), floats("y", 1, 2, 3), true, 0, 0, 0, ""},
		{"same NaN bits", floats("y", nan), floats("y", nan), true, 0, 0, 0, ""},
		{"one element", floats("y", 1, 2, 4), floats("y", 1, 2, 3), false, 1, 1, 0.25, ""},
		{"signed zero", floats("y", 0), floats("y", float32(math.Copysign(0, -1))), false, 1, 0, 0, ""},
		{"NaN vs number", floats("y", nan), floats("y", 1), false, 1, math.Inf(1), math.Inf(1), ""},
		{"shape", floats("y", 1, 2), floats("y", 1, 2, 3), false, 0, 0, 0, "shape"},
		{"type", floats("y", 1), Tensor{Name: "y", Elem: i64, Dims: []int64{1}, Data: make([]byte, 8)}, false, 0, 0, 0, "element type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Compare(&tc.a, &tc.b)
			if d.Identical != tc.identical || d.Differing != tc.differing {
				t.Fatalf("Compare = %+v, want identical=%v differing=%d", d, tc.identical, tc.differing)
			}
			if !tc.identical && tc.reasonSubstring == "" && (math.Abs(d.MaxAbs-tc.maxAbs) > 1e-9 && !(math.IsInf(d.MaxAbs, 1) && math.IsInf(tc.maxAbs, 1)) ||
				math.Abs(d.MaxRel-tc.maxRel) > 1e-9 && !(math.IsInf(d.MaxRel, 1) && math.IsInf(tc.maxRel, 1))) {
				t.Errorf("MaxAbs, MaxRel = %g, %g; want %g, %g", d.MaxAbs, d.MaxRel, tc.maxAbs, tc.maxRel)
			}
			if tc.reasonSubstring != "" && !contains(d.Reason, tc.reasonSubstring) {
				t.Errorf("Reason = %q, want it to mention %q", d.Reason, tc.reasonSubstring)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

func TestParseProfile(t *testing.T) {
	// Shape of ORT 1.30's profile: session events, then per node
	// fence/kernel_time events inside a model_run; only the last run counts.
	data := []byte(`[
{"cat":"Session","pid":1,"tid":1,"dur":10,"ts":1,"ph":"X","name":"model_loading_uri","args":{}},
{"cat":"Node","pid":1,"tid":1,"dur":1,"ts":20,"ph":"X","name":"old_kernel_time","args":{"op_name":"Relu"}},
{"cat":"Session","pid":1,"tid":1,"dur":30,"ts":15,"ph":"X","name":"model_run","args":{}},
{"cat":"Node","pid":1,"tid":1,"dur":1,"ts":60,"ph":"X","name":"b_fence_before","args":{"op_name":"Relu"}},
{"cat":"Node","pid":1,"tid":1,"dur":1,"ts":61,"ph":"X","name":"b_kernel_time","args":{"op_name":"Relu"}},
{"cat":"Node","pid":1,"tid":1,"dur":1,"ts":70,"ph":"X","name":"a_rc1_kernel_time","args":{"op_name":"Add"}},
{"cat":"Node","pid":1,"tid":1,"dur":1,"ts":65,"ph":"X","name":"c_kernel_time","args":{"op_name":"Add"}},
{"cat":"Session","pid":1,"tid":1,"dur":30,"ts":55,"ph":"X","name":"model_run","args":{}}
]`)
	got, err := ParseProfile(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "c", "a_rc1"}; !slices.Equal(got, want) {
		t.Errorf("ParseProfile = %v, want %v", got, want)
	}
	if _, err := ParseProfile([]byte("{not json")); err == nil {
		t.Error("ParseProfile accepted garbage")
	}
}

func TestRandomInputs(t *testing.T) {
	b := build.New("emb")
	b.Input("ids", i64, []int64{-1, 16}, "batch")
	b.Input("labels", i64, []int64{-1}, "batch")
	b.Input("x", f32, []int64{2, 3})
	b.Input("running_var", f32, []int64{3})
	b.Initializer(build.Float32s("table", []int64{7, 5}, make([]float32, 35)))
	b.Initializer(build.Float32s("w", []int64{5, 11}, make([]float32, 55)))
	b.Node("Gather", "emb", []string{"table", "ids"}, []string{"e"})
	b.Node("ReduceMean", "pool", []string{"e"}, []string{"p"}, build.AttrInts("axes", 1), build.AttrInt("keepdims", 0))
	b.Node("MatMul", "fc", []string{"p", "w"}, []string{"logits"})
	b.Node("SoftmaxCrossEntropyLoss", "loss", []string{"logits", "labels"}, []string{"l"})
	b.Output("l", f32, nil)
	m := &onnx.Model{Proto: build.Model(b.G, 17)}
	opt := InputOptions{Seed: 7, Dims: map[string]int64{"batch": 4}}
	in, err := RandomInputs(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := RandomInputs(m, opt)
	other, _ := RandomInputs(m, InputOptions{Seed: 8, Dims: opt.Dims})
	if len(in) != 4 {
		t.Fatalf("got %d inputs, want 4 (initializers are not inputs)", len(in))
	}
	bounds := map[string]int64{"ids": 7, "labels": 11}
	for i, x := range in {
		if err := x.Check(); err != nil {
			t.Fatal(err)
		}
		if !Compare(&x, &again[i]).Identical {
			t.Errorf("%s: not deterministic", x.Name)
		}
		if Compare(&x, &other[i]).Identical {
			t.Errorf("%s: seed does not matter", x.Name)
		}
		seen := map[float64]bool{}
		for k := int64(0); k < x.NumElements(); k++ {
			v := x.Float64At(k)
			seen[v] = true
			switch {
			case bounds[x.Name] > 0 && (v < 0 || v >= float64(bounds[x.Name]) || v != math.Trunc(v)):
				t.Errorf("%s[%d] = %v, want an integer in [0,%d)", x.Name, k, v, bounds[x.Name])
			case x.Name == "x" && (v < -1 || v >= 1):
				t.Errorf("x[%d] = %v, want [-1,1)", k, v)
			case x.Name == "running_var" && (v < 0.5 || v >= 1.5):
				t.Errorf("running_var[%d] = %v, want [0.5,1.5)", k, v)
			}
		}
		if len(seen) < 2 {
			t.Errorf("%s: all elements equal", x.Name)
		}
	}
	if !slices.Equal(in[0].Dims, []int64{4, 16}) {
		t.Errorf("ids dims = %v, want [4 16] from --dim batch=4", in[0].Dims)
	}
}

func TestLibraryPath(t *testing.T) {
	dir := t.TempDir()
	lib := dir + "/libonnxruntime.so.1"
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := LibraryPath(lib); err != nil || p != lib {
		t.Errorf("LibraryPath(flag) = %q, %v", p, err)
	}
	if _, err := LibraryPath(dir + "/missing.so"); err == nil {
		t.Error("LibraryPath accepted a missing file")
	}
	t.Setenv(EnvLibrary, lib)
	if p, err := LibraryPath(""); err != nil || p != lib {
		t.Errorf("LibraryPath from $%s = %q, %v", EnvLibrary, p, err)
	}
}

// TestRunIdenticalAndMismatch: recomputation gives bit-identical outputs;
// a real change (Sin for Cos in one op) is caught with its size.
func TestRunIdenticalAndMismatch(t *testing.T) {
	needLib(t)
	const rows, cols = 64, 128
	plain := chainModel(t, chainPlain, rows, cols, "Sin", "add")
	rc := chainModel(t, chainGuarded, rows, cols, "Sin", "add")
	m, err := onnx.Load(plain)
	if err != nil {
		t.Fatal(err)
	}
	in, err := RandomInputs(m, InputOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := Run(plain, in, nil, DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, st, err := Run(rc, in, nil, Options{Threads: 1, DisableAllOptimizations: true, Profile: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || a[0].Name != "y" || a[0].Dims != nil || len(a[0].Data) != 4 {
		t.Fatalf("plain outputs = %+v, want the scalar y", a)
	}
	if d := Compare(&a[0], &b[0]); !d.Identical {
		t.Errorf("recomputed model differs: %+v", d)
	}
	if i := slices.Index(st.NodeOrder, "fwd_relu_rc0"); i < slices.Index(st.NodeOrder, "chain8") {
		t.Errorf("guarded clone ran at %d, before chain8: %v", i, st.NodeOrder)
	}

	// Mutate one chain op.
	mm, _ := onnx.Load(rc)
	for _, n := range mm.Proto.Graph.Node {
		if n.GetName() == "chain3" {
			n.OpType = ptr("Cos")
		}
	}
	bad := t.TempDir() + "/bad.onnx"
	if err := mm.Save(bad); err != nil {
		t.Fatal(err)
	}
	c, _, err := Run(bad, in, []string{"y"}, DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := Compare(&a[0], &c[0])
	if d.Identical || d.Differing != 1 || !(d.MaxAbs > 0) || !(d.MaxRel > 0) {
		t.Errorf("mutated model: %+v, want a difference", d)
	}
}

func ptr[T any](v T) *T { return &v }

// TestSessionReuse runs a session several times (the finite-difference use).
func TestSessionReuse(t *testing.T) {
	needLib(t)
	b := build.New("affine")
	b.Input("x", f32, []int64{3})
	b.Initializer(build.Float32s("w", []int64{3}, []float32{1, 2, 3}))
	b.Node("Mul", "mul", []string{"x", "w"}, []string{"y"})
	b.Output("y", f32, []int64{3})
	path := save(t, b, "affine")
	s, err := NewSession(path, nil, nil, DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k := float32(1); k <= 3; k++ {
		out, err := s.Run([]Tensor{floats("x", k, k, k)})
		if err != nil {
			t.Fatal(err)
		}
		want := floats("y", k, 2*k, 3*k)
		if d := Compare(&want, &out[0]); !d.Identical {
			t.Errorf("run %v: %+v", k, d)
		}
	}
	if _, err := s.Run(nil); err == nil {
		t.Error("Run without inputs succeeded")
	}
}

// TestMeasurePeak checks the measurement against tensors of known size:
// Sin never runs in place (two live 16 MiB tensors), Relu does (one).
func TestMeasurePeak(t *testing.T) {
	lib := needLib(t)
	const mib = 1 << 20
	for _, tc := range []struct {
		op      string
		k       int
		wantMiB float64
	}{{"Sin", 1, 16}, {"Sin", 3, 32}, {"Relu", 3, 16}} {
		b := build.New("d")
		b.Input("x", f32, []int64{1024, 4096})
		b.Output("y", f32, []int64{})
		prev := "x"
		for i := 0; i < tc.k; i++ {
			cur := fmt.Sprintf("c%d", i)
			b.Node(tc.op, cur, []string{prev}, []string{cur})
			prev = cur
		}
		b.Node("ReduceSum", "sum", []string{prev}, []string{"y"}, build.AttrInt("keepdims", 0))
		path := save(t, b, "d")
		in := seededInputs(t, path)
		_, st, err := Measure(path, in, nil, MeasureOptions{Session: DefaultCheckOptions(), LibPath: lib, Runs: 2})
		if err != nil {
			t.Fatal(err)
		}
		got := float64(st.PeakRSSGrowthBytes) / mib
		t.Logf("%s x%d: %.1f MiB (%v), %s", tc.op, tc.k, got, st.RunPeakBytes, st.Method)
		if got < tc.wantMiB*0.95 || got > tc.wantMiB+4 {
			t.Errorf("%s x%d: peak growth %.1f MiB, want about %.0f MiB", tc.op, tc.k, got, tc.wantMiB)
		}
		if !st.Deterministic || len(st.RunSeconds) != 2 || st.Seconds <= 0 {
			t.Errorf("stats %+v", st)
		}
	}
}

var _ = onnxpb.TensorProto_FLOAT
