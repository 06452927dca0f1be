package autodiff

import (
	"runtime"
	"testing"
	"time"

	"github.com/onnx-recompute/recompute/models"
)

// BenchmarkBuildResNet152 measures what `recompute grad resnet152 -o OUT`
// spends on the training graph: autodiff.Build plus serialisation, on the
// full-size network with weights (targets: < 5 s, < 3× the model size in
// memory). The forward model is built once, outside the timer. Reported:
// seconds per op, bytes allocated per op as a multiple of the forward
// model's encoded size (Build shares the weight protos, so only the
// serialised output should be of weight size), and the heap in use after
// Build+Encode (forward model + training graph + encoded bytes) as a
// multiple of the model size.
// Target: s/op < 5, heap/model-size < 3
func BenchmarkBuildResNet152(b *testing.B) {
	m, err := models.Build("resnet152", models.Options{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := m.Encode()
	if err != nil {
		b.Fatal(err)
	}
	size := float64(len(enc))
	enc = nil
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	var heap uint64
	var secs float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		t0 := time.Now()
		tm, err := Build(m, Options{})
		if err != nil {
			b.Fatal(err)
		}
		data, err := tm.Encode()
		if err != nil {
			b.Fatal(err)
		}
		secs += time.Since(t0).Seconds()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
		runtime.KeepAlive(data)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	_ = start
	b.ReportMetric(secs/float64(b.N), "s/op")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/size, "alloc/model-size")
	b.ReportMetric(float64(heap)/size, "heap/model-size")
	b.ReportMetric(size/1e6, "model-MB")
}
