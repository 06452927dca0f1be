package ort

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

// TestWorkspaceMatchesORT runs single ops in ORT (controlled session: one
// thread, no graph optimisation, no arena, so that each allocation is its
// own mapping) and checks onnx/ops' kernel workspace table against the
// measured peak growth less the outputs (handed to ORT preallocated, so
// their pages count as ORT writes them). The inputs are fed before the run
// and do not count.
func TestWorkspaceMatchesORT(t *testing.T) {
	lib := needLib(t)
	const mib = 1 << 20
	type in struct {
		name string
		elem onnxpb.TensorProto_DataType
		dims []int64
	}
	bool8 := onnxpb.TensorProto_BOOL
	cases := []struct {
		name   string
		op     string
		ins    []in
		out    []int64
		attrs  []*onnxpb.AttributeProto
		wantWS bool // the table gives a workspace of at least 1 MiB
	}{
		{"where same shapes", "Where", []in{{"c", bool8, []int64{8, 64, 56, 56}}, {"x", f32, []int64{8, 64, 56, 56}}, {"y", f32, []int64{8, 64, 56, 56}}}, []int64{8, 64, 56, 56}, nil, true},
		{"where scalar zero", "Where", []in{{"c", bool8, []int64{8, 64, 56, 56}}, {"x", f32, []int64{8, 64, 56, 56}}, {"y", f32, nil}}, []int64{8, 64, 56, 56}, nil, true},
		{"where broadcast mask", "Where", []in{{"c", bool8, []int64{1, 1, 56, 56}}, {"x", f32, []int64{8, 64, 56, 56}}, {"y", f32, []int64{1}}}, []int64{8, 64, 56, 56}, nil, true},
		{"scatter elements", "ScatterElements", []in{{"d", f32, []int64{4 << 20}}, {"i", i64, []int64{1 << 20}}, {"u", f32, []int64{1 << 20}}}, []int64{4 << 20}, nil, true},
		{"conv expanded (filters > pixels)", "Conv", []in{{"x", f32, []int64{2, 512, 16, 16}}, {"w", f32, []int64{1024, 512, 3, 3}}}, []int64{2, 1024, 16, 16},
			[]*onnxpb.AttributeProto{build.AttrInts("pads", 1, 1, 1, 1)}, true},
		{"conv segmented", "Conv", []in{{"x", f32, []int64{8, 64, 56, 56}}, {"w", f32, []int64{64, 64, 3, 3}}}, []int64{8, 64, 56, 56},
			[]*onnxpb.AttributeProto{build.AttrInts("pads", 1, 1, 1, 1)}, false},
		{"conv pointwise", "Conv", []in{{"x", f32, []int64{8, 256, 28, 28}}, {"w", f32, []int64{64, 256, 1, 1}}}, []int64{8, 64, 28, 28}, nil, false},
		{"conv transpose", "ConvTranspose", []in{{"x", f32, []int64{2, 256, 32, 32}}, {"w", f32, []int64{256, 128, 3, 3}}}, []int64{2, 128, 32, 32},
			[]*onnxpb.AttributeProto{build.AttrInts("pads", 1, 1, 1, 1)}, true},
		{"conv transpose strided", "ConvTranspose", []in{{"x", f32, []int64{4, 128, 28, 28}}, {"w", f32, []int64{128, 64, 3, 3}}}, []int64{4, 64, 56, 56},
			[]*onnxpb.AttributeProto{build.AttrInts("pads", 1, 1, 1, 1), build.AttrInts("strides", 2, 2), build.AttrInts("output_padding", 1, 1)}, true},
		{"relu (none)", "Relu", []in{{"x", f32, []int64{8, 64, 56, 56}}}, []int64{8, 64, 56, 56}, nil, false},
		{"sign (none)", "Sign", []in{{"x", f32, []int64{8, 64, 56, 56}}}, []int64{8, 64, 56, 56}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := build.New("one")
			var names []string
			for _, x := range c.ins {
				b.Input(x.name, x.elem, x.dims)
				names = append(names, x.name)
			}
			b.Node(c.op, "n", names, []string{"out"}, c.attrs...)
			b.Output("out", f32, c.out)
			path := save(t, b, "one")
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ops.Infer(m, ops.Options{})
			if err != nil {
				t.Fatal(err)
			}
			table := ops.Workspace(m.Proto.GetGraph().GetNode()[0], r)
			outBytes, ok := r.Values["out"].Bytes()
			if !ok {
				t.Fatalf("output shape not inferred: %v", r.Values["out"])
			}
			_, st, err := Measure(path, seededInputs(t, path), nil, MeasureOptions{LibPath: lib, Runs: 1, PreallocateOutputs: true,
				Session: Options{Threads: 1, DisableAllOptimizations: true, ArenaOff: true}})
			if err != nil {
				t.Fatal(err)
			}
			measured := st.PeakRSSGrowthBytes - outBytes
			t.Logf("%s: table %.2f MiB, measured %.2f MiB (growth %.2f MiB, output %.2f MiB)", c.name,
				float64(table)/mib, float64(measured)/mib, float64(st.PeakRSSGrowthBytes)/mib, float64(outBytes)/mib)
			if c.wantWS != (table >= mib) {
				t.Errorf("table gives %d B; want a workspace of at least 1 MiB: %v", table, c.wantWS)
			}
			// The RSS counts pages and the process's own small allocations:
			// allow half a MiB and 10%.
			if d := measured - table; d > mib/2+table/10 || -d > mib/2+table/10 {
				t.Errorf("measured workspace %d B, table %d B", measured, table)
			}
		})
	}
}
