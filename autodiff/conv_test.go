package autodiff

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

func TestWeightGradChunk(t *testing.T) {
	big := int64(1 << 20) // copies far above 4 results
	for _, c := range []struct {
		batch, copies, result, want int64
	}{
		{1, big, 1, 1},
		{2, big, 1, 1},
		{8, big, 1, 1},
		{9, big, 1, 1},
		{15, big, 1, 1},
		{16, big, 1, 2},
		{32, big, 1, 4},
		{33, big, 1, 4},
		{32, 400, 100, 4},
		{32, 399, 100, 32}, // copies < 4 results: one chunk
		{4, 10, 3, 4},
		{0, big, 1, 1},
	} {
		if got := weightGradChunk(c.batch, c.copies, c.result); got != c.want {
			t.Errorf("weightGradChunk(%d, %d, %d) = %d, want %d", c.batch, c.copies, c.result, got, c.want)
		}
	}
}

// TestWeightGradChunks checks the emitted weight gradient of a Conv: one
// correlation per batch chunk, the chunks covering the batch in order, and
// each chunk's nodes consecutive (slice, swap, slice, swap, correlate, add).
func TestWeightGradChunks(t *testing.T) {
	for _, c := range []struct {
		batch, group int64
		chunks       [][2]int64 // [lo, hi) per chunk; nil: unchunked
		copies       int        // Transpose nodes swapping batch and channel axes
	}{
		{1, 1, nil, 0},
		{4, 1, [][2]int64{{0, 1}, {1, 2}, {2, 3}, {3, 4}}, 0},                                                    // one sample: Reshapes
		{17, 1, [][2]int64{{0, 2}, {2, 4}, {4, 6}, {6, 8}, {8, 10}, {10, 12}, {12, 14}, {14, 16}, {16, 17}}, 16}, // the last chunk has one sample
		{3, 2, [][2]int64{{0, 1}, {1, 2}, {2, 3}}, 3},                                                            // groups interleave: one copy of in
	} {
		t.Run(fmt.Sprintf("batch%d_group%d", c.batch, c.group), func(t *testing.T) {
			g := build.New("conv")
			g.Input("x", f32, []int64{c.batch, 4, 9, 9})
			g.Initializer(build.Float32s("w", []int64{6, 4 / c.group, 3, 3}, make([]float32, 6*4/c.group*9)))
			g.Node("Conv", "conv", []string{"x", "w"}, []string{"y"}, build.AttrInts("strides", 2, 2), build.AttrInt("group", c.group))
			g.Output("y", f32, []int64{c.batch, 6, 4, 4})
			tm, err := Build(&onnx.Model{Proto: build.Model(g.G, 17)}, Options{Loss: "sum"})
			if err != nil {
				t.Fatal(err)
			}
			ints := map[string][]int64{}
			for _, in := range tm.Proto.Graph.Initializer {
				if in.GetDataType() == int32(onnxpb.TensorProto_INT64) {
					for i := 0; i+8 <= len(in.RawData); i += 8 {
						ints[in.GetName()] = append(ints[in.GetName()], int64(binary.LittleEndian.Uint64(in.RawData[i:])))
					}
				}
			}
			var seq []string
			var got [][2]int64
			corr, copies := 0, 0
			for _, n := range tm.Proto.Graph.Node {
				base, ok := strings.CutPrefix(n.GetName(), "Grad/conv/")
				if !ok {
					continue
				}
				if n.GetOpType() == "Transpose" && !strings.HasPrefix(base, "dW") && !strings.HasPrefix(base, "W_") {
					copies++
				}
				switch {
				case strings.HasPrefix(base, "in_chunk"):
					got = append(got, [2]int64{ints[n.Input[1]][0], ints[n.Input[2]][0]})
					seq = append(seq, "in_chunk")
				case strings.HasPrefix(base, "out_chunk"):
					seq = append(seq, "out_chunk")
				case strings.HasPrefix(base, "dW_acc"):
					seq = append(seq, "dW_acc")
				case strings.HasPrefix(base, "dW_corr"):
					seq = append(seq, "dW_corr")
					corr++
				}
			}
			if copies != c.copies {
				t.Errorf("%d Transpose copies of in/out, want %d", copies, c.copies)
			}
			if c.chunks == nil {
				if corr != 1 || len(got) != 0 {
					t.Fatalf("unchunked: %d correlations, %d chunk slices; want 1, 0", corr, len(got))
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(c.chunks) {
				t.Errorf("chunks %v, want %v", got, c.chunks)
			}
			var want []string
			for i := range c.chunks {
				want = append(want, "in_chunk", "out_chunk", "dW_corr")
				if i > 0 {
					want = append(want, "dW_acc")
				}
			}
			if strings.Join(seq, " ") != strings.Join(want, " ") {
				t.Errorf("order\n got %v\nwant %v", seq, want)
			}
		})
	}
}
