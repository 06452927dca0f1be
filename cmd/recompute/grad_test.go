package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/internal/testenv"

	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort"
)

// gtHaveORT reports whether ONNX Runtime is available; without it the
// tests still build and check the graphs, and say that --check was skipped.
func gtHaveORT(t *testing.T) bool {
	t.Helper()
	if _, err := ort.LibraryPath(""); err != nil {
		testenv.Partial(t, "ONNX Runtime absent (%v): --check skipped; run scripts/fetch-ort.sh", err)
		return false
	}
	return true
}

// gtChecker runs onnx.checker.check_model(full_check=True) with Debian's
// python3-onnx.
func gtChecker(t *testing.T, path string) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		testenv.Partial(t, "python3-onnx for %s absent: onnx.checker skipped", py)
		return
	}
	out, err := exec.Command(py, "-c", "import sys, onnx; onnx.checker.check_model(sys.argv[1], full_check=True)", path).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Errorf("onnx.checker %s: %v: %s", filepath.Base(path), err, lines[len(lines)-1])
	}
}

// gtGrad runs recompute grad and fails on a non-zero exit.
func gtGrad(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := mtRun(append([]string{"grad"}, args...)...)
	if code != 0 {
		t.Fatalf("recompute grad %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	t.Log(gtLastLine(strings.TrimSpace(stdout)))
	return stdout
}

// TestGradBuiltins: every built-in network at a small size gets a training
// graph that passes onnx.checker and --check on ONNX Runtime at the default
// tolerance 0.05, except vgg19 (stand-in weights) and pspnet (ResNet-101
// backbone, BatchNorm over two values in its 1×1 pyramid bin), whose float32
// finite differences are noisier (measured worst 6.1e-2 and 7.1e-2): 0.1.
// Every op's rule alone is held to 0.02 (autodiff/gradcheck TestOps).
func TestGradBuiltins(t *testing.T) {
	withORT := gtHaveORT(t)
	sizes := map[string][]string{
		"resnet50":    {"--size", "64"},
		"resnet101":   {"--size", "64"},
		"resnet152":   {"--size", "64"},
		"vgg19":       {"--size", "32", "--tolerance", "0.1"},
		"densenet161": {"--size", "64"},
		"googlenet":   {"--size", "64"},
		"unet":        {"--size", "188"},
		"pspnet":      {"--size", "64", "--tolerance", "0.1"},
		"gpt2":        {"--seq", "8"},
		"llama":       {"--seq", "8"},
	}
	for _, name := range models.Names() {
		t.Run(name, func(t *testing.T) {
			extra, ok := sizes[name]
			if !ok {
				t.Fatalf("no small size known for built-in %s: add it to the table", name)
			}
			out := filepath.Join(t.TempDir(), name+"_train.onnx")
			args := append([]string{name, "-o", out, "--batch", "2"}, extra...)
			if name == "vgg19" || name == "gpt2" {
				// Over 120 M weights at any size: --no-weights keeps the files
				// small (references to an absent file); --check stands in
				// random weights, the checker gets a sparse stand-in file.
				args = append(args, "--no-weights")
			}
			if withORT {
				args = append(args, "--check", "--check-params", "4")
			}
			gtGrad(t, args...)
			gtStandIn(t, out)
			gtChecker(t, out)
		})
	}
}

// TestGradCorpus: the forward models of ../shared/corpus.
func TestGradCorpus(t *testing.T) {
	withORT := gtHaveORT(t)
	dir := mtCorpus(t, "")
	zoo, _ := filepath.Glob(filepath.Join(dir, "zoo", "*.onnx"))
	fw, _ := filepath.Glob(filepath.Join(dir, "train", "*_forward.onnx"))
	for _, path := range append(zoo, fw...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "train.onnx")
			args := []string{path, "-o", out}
			if withORT {
				args = append(args, "--check", "--check-params", "6")
			}
			stdout := gtGrad(t, args...)
			if strings.Contains(stdout, "external file") {
				gtStandIn(t, out)
			}
			gtChecker(t, out)
		})
	}
}

// gtStandIn writes sparse stand-ins for external weight files the training
// graph references (resnet18's is absent from the corpus on purpose).
func gtStandIn(t *testing.T, path string) {
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	size := map[string]int64{}
	for _, init := range m.Proto.Graph.Initializer {
		if !onnx.IsExternal(init) {
			continue
		}
		ref, err := onnx.External(init)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := onnx.NumElements(init.Dims)
		b, _ := onnx.DataBytes(init.GetDataType(), n)
		size[ref.Location] = max(size[ref.Location], ref.Offset+b)
	}
	for loc, n := range size {
		f, err := os.Create(filepath.Join(filepath.Dir(path), loc))
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(n)
		f.Close()
	}
}

// TestGradBadInput: usage errors exit 2, failures exit 1; one line; no
// output file.
func TestGradBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.onnx")
	g := build.New("g")
	g.Input("x", onnxpb.TensorProto_FLOAT, []int64{2, 4})
	g.Initializer(build.Float32s("w", []int64{4, 3}, make([]float32, 12)))
	g.Node("MatMul", "mm", []string{"x", "w"}, []string{"y"})
	g.Output("y", onnxpb.TensorProto_FLOAT, []int64{2, 3})
	if err := (&onnx.Model{Proto: build.Model(g.G, 17)}).Save(good); err != nil {
		t.Fatal(err)
	}
	unsupported := filepath.Join(dir, "unsupported.onnx")
	u := build.New("u")
	u.Input("x", onnxpb.TensorProto_FLOAT, []int64{2, 4})
	u.Initializer(build.Float32s("w", []int64{4, 3}, make([]float32, 12)))
	u.Node("MatMul", "mm", []string{"x", "w"}, []string{"h"})
	u.Node("LpNormalization", "the_lpnorm", []string{"h"}, []string{"y"})
	u.Output("y", onnxpb.TensorProto_FLOAT, []int64{2, 3})
	if err := (&onnx.Model{Proto: build.Model(u.G, 17)}).Save(unsupported); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.onnx")
	data, _ := os.ReadFile(good)
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	out := filepath.Join(dir, "out.onnx")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{good}, 2, "-o OUT"},
		{[]string{good, "-o", good}, 2, "overwrite"},
		{[]string{good, "-o", out, "--loss", "hinge"}, 2, "--loss"},
		{[]string{good, "-o", out, "--size", "32"}, 2, "built-in"},
		{[]string{truncated, "-o", out}, 1, "truncated.onnx"},
		{[]string{filepath.Join(dir, "absent.onnx"), "-o", out}, 1, "built-in network"},
		{[]string{unsupported, "-o", out}, 1, "LpNormalization (node the_lpnorm)"},
	}
	for _, c := range cases {
		code, stdout, stderr := mtRun(append([]string{"grad"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("grad %v: exit %d, stderr %q, stdout %q; want exit %d and one line with %q", c.args, code, stderr, stdout, c.code, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("grad %v wrote %s", c.args, out)
		}
	}
	// The good model works, with mse, and refuses nothing.
	gtGrad(t, good, "-o", out, "--loss", "mse")
	gtChecker(t, out)
}

func gtLastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestGradHelpListsBuiltins keeps the synopsis in step with package models.
func TestGradHelpListsBuiltins(t *testing.T) {
	for _, name := range models.Names() {
		if !strings.Contains(gradSynopsis, name) {
			t.Errorf("grad's synopsis does not list built-in %s", name)
		}
	}
}

// TestGradNodeModels: ONNX's own single-op test models (Debian
// libonnx-testdata) for the gradient rules added from them, and three that
// once gave a graph the checker refused (an int64 Pow exponent, a bfloat16
// output, a Reshape to a 0-sized dim). Each must get a training graph that
// passes onnx.checker.
func TestGradNodeModels(t *testing.T) {
	dir := "/usr/share/libonnx-testdata/data/node"
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "%s absent (apt-get install libonnx-testdata)", dir)
	}
	for _, name := range []string{
		"test_einsum_batch_matmul", "test_einsum_transpose", "test_einsum_sum", "test_einsum_inner_prod",
		"test_top_k", "test_depthtospace_crd_mode", "test_depthtospace_dcr_mode", "test_spacetodepth",
		"test_globalmaxpool", "test_reduce_log_sum", "test_castlike_FLOAT_to_DOUBLE",
		"test_tan", "test_asin", "test_acos", "test_atan", "test_sinh", "test_cosh", "test_asinh", "test_acosh", "test_atanh",
		"test_softsign", "test_celu", "test_thresholdedrelu", "test_shrink_soft",
		"test_pow_types_float32_int64", "test_cast_FLOAT_to_BFLOAT16", "test_reshape_allowzero_reordered",
	} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(dir, name, "model.onnx")
			if _, err := os.Stat(in); err != nil {
				testenv.Missing(t, "%s not in this libonnx-testdata (Debian's has it)", name)
			}
			out := filepath.Join(t.TempDir(), "train.onnx")
			gtGrad(t, in, "-o", out, "--loss", "sum")
			gtChecker(t, out)
		})
	}
}
