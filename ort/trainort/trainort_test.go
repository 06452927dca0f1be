package trainort

import (
	"context"
	"github.com/onnx-recompute/recompute/internal/testenv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort"
)

func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Node.js")
	}
	if err := Available(); err != nil {
		testenv.Missing(t, "%v", err)
	}
}

func corpusTrain(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "train")
	if d := os.Getenv("RECOMPUTE_CORPUS"); d != "" {
		dir = filepath.Join(d, "train")
	}
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "corpus not found at %s", dir)
	}
	return dir
}

// Every training artifact of the corpus runs on the training kernels, twice
// with the same bytes, with a finite loss and its accumulated gradients
// exposed as outputs.
func TestCorpusArtifacts(t *testing.T) {
	need(t)
	files, _ := filepath.Glob(filepath.Join(corpusTrain(t), "*_training_model.onnx"))
	if len(files) == 0 {
		t.Fatal("no training artifacts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m, err := onnx.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			p := Prepare(m.Proto)
			// Gradients: those an accumulator adds (now exposed), or graph
			// outputs already (cct was pruned to one gradient output).
			grads := len(p.Gradients)
			for _, o := range m.Proto.GetGraph().GetOutput() {
				if strings.HasSuffix(o.GetName(), "_grad") {
					grads++
				}
			}
			if grads == 0 {
				t.Fatal("no gradient among the outputs or accumulator inputs")
			}
			if len(p.Model.GetGraph().GetOutput()) != len(m.Proto.GetGraph().GetOutput())+len(p.Gradients) {
				t.Fatalf("%d outputs after Prepare, want %d + %d", len(p.Model.GetGraph().GetOutput()), len(m.Proto.GetGraph().GetOutput()), len(p.Gradients))
			}
			path := filepath.Join(t.TempDir(), "prepared.onnx")
			if err := (&onnx.Model{Proto: p.Model}).Save(path); err != nil {
				t.Fatal(err)
			}
			pm := &onnx.Model{Proto: p.Model}
			in, err := ort.RandomInputs(pm, ort.InputOptions{Seed: 1, Batch: 8})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), path, in, nil, Options{Runs: 1, Timeout: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Deterministic {
				t.Error("two runs of the same model gave different bytes")
			}
			if len(res.Outputs) != len(p.Model.GetGraph().GetOutput()) {
				t.Fatalf("%d outputs, want %d", len(res.Outputs), len(p.Model.GetGraph().GetOutput()))
			}
			loss := res.Outputs[0]
			if loss.Elem != onnxpb.TensorProto_FLOAT || loss.NumElements() != 1 {
				t.Fatalf("first output %s: %v %v, want a float scalar loss", loss.Name, loss.Elem, loss.Dims)
			}
			if v := loss.Float64At(0); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("loss %v", v)
			}
			var fed int64
			for _, x := range in {
				fed += int64(len(x.Data))
			}
			if res.FedBytes != fed {
				t.Errorf("fed %d bytes, want %d", res.FedBytes, fed)
			}
			if res.PeakBytes <= 0 || len(res.Seconds) != 2 {
				t.Errorf("peak %d bytes, %d timed runs", res.PeakBytes, len(res.Seconds))
			}
			t.Logf("%d gradients, loss %.4f, peak %.1f KiB, first run %.3fs", grads, loss.Float64At(0), float64(res.PeakBytes)/1024, res.Seconds[0])
		})
	}
}

// An op the runtime has no kernel for: a one-line error naming it.
func TestMissingKernel(t *testing.T) {
	need(t)
	b := build.New("missing")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{2})
	n := b.Node("NoSuchOp", "weird", []string{"x"}, []string{"y"})
	n.Domain = proto.String("com.example")
	b.Output("y", onnxpb.TensorProto_FLOAT, []int64{2})
	m := build.Model(b.G, 17, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := (&onnx.Model{Proto: m}).Save(path); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), path, []ort.Tensor{{Name: "x", Elem: onnxpb.TensorProto_FLOAT, Dims: []int64{2}, Data: make([]byte, 8)}}, nil, Options{Timeout: 2 * time.Minute})
	if err == nil || !strings.Contains(err.Error(), "NoSuchOp") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want one line naming NoSuchOp", err)
	}
	t.Log(err)
}

// A runner that does not finish in time is killed and says so.
func TestTimeout(t *testing.T) {
	need(t)
	f := filepath.Join(corpusTrain(t), "mlp_training_model.onnx")
	m, err := onnx.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ort.RandomInputs(m, ort.InputOptions{Seed: 1, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Run(context.Background(), f, in, nil, Options{Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not finish within") {
		t.Fatalf("got %v, want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

// Prepare copies: the input model keeps its outputs, nodes and weights.
func TestPrepareLeavesInput(t *testing.T) {
	f := filepath.Join(corpusTrain(t), "lenet_training_model.onnx")
	m, err := onnx.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	before := proto.Clone(m.Proto)
	p := Prepare(m.Proto)
	if !proto.Equal(before, m.Proto) {
		t.Fatal("Prepare modified its input")
	}
	if len(p.Gradients) == 0 || p.Model.GetGraph().GetInitializer() != nil && &p.Model.GetGraph().GetInitializer()[0] != &m.Proto.GetGraph().GetInitializer()[0] {
		t.Errorf("gradients %v; weights must be shared", p.Gradients)
	}
}

// PrepareToMeasure keeps the model's outputs (each gradient dies at its
// accumulator, as in training) and still seeds random ops; Prepare exposes
// the gradients.
func TestPrepareToMeasure(t *testing.T) {
	b := build.New("drop")
	b.Input("x", onnxpb.TensorProto_FLOAT, []int64{4})
	b.Input("buf", onnxpb.TensorProto_FLOAT, []int64{4})
	b.Node("Dropout", "drop", []string{"x"}, []string{"y"})
	n := b.Node("InPlaceAccumulatorV2", "acc", []string{"buf", "y"}, []string{"flag"})
	n.Domain = proto.String("com.microsoft")
	b.Output("flag", onnxpb.TensorProto_BOOL, []int64{1})
	m := build.Model(b.G, 17)
	for _, tc := range []struct {
		name    string
		prep    func(*onnxpb.ModelProto) *Prepared
		outputs int
	}{
		{"Prepare", Prepare, 2},
		{"PrepareToMeasure", PrepareToMeasure, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.prep(m)
			if got := len(p.Model.GetGraph().GetOutput()); got != tc.outputs || p.Seeded != 1 {
				t.Errorf("%d outputs, %d seeded; want %d, 1", got, p.Seeded, tc.outputs)
			}
			if len(m.GetGraph().GetOutput()) != 1 || len(m.GetGraph().GetNode()[0].GetAttribute()) != 0 {
				t.Error("the input model changed")
			}
		})
	}
}

// The transient bytes are the growth less what was fed.
func TestTransientBytes(t *testing.T) {
	for _, tc := range []struct {
		peak, fed, want int64
	}{
		{100, 30, 70},
		{-1, 30, -1}, // not measured
	} {
		r := &Result{PeakBytes: tc.peak, FedBytes: tc.fed}
		if got := r.TransientBytes(); got != tc.want {
			t.Errorf("peak %d fed %d: %d, want %d", tc.peak, tc.fed, got, tc.want)
		}
	}
}
