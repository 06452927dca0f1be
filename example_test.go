package recompute_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/ort"
)

// Verify measures each model in a fresh copy of the calling program: a
// program that calls it serves those copies first thing (here, the test
// binary).
func init() { ort.ServeChild() }

// Inspect a built-in network's forward model (no file needed: a model file's
// path works the same way).
func ExampleInspect() {
	rep, err := recompute.Inspect("resnet50", recompute.InspectOptions{Batch: 8})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d nodes, %d parameters (%.1f M values)\n", rep.Nodes, rep.Parameters.Tensors, float64(rep.Parameters.Elements)/1e6)
	fmt.Printf("forward pass alone peaks at %d bytes of activations\n", rep.Peak.TransientBytes)
	// Output:
	// 187 nodes, 173 parameters (25.6 M values)
	// forward pass alone peaks at 77072896 bytes of activations
}

// Grad turns a forward model into a training graph: a loss and the
// backward graph in standard ONNX ops.
func ExampleGrad() {
	dir, _ := os.MkdirTemp("", "recompute-example-")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "train.onnx")
	rep, err := recompute.Grad("resnet50", out, recompute.GradOptions{Batch: 2, Size: 32, NoWeights: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d parameters; %d forward and %d backward nodes; loss %s\n", rep.Params, rep.ForwardNodes, rep.BackwardNodes, rep.Loss)
	// Output:
	// 161 parameters; 759 forward and 1154 backward nodes; loss cross-entropy
}

// Plan recomputation for a training graph within half of its peak, and
// find the least peak any plan reaches when a budget is infeasible.
func ExamplePlan() {
	o := recompute.PlanRequest{RewriteOptions: recompute.RewriteOptions{
		Plan: recompute.PlanOptions{Batch: 8, Budget: "50%"},
		Size: 224,
	}}
	rep, err := recompute.Plan("resnet50", o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("none peak %d bytes; planned %d bytes, within the budget: %v\n", rep.NonePeakBytes, rep.PeakBytes, rep.PeakBytes <= rep.BudgetBytes)
	fmt.Printf("recomputes %d of %d forward ops\n", rep.RecomputedOps, rep.CostModelForwardOps)

	o.Plan.Budget = "1MiB"
	_, err = recompute.Plan("resnet50", o)
	var infeasible *recompute.InfeasibleError
	if errors.As(err, &infeasible) {
		fmt.Printf("1 MiB is infeasible; the least is %d bytes\n", infeasible.MinBytes)
	}
	// Output:
	// none peak 737535524 bytes; planned 365830948 bytes, within the budget: true
	// recomputes 507 of 759 forward ops
	// 1 MiB is infeasible; the least is 229781412 bytes
}

// Rewrite a training graph for ONNX Runtime within half of its peak.
func ExampleRewrite() {
	dir, _ := os.MkdirTemp("", "recompute-example-")
	defer os.RemoveAll(dir)
	res, err := recompute.Rewrite("resnet50", filepath.Join(dir, "resnet50.onnx"), recompute.RewriteOptions{
		Plan: recompute.PlanOptions{Batch: 8, Budget: "50%"},
		Size: 224,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d -> %d nodes, %d clones; peak %d -> %d bytes (%.1f%% lower)\n",
		res.Status, res.NodesBefore, res.Nodes, res.Clones, res.ReductionBase, res.ReductionAfter, 100*res.Reduction)
	// Output:
	// ok: 3534 -> 10731 nodes, 507 clones; peak 737535524 -> 365830948 bytes (50.4% lower)
}

// Convert a directory of models, as one of two shards of the batch.
func ExampleConvert() {
	dir, _ := os.MkdirTemp("", "recompute-example-")
	defer os.RemoveAll(dir)
	src, out := filepath.Join(dir, "models"), filepath.Join(dir, "out")
	os.MkdirAll(src, 0o755)
	for _, m := range []struct {
		name string
		o    recompute.GradOptions
	}{
		{"resnet50", recompute.GradOptions{Batch: 16, Size: 64, NoWeights: true}},
		{"vgg19", recompute.GradOptions{Batch: 4, Size: 32, NoWeights: true}},
		{"gpt2", recompute.GradOptions{Batch: 2, Seq: 64, NoWeights: true}},
	} {
		if _, err := recompute.Grad(m.name, filepath.Join(src, m.name+".onnx"), m.o); err != nil {
			log.Fatal(err)
		}
	}
	for _, shard := range []string{"0/2", "1/2"} {
		rep, err := recompute.Convert(src, out, recompute.ConvertOptions{Shard: shard, Jobs: 1})
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range rep {
			fmt.Printf("shard %s: %s %s, %.0f%% lower peak\n", shard, r.File, r.Status, 100*r.Reduction)
		}
	}
	// Output:
	// shard 0/2: resnet50.onnx ok, 15% lower peak
	// shard 0/2: vgg19.onnx ok, 0% lower peak
	// shard 1/2: gpt2.onnx ok, 19% lower peak
}

// Verify a rewrite in ONNX Runtime: the same outputs, bit for bit, and a
// lower measured peak, with the plan of the least peak (needs ONNX Runtime's shared library:
// $ONNXRUNTIME_LIB, or scripts/fetch-ort.sh).
func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "recompute-example-")
	defer os.RemoveAll(dir)
	orig, rewritten := filepath.Join(dir, "resnet50.onnx"), filepath.Join(dir, "resnet50_rc.onnx")
	o := recompute.RewriteOptions{Plan: recompute.PlanOptions{Batch: 8}, Size: 112}
	train, err := recompute.TrainingGraph("resnet50", o)
	if err != nil {
		log.Fatal(err)
	}
	if err := train.Save(orig); err != nil {
		log.Fatal(err)
	}
	if _, err := recompute.Rewrite(orig, rewritten, o); err != nil {
		log.Fatal(err)
	}
	rep, err := recompute.Verify(orig, rewritten, recompute.VerifyOptions{Seed: 1, Runs: 1, TimeRounds: 0, Threads: -1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d of %d outputs bit-identical\n", rep.Identical, len(rep.Outputs))
	// Session "" is ONNX Runtime's default session options (optimisations,
	// arena and memory pattern on).
	fmt.Println("measured peak lower:", rep.PeakRatio < 0.8)
	// Output:
	// 162 of 162 outputs bit-identical
	// measured peak lower: true
}
