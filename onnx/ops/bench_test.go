package ops

import (
	"fmt"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
)

// convChain is a 10,000-node graph: blocks of Conv, BatchNormalization,
// Relu and Add on a [N,16,32,32] activation, plus PyTorch-style shape
// arithmetic every 100 blocks.
func convChain(nodes int) *onnx.Model {
	b := build.New("chain")
	b.Input("x", f32, []int64{-1, 16, 32, 32}, "N")
	b.Initializer(build.Float32s("w", []int64{16, 16, 3, 3}, make([]float32, 16*16*9)))
	for _, p := range []string{"s", "b", "m", "v"} {
		b.Initializer(build.Float32s(p, []int64{16}, make([]float32, 16)))
	}
	b.Initializer(build.Int64s("shape", []int64{4}, []int64{0, 16, 32, -1}))
	x := "x"
	for i := 0; len(b.G.Node) < nodes; i++ {
		c := b.Op("Conv", fmt.Sprintf("c%d", i), []string{x, "w"}, build.AttrInts("pads", 1, 1, 1, 1))
		n := b.Op("BatchNormalization", fmt.Sprintf("bn%d", i), []string{c, "s", "b", "m", "v"})
		r := b.Op("Relu", fmt.Sprintf("r%d", i), []string{n})
		x = b.Op("Add", fmt.Sprintf("a%d", i), []string{r, x})
		if i%100 == 99 {
			x = b.Op("Reshape", fmt.Sprintf("rs%d", i), []string{x, "shape"})
		}
	}
	b.Output(x, f32, []int64{-1, 16, 32, 32}, "N")
	return model(b, 17)
}

func BenchmarkInfer10kNodes(b *testing.B) {
	m := convChain(10000)
	nodes := len(m.Proto.GetGraph().GetNode())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Infer(m, Options{Batch: 8})
		if err != nil || len(r.Warnings) > 0 {
			b.Fatal(err, r.Warnings)
		}
	}
	b.ReportMetric(float64(nodes)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

func BenchmarkSplitTraining(b *testing.B) {
	m := convChain(10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := SplitTraining(m, nil, "r10"); err != nil {
			b.Fatal(err)
		}
	}
}
