package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/internal/testenv"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

// TestInspectGolden compares inspect's text and JSON output on corpus files
// with testdata/inspect/*.{txt,json}; go test -run InspectGolden -update
// rewrites them. The corpus location is replaced by CORPUS in the output.
func TestInspectGolden(t *testing.T) {
	tests := []struct {
		name string
		file string
		args []string
	}{
		{"lenet_training", "train/lenet_training_model.onnx", nil},
		{"mlp_training_batch64", "train/mlp_training_model.onnx", []string{"--dim", "batch_size=64"}},
		{"mlp_training_unbound", "train/mlp_training_model.onnx", nil},
		{"lenet_forward", "train/lenet_forward.onnx", nil},
		{"resnet18_external", "zoo/resnet18_external_data.onnx", nil},
		{"light_resnet50", "zoo/light_resnet50.onnx", nil},
		{"alexnet", "zoo/light_bvlc_alexnet.onnx", nil},
		{"unet_batch2", "zoo/sedgen_unet.onnx", []string{"--batch", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := mtCorpus(t, tt.file)
			corpus := strings.TrimSuffix(path, tt.file)
			for _, ext := range []string{"txt", "json"} {
				args := append([]string{"inspect", path}, tt.args...)
				if ext == "json" {
					args = append(args, "--json")
				}
				code, stdout, stderr := mtRun(args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				got := strings.ReplaceAll(stdout, corpus, "CORPUS/")
				golden := filepath.Join("testdata", "inspect", tt.name+"."+ext)
				if mtUpdate() {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -run InspectGolden -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s (rerun with -update if the change is intended):\n%s", tt.name, golden, lineDiff(string(want), got))
				}
			}
		})
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 8; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("  line " + strconv.Itoa(i+1) + ":\n    want " + wl + "\n    got  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}

// TestInspectTrainingGraph checks the facts the issue asks of the LeNet
// training artifact, independently of the golden text.
func TestInspectTrainingGraph(t *testing.T) {
	path := mtCorpus(t, "train/lenet_training_model.onnx")
	code, stdout, stderr := mtRun("inspect", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep recompute.InspectReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Training == nil || len(rep.Training.Loss) != 1 || rep.Training.Loss[0] != "onnx::loss::2" {
		t.Fatalf("loss not found: %+v (%s)", rep.Training, rep.NotTraining)
	}
	if rep.Training.ForwardNodes != 13 || rep.Training.BackwardNodes != 32 {
		t.Errorf("split %d/%d, want 13 forward (Conv..SoftmaxCrossEntropyLoss) and 32 backward", rep.Training.ForwardNodes, rep.Training.BackwardNodes)
	}
	// LeNet-5 on 3x32x32 input with 2 classes: 61,326 weights and biases.
	if rep.Parameters.Elements != 61326 || rep.Parameters.Tensors != 10 {
		t.Errorf("parameters %d in %d tensors, want 61326 in 10", rep.Parameters.Elements, rep.Parameters.Tensors)
	}
	if rep.Peak.TransientBytes <= 0 || rep.Peak.AtNode < 0 {
		t.Errorf("no transient peak: %+v", rep.Peak)
	}
	// Naming the loss gives the same split; a wrong name is a failure.
	code, stdout, stderr = mtRun("inspect", "--json", "--loss", "onnx::loss::2", path)
	var named recompute.InspectReport
	if code != 0 || json.Unmarshal([]byte(stdout), &named) != nil || named.Training == nil || named.Training.ForwardNodes != 13 {
		t.Errorf("--loss onnx::loss::2: exit %d, %s", code, stderr)
	}
	code, stdout, stderr = mtRun("inspect", "--loss", "no_such_value", path)
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "no_such_value") {
		t.Errorf("--loss no_such_value: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestInspectPeakByHand checks the file-order peak on a graph whose answer
// is worked out by hand (float32[256] = 1 KiB per value):
//
//	#0 a = Relu(x)        live a            1 KiB
//	#1 b = Relu(a)        live a b          2 KiB
//	#2 d = Concat(b, b)   live a b d(2)     4 KiB  d has no reader
//	#3 c = Add(a, b)      live a b c        3 KiB  a freed after
//	#4 k = Constant       resident, not counted (4 KiB)
//	#5 e = Add(c, k)      live b c e(4)     6 KiB  <- peak; b, e graph outputs
func TestInspectPeakByHand(t *testing.T) {
	g := build.New("hand")
	g.Input("x", onnxpb.TensorProto_FLOAT, []int64{256})
	g.Node("Relu", "A", []string{"x"}, []string{"a"})
	g.Node("Relu", "B", []string{"a"}, []string{"b"})
	g.Node("Concat", "D", []string{"b", "b"}, []string{"d"}, build.AttrInt("axis", 0))
	g.Node("Add", "C", []string{"a", "b"}, []string{"c"})
	g.Node("Constant", "K", nil, []string{"k"}, build.AttrTensor("value", build.Float32s("k", []int64{4, 256}, make([]float32, 1024))))
	g.Node("Add", "E", []string{"c", "k"}, []string{"e"})
	g.Output("b", onnxpb.TensorProto_FLOAT, []int64{256})
	g.Output("e", onnxpb.TensorProto_FLOAT, []int64{256})
	m := &onnx.Model{Proto: build.Model(g.G, 17)}
	rep, err := recompute.InspectModel(m, recompute.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// E broadcasts to float32[4,256]: 4 KiB, with b and c live: 6 KiB.
	if rep.Peak.TransientBytes != 6<<10 || rep.Peak.AtNode != 5 || rep.Peak.Order != "file" {
		t.Errorf("peak %+v, want 6 KiB at node 5 (E) in file order", rep.Peak)
	}
	if rep.Resident.Constants != 1 || rep.Resident.ConstantBytes != 4<<10 {
		t.Errorf("resident %+v, want the Constant's 4 KiB", rep.Resident)
	}
	// Without E's big output, the peak is D's step.
	g.G.Node = g.G.Node[:4]
	g.G.Output = g.G.Output[:1]
	rep, err = recompute.InspectModel(m, recompute.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Peak.TransientBytes != 4<<10 || rep.Peak.AtNode != 2 {
		t.Errorf("peak %+v, want 4 KiB at node 2 (D)", rep.Peak)
	}
	// Out of file order: the stable topological order runs it, and says so.
	n := g.G.Node
	g.G.Node = []*onnxpb.NodeProto{n[1], n[0], n[2], n[3]}
	rep, err = recompute.InspectModel(m, recompute.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Peak.TransientBytes != 4<<10 || rep.Peak.Order != "topological" {
		t.Errorf("peak %+v, want 4 KiB in topological order", rep.Peak)
	}
}

// TestInspectPeakMatchesPlanner: inspect computes the file-order peak
// itself; the planner's graph (planner.FromModel) replayed in the same order
// (Liveness+Replay) must give the same number: one definition of memory
// everywhere, including which values are resident.
func TestInspectPeakMatchesPlanner(t *testing.T) {
	for _, file := range []string{
		"train/lenet_training_model.onnx", "train/mlp_training_model.onnx",
		"zoo/resnet18_external_data.onnx", "zoo/light_resnet50.onnx", "zoo/light_vgg19.onnx",
		"zoo/sedgen_unet.onnx", "train/lenet_forward.onnx",
	} {
		t.Run(file, func(t *testing.T) {
			m, err := onnx.Load(mtCorpus(t, file))
			if err != nil {
				t.Fatal(err)
			}
			opt := ops.Options{Batch: 4, Dims: map[string]int64{}}
			rep, err := recompute.InspectModel(m, recompute.InspectOptions{Batch: 4})
			if err != nil {
				t.Fatal(err)
			}
			v, err := onnx.NewView(m.Proto.Graph)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ops.Infer(m, opt)
			if err != nil {
				t.Fatal(err)
			}
			split, err := ops.SplitTraining(m, v, "")
			if err != nil { // forward-only: every node forward
				split = &ops.Split{Forward: make([]bool, len(m.Proto.Graph.Node))}
				for i := range split.Forward {
					split.Forward[i] = true
				}
				split.NumForward = len(split.Forward)
			}
			pg, err := planner.FromModel(m, r, split, "uniform")
			if err != nil {
				t.Fatal(err)
			}
			replayed, err := planner.Replay(pg, planner.Liveness(pg, v.Order))
			if err != nil {
				t.Fatal(err)
			}
			if replayed.PeakBytes != rep.Peak.TransientBytes {
				t.Errorf("inspect peak %d, planner replay %d", rep.Peak.TransientBytes, replayed.PeakBytes)
			}
		})
	}
}

// A built-in network name inspects its forward model (shapes only).
func TestInspectBuiltin(t *testing.T) {
	code, stdout, stderr := mtRun("inspect", "--json", "--batch", "2", "resnet50")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep recompute.InspectReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Nodes == 0 || rep.Peak.TransientBytes <= 0 || len(rep.OpsWithoutRules) != 0 {
		t.Errorf("resnet50: %d nodes, peak %d, ops without rules %v", rep.Nodes, rep.Peak.TransientBytes, rep.OpsWithoutRules)
	}
	// Torchvision's ResNet-50 has 25.56M trainable parameters; BatchNorm
	// running statistics (also initializers) add about 53k.
	if p := rep.Parameters.Elements; p < 25_500_000 || p > 25_700_000 {
		t.Errorf("resnet50 parameters = %d, want about 25.6M", p)
	}
}

// Every libonnx-testdata model (single ops, If/Loop/Scan bodies, sequences,
// optional inputs) inspects without error, in text and JSON.
func TestInspectTestdataModels(t *testing.T) {
	const dir = "/usr/share/libonnx-testdata/data"
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*", "model.onnx"))
	if len(paths) == 0 {
		testenv.Missing(t, "%s absent (apt-get install libonnx-testdata): skipping", dir)
	}
	for _, p := range paths {
		for _, args := range [][]string{{"inspect", p}, {"inspect", "--json", "--batch", "3", p}} {
			if code, _, stderr := mtRun(args...); code != 0 {
				t.Errorf("%v: exit %d: %s", args, code, stderr)
			}
		}
	}
	t.Logf("%d models inspected", len(paths))
}
