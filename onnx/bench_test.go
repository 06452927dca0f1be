package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// generatedModel returns a CNN-like chain of n nodes (Conv, Relu, Add with a
// skip connection, repeated) and, if weightBytes > 0, initializers holding
// about that many bytes of raw float data in 4 MiB tensors.
func generatedModel(n int, weightBytes int64) *Model {
	g := build.New("generated")
	g.Input("x", onnxpb.TensorProto_FLOAT, []int64{-1, 64, 56, 56}, "batch")
	g.Initializer(build.Float32s("w", []int64{64, 64, 3, 3}, make([]float32, 64*64*9)))
	prev, skip := "x", "x"
	for i := 0; i < n; i++ {
		out := fmt.Sprintf("/block%d/op%d_output_0", i/3, i)
		switch i % 3 {
		case 0:
			g.Node("Conv", fmt.Sprintf("/block%d/Conv", i/3), []string{prev, "w"}, []string{out},
				build.AttrInts("kernel_shape", 3, 3), build.AttrInts("pads", 1, 1, 1, 1), build.AttrInts("strides", 1, 1))
		case 1:
			g.Node("Relu", fmt.Sprintf("/block%d/Relu", i/3), []string{prev}, []string{out})
		case 2:
			g.Node("Add", fmt.Sprintf("/block%d/Add", i/3), []string{prev, skip}, []string{out})
			skip = out
		}
		prev = out
	}
	g.Output(prev, onnxpb.TensorProto_FLOAT, []int64{-1, 64, 56, 56}, "batch")
	const chunk = 4 << 20
	for i := 0; int64(i)*chunk < weightBytes; i++ {
		g.Initializer(&onnxpb.TensorProto{
			Name:     proto.String(fmt.Sprintf("weight_%d", i)),
			DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Dims:     []int64{chunk / 4},
			RawData:  make([]byte, chunk),
		})
	}
	return &Model{Proto: build.Model(g.G, 17)}
}

func BenchmarkDecode10kNodes(b *testing.B) {
	const nodes = 10000
	data, err := generatedModel(nodes, 0).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/decode")
	b.ReportMetric(float64(nodes)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

func BenchmarkNewView10kNodes(b *testing.B) {
	const nodes = 10000
	m := generatedModel(nodes, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewView(m.Proto.Graph); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nodes)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

// BenchmarkLoadSave200MB loads a model with 200 MiB of raw weights and saves
// it under another name; the bytes/s figure is weight bytes moved per
// load+save. It runs once on tmpfs (/dev/shm, when present: the cost of this
// package) and once in the test's temporary directory (adds the disk).
func BenchmarkLoadSave200MB(b *testing.B) {
	dirs := []struct{ name, dir string }{{"tmpfs", "/dev/shm"}, {"tempdir", ""}}
	for _, d := range dirs {
		b.Run(d.name, func(b *testing.B) {
			dir := d.dir
			if dir == "" {
				dir = b.TempDir()
			} else if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				b.Skipf("%s absent", dir)
			} else {
				tmp, err := os.MkdirTemp(dir, "onnxbench")
				if err != nil {
					b.Skip(err)
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			benchLoadSave(b, dir)
		})
	}
}

func benchLoadSave(b *testing.B, dir string) {
	const weights = 200 << 20
	in, out := filepath.Join(dir, "in.onnx"), filepath.Join(dir, "out.onnx")
	if err := generatedModel(30, weights).Save(in); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(weights)
	var loadTime, saveTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		m, err := Load(in)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := m.Save(out); err != nil {
			b.Fatal(err)
		}
		loadTime += t1.Sub(t0)
		saveTime += time.Since(t1)
	}
	b.ReportMetric(float64(weights)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(loadTime.Seconds()*1e3/float64(b.N), "ms/load")
	b.ReportMetric(saveTime.Seconds()*1e3/float64(b.N), "ms/save")
}
