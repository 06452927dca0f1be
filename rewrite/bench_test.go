package rewrite

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/ops"
	"github.com/onnx-recompute/recompute/planner"
)

// BenchmarkRewriteResNet152 rewrites the full-size ResNet-152 training graph
// (224x224, batch 1, with weights; plan: chen, least memory, which is quick
// to make): Apply plus Save of the result, the part of `recompute rewrite`
// after planning. Metrics: seconds
// per rewrite, bytes allocated per rewrite, and the process heap in use at
// the end of a rewrite (model loaded + result) as multiples of the file size.
// Issue 5's targets; the whole command, planning included, is
// BenchmarkRewriteCommandResNet152 (cmd/recompute).
// Target: s/rewrite < 3, heap-x-file < 2
func BenchmarkRewriteResNet152(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "resnet152_training.onnx")
	func() { // build and save the training graph, then drop it
		fm, err := models.Build("resnet152", models.Options{Batch: 1})
		if err != nil {
			b.Fatal(err)
		}
		tm, err := autodiff.Build(fm, autodiff.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tm.Save(in); err != nil {
			b.Fatal(err)
		}
	}()
	st, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	fileBytes := float64(st.Size())
	m, err := onnx.Load(in)
	if err != nil {
		b.Fatal(err)
	}
	g, p := planFromModel(b, m, planner.Options{Strategy: "chen", Objective: "memory"})
	out := filepath.Join(dir, "out.onnx")
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	var heap uint64
	for b.Loop() {
		rm, rep, err := Apply(m, g, p, Options{ORTGuard: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := rm.Save(out); err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		if rep.Clones == 0 {
			b.Fatal("no clones")
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/rewrite")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/fileBytes, "alloc-x-file")
	b.ReportMetric(float64(heap)/fileBytes, "heap-x-file")
	b.ReportMetric(fileBytes/1e6, "file-MB")
}

// planFromModel runs the planning pipeline of `recompute rewrite` on m.
func planFromModel(t testing.TB, m *onnx.Model, opt planner.Options) (*planner.Graph, *planner.Plan) {
	t.Helper()
	v, err := onnx.NewView(m.Proto.Graph)
	if err != nil {
		t.Fatal(err)
	}
	split, err := ops.SplitTraining(m, v, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ops.Infer(m, ops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := planner.FromModel(m, r, split, "flops")
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Make(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	return g, p
}
