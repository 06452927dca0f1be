package models

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
)

// trainableParams counts the elements of the float initializers, which is
// what autodiff treats as trainable.
func trainableParams(m *onnx.Model) int64 {
	var p int64
	for _, t := range m.Proto.Graph.Initializer {
		if onnxpb.TensorProto_DataType(t.GetDataType()) == onnxpb.TensorProto_FLOAT {
			p += numel(t.Dims)
		}
	}
	return p
}

func opCounts(m *onnx.Model) map[string]int {
	c := map[string]int{}
	for _, n := range m.Proto.Graph.Node {
		c[n.GetOpType()]++
	}
	return c
}

func outputDims(m *onnx.Model) []int64 {
	var d []int64
	for _, x := range m.Proto.Graph.Output[0].GetType().GetTensorType().GetShape().GetDim() {
		d = append(d, x.GetDimValue())
	}
	return d
}

// The references: torchvision's parameter counts (googlenet without aux
// heads, with BN), Hugging Face GPT-2 small with the tied head, U-Net of the
// paper (1 input channel, 2 classes) and PSPNet (ResNet-101 backbone without
// fc + pyramid 4*(2048*512 + BN) + 3x3 4096->512 conv + BN + 1x1 to 21),
// all counted by hand. Op counts follow from the architectures: e.g.
// ResNet-50 has 1 + 16*3 + 4 projection convolutions.
var references = []struct {
	name   string
	opt    Options
	params int64
	ops    map[string]int
	out    []int64
}{
	{"resnet50", Options{Batch: 2, Size: 64}, 25_557_032,
		map[string]int{"Conv": 53, "BatchNormalization": 53, "Relu": 49, "Add": 16, "MaxPool": 1, "Gemm": 1}, []int64{2, 1000}},
	{"resnet101", Options{Batch: 2, Size: 64}, 44_549_160,
		map[string]int{"Conv": 104, "BatchNormalization": 104, "Relu": 100, "Add": 33, "Gemm": 1}, []int64{2, 1000}},
	{"resnet152", Options{Batch: 2, Size: 64}, 60_192_808,
		map[string]int{"Conv": 155, "BatchNormalization": 155, "Relu": 151, "Add": 50, "Gemm": 1}, []int64{2, 1000}},
	{"vgg19", Options{Batch: 2, Size: 64}, 143_667_240,
		map[string]int{"Conv": 16, "Relu": 18, "MaxPool": 5, "Gemm": 3, "BatchNormalization": 0}, []int64{2, 1000}},
	{"densenet161", Options{Batch: 2, Size: 64}, 28_681_000,
		map[string]int{"Conv": 160, "BatchNormalization": 161, "Relu": 161, "Concat": 78, "AveragePool": 3, "MaxPool": 1, "Gemm": 1}, []int64{2, 1000}},
	{"googlenet", Options{Batch: 2, Size: 64}, 6_624_904,
		map[string]int{"Conv": 57, "BatchNormalization": 57, "Relu": 57, "Concat": 9, "MaxPool": 13, "Gemm": 1}, []int64{2, 1000}},
	{"unet", Options{Batch: 2, Size: 188}, 31_030_658,
		map[string]int{"Conv": 19, "ConvTranspose": 4, "Relu": 18, "MaxPool": 4, "Slice": 4, "Concat": 4}, []int64{2, 2, 4, 4}},
	{"pspnet", Options{Batch: 2, Size: 64}, 65_584_725,
		map[string]int{"Conv": 110, "BatchNormalization": 109, "Add": 33, "Resize": 5, "Concat": 1}, []int64{2, 21, 64, 64}},
	{"gpt2", Options{Batch: 2, Seq: 16}, 124_439_808,
		map[string]int{"LayerNormalization": 25, "MatMul": 72, "Gemm": 1, "Softmax": 12, "Gather": 2, "Where": 12, "Tanh": 12, "Split": 12},
		[]int64{2, 16, 50257}},
	{"llama", Options{Batch: 2, Seq: 16}, 125_248,
		map[string]int{"MatMul": 19, "ReduceMean": 5, "Softmax": 2, "Expand": 4, "Sigmoid": 2, "Where": 2, "Split": 4, "Gather": 1, "Cos": 1, "Sin": 1},
		[]int64{2, 16, 256}},
}

func TestReferences(t *testing.T) {
	if got, want := len(references), len(Names()); got != want {
		t.Fatalf("%d references for %d networks", got, want)
	}
	for _, r := range references {
		t.Run(r.name, func(t *testing.T) {
			opt := r.opt
			opt.NoWeights = true
			m, err := Build(r.name, opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := trainableParams(m); got != r.params {
				t.Errorf("parameters: got %d, want %d", got, r.params)
			}
			got := opCounts(m)
			for op, want := range r.ops {
				if got[op] != want {
					t.Errorf("%s nodes: got %d, want %d", op, got[op], want)
				}
			}
			if d := outputDims(m); !slices.Equal(d, r.out) {
				t.Errorf("output dims %v, want %v", d, r.out)
			}
			if o := m.Proto.Graph.Output; len(o) != 1 || o[0].GetName() != "logits" {
				t.Errorf("outputs %v, want one named logits", o)
			}
			for _, op := range m.Proto.OpsetImport {
				if op.GetDomain() != "" || op.GetVersion() != Opset {
					t.Errorf("opset import %v, want only the default domain at %d", op, Opset)
				}
			}
		})
	}
}

// TestDefaultShapes checks the paper's input sizes and the outputs they give.
func TestDefaultShapes(t *testing.T) {
	want := map[string][]int64{
		"resnet50": {1, 1000}, "resnet101": {1, 1000}, "resnet152": {1, 1000}, "vgg19": {1, 1000},
		"densenet161": {1, 1000}, "googlenet": {1, 1000}, "unet": {1, 2, 388, 388},
		"pspnet": {1, 21, 713, 713}, "gpt2": {1, 1024, 50257}, "llama": {1, 32, 256},
	}
	for _, name := range Names() {
		m, err := Build(name, Options{NoWeights: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := outputDims(m); !slices.Equal(d, want[name]) {
			t.Errorf("%s: output %v, want %v", name, d, want[name])
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Options
		want string // substring of the error
	}{
		{"alexnet", Options{}, "unknown network"},
		{"unet", Options{Size: 570}, "try 556 or 572"},
		{"unet", Options{Size: 100}, "try 140"},
		{"densenet161", Options{Size: 8}, "too small"},
		{"vgg19", Options{Size: 16}, "too small"},
		{"gpt2", Options{Seq: 2048}, "1024 learned positions"},
		{"gpt2", Options{Size: 64}, "not a size"},
		{"resnet50", Options{Seq: 64}, "gpt2 and llama"},
		{"resnet50", Options{LLM: LLM{Layers: 2}}, "llama only"},
		{"llama", Options{LLM: LLM{Preset: "70b"}}, "unknown preset"},
		{"llama", Options{LLM: LLM{Hidden: 60}}, "even width"},
		{"llama", Options{LLM: LLM{KVHeads: 3}}, "must divide heads"},
		{"llama", Options{LLM: LLM{Layers: -1}}, "negative"},
		{"googlenet", Options{Batch: -1}, "negative"},
	} {
		_, err := Build(c.name, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build(%s, %+v) = %v, want an error containing %q", c.name, c.opt, err, c.want)
		}
	}
}

func TestUnetSizes(t *testing.T) {
	if out, ok := unetOut(572); !ok || out != 388 {
		t.Errorf("unetOut(572) = %d, %v; want 388, true", out, ok)
	}
	for _, s := range []int64{556, 572, 188} {
		out, ok := unetOut(s)
		if !ok {
			t.Fatalf("unetOut(%d) not ok", s)
		}
		m, err := Build("unet", Options{Size: int(s), NoWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := outputDims(m); d[2] != out || d[3] != out {
			t.Errorf("size %d: output %v, want %d", s, d, out)
		}
	}
}

// TestWeights checks that weights are deterministic, finite, within the
// documented bounds, distinct between tensors, and that NoWeights keeps
// the same initializers without data.
func TestWeights(t *testing.T) {
	opt := Options{Batch: 1, Size: 64}
	a, err := Build("googlenet", opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build("googlenet", opt)
	if err != nil {
		t.Fatal(err)
	}
	ea, _ := a.Encode()
	eb, _ := b.Encode()
	if !bytes.Equal(ea, eb) {
		t.Fatal("two builds with the same options differ")
	}
	seen := map[uint32]string{}
	for _, init := range a.Proto.Graph.Initializer {
		if onnxpb.TensorProto_DataType(init.GetDataType()) != onnxpb.TensorProto_FLOAT {
			continue
		}
		raw := init.RawData
		if int64(len(raw)) != 4*numel(init.Dims) {
			t.Fatalf("%s: %d bytes for dims %v", init.GetName(), len(raw), init.Dims)
		}
		var sum, sq float64
		for i := 0; i < len(raw); i += 4 {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
			if math.IsNaN(v) || math.Abs(v) > 2 {
				t.Fatalf("%s: value %v", init.GetName(), v)
			}
			sum += v
			sq += v * v
		}
		n := float64(len(raw) / 4)
		name := init.GetName()
		if strings.HasSuffix(name, ".conv.weight") && n > 1000 {
			// He uniform: variance 2/fan_in.
			d := init.Dims
			fanIn := float64(d[1] * d[2] * d[3])
			if v := sq / n; math.Abs(v*fanIn/2-1) > 0.1 {
				t.Errorf("%s: variance %.4g, want about 2/fan_in = %.4g", name, v, 2/fanIn)
			}
			first := binary.LittleEndian.Uint32(raw)
			if other, dup := seen[first]; dup {
				t.Errorf("%s starts like %s: streams not independent", name, other)
			}
			seen[first] = name
		}
	}

	opt.NoWeights = true
	c, err := Build("googlenet", opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := trainableParams(c), trainableParams(a); got != want {
		t.Errorf("NoWeights has %d parameters, with weights %d", got, want)
	}
	for _, init := range c.Proto.Graph.Initializer {
		ext := init.GetDataLocation() == onnxpb.TensorProto_EXTERNAL
		isFloat := onnxpb.TensorProto_DataType(init.GetDataType()) == onnxpb.TensorProto_FLOAT
		if ext != isFloat || (isFloat && len(init.RawData) != 0) {
			t.Errorf("NoWeights %s: external %v, float %v, %d bytes inline", init.GetName(), ext, isFloat, len(init.RawData))
		}
	}
	if _, err := (&onnx.Model{Proto: c.Proto, Path: filepath.Join(t.TempDir(), "m.onnx")}).TensorBytes(c.Proto.Graph.Initializer[0]); err == nil {
		t.Error("TensorBytes of a NoWeights tensor succeeded; want an error (no data)")
	}
}

// TestNoWeightsTiny: shapes-only files of the biggest networks stay small.
func TestNoWeightsTiny(t *testing.T) {
	for _, name := range Names() {
		m, err := Build(name, Options{NoWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		data, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1<<20 {
			t.Errorf("%s: shapes-only model is %d bytes, want < 1 MiB", name, len(data))
		}
	}
}

// TestChecker runs onnx.checker.check_model(full_check=True) and strict
// shape inference (Debian python3-onnx) on every network at small and at the
// paper's sizes (shapes only), and on three networks with weights.
func TestChecker(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		testenv.Missing(t, "skipping: %s cannot import onnx (install Debian python3-onnx): %v", py, err)
	}
	dir := t.TempDir()
	type job struct {
		file string
		want []int64
	}
	var jobs []job
	add := func(label, name string, opt Options) {
		m, err := Build(name, opt)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		f := filepath.Join(dir, label+".onnx")
		if err := m.Save(f); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job{f, outputDims(m)})
	}
	for _, r := range references {
		opt := r.opt
		opt.NoWeights = true
		add(r.name+"-small", r.name, opt)
		add(r.name+"-paper", r.name, Options{NoWeights: true})
	}
	for _, name := range []string{"googlenet", "unet", "resnet50"} {
		for _, r := range references {
			if r.name == name {
				add(name+"-weights", name, r.opt)
			}
		}
	}
	args := []string{"testdata/check.py"}
	for _, j := range jobs {
		args = append(args, j.file)
	}
	cmd := exec.Command(py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check.py: %v: %s", err, stderr.String())
	}
	results := map[string]struct {
		OK     bool
		Error  string
		Output []int64
	}{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			File   string
			OK     bool
			Error  string
			Output []int64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("check.py output %q: %v", sc.Text(), err)
		}
		results[r.File] = struct {
			OK     bool
			Error  string
			Output []int64
		}{r.OK, r.Error, r.Output}
	}
	for _, j := range jobs {
		r, ok := results[j.file]
		label := strings.TrimSuffix(filepath.Base(j.file), ".onnx")
		switch {
		case !ok:
			t.Errorf("%s: no result from check.py", label)
		case !r.OK:
			t.Errorf("%s: onnx.checker: %s", label, r.Error)
		case !slices.Equal(r.Output, j.want):
			t.Errorf("%s: onnx shape inference gives output %v, the model declares %v", label, r.Output, j.want)
		}
	}
}

// BenchmarkBuildResNet152 builds ResNet-152 with its ~60M seeded weights.
func BenchmarkBuildResNet152(b *testing.B) {
	var params int64
	for b.Loop() {
		m, err := Build("resnet152", Options{})
		if err != nil {
			b.Fatal(err)
		}
		params = trainableParams(m)
	}
	b.ReportMetric(float64(params)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
	b.ReportMetric(float64(4*params)/(1<<20), "weightMiB")
}

// BenchmarkBuildAll builds every network with weights at the paper's sizes.
func BenchmarkBuildAll(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Build(name, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleBuild() {
	m, err := Build("resnet50", Options{Batch: 32, NoWeights: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(m.Proto.Graph.Node) > 0, outputDims(m), trainableParams(m))
	// Output: true [32 1000] 25557032
}

// TestShapesAgreeWithOpsInfer: the shapes this package tracks while
// building (which size the weights and declare the output) equal those the
// tool's own shape inference (package onnx/ops) derives from the file, for
// every value of every network at the paper's sizes.
func TestShapesAgreeWithOpsInfer(t *testing.T) {
	for _, name := range Names() {
		n, opt, err := construct(name, Options{NoWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := ops.Infer(&onnx.Model{Proto: build.Model(n.b.G, Opset)}, ops.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r.Unknown) > 0 {
			t.Errorf("%s: ops has no rule for %v", name, r.Unknown)
		}
		bad := 0
		for v, d := range n.shape {
			if got, ok := r.Values[v]; !ok || !slices.Equal(got.Dims, d) {
				if bad++; bad <= 3 {
					t.Errorf("%s %+v: %s is %v here, ops.Infer says %v", name, opt, v, d, got.Dims)
				}
			}
		}
	}
}
